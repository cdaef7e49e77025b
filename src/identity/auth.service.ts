import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { newId } from '../common/ids.js';
import { InvalidCredentialsError, NotFoundError, UnauthenticatedError } from '../common/problem.js';
import { hashSecret, newSecret } from '../common/secrets.js';
import { AccessToken } from './access-token.entity.js';
import type { UserActor } from './actor.js';
import { Member, type Role } from './member.entity.js';
import { DUMMY_PASSWORD_HASH, verifyPassword } from './passwords.js';
import { Session } from './session.entity.js';
import type { TokenView } from './identity.schemas.js';

export const PAT_PREFIX = 'vtr_pat_';
export const SESSION_COOKIE = 'vitrine_session';
export const SESSION_TTL_SECONDS = 12 * 3600;
const DEFAULT_TOKEN_TTL_SECONDS = 90 * 24 * 3600;

interface ActorRow {
  credential_id: string;
  expires_at: Date;
  revoked_at: Date | null;
  id: string;
  org_id: string;
  email: string;
  name: string;
  role: Role;
  installation_admin: boolean;
  team_ids: string[];
  policy_version_id: string | null;
}

const ACTOR_COLUMNS = `m.id, m.org_id, m.email, m.name, m.role, m.installation_admin,
  COALESCE((SELECT array_agg(mt.team_id ORDER BY mt.team_id) FROM member_teams mt WHERE mt.member_id = m.id), '{}') AS team_ids,
  (SELECT ap.version_id FROM active_policies ap WHERE ap.org_id = m.org_id) AS policy_version_id`;

export function tokenView(token: AccessToken): TokenView {
  return {
    id: token.id,
    name: token.name,
    expiresAt: token.expiresAt.toISOString(),
    revokedAt: token.revokedAt?.toISOString() ?? null,
    lastUsedAt: token.lastUsedAt?.toISOString() ?? null,
    createdAt: token.createdAt.toISOString(),
  };
}

/** Credentials: passwords, sessions and personal access tokens. */
@Injectable()
export class AuthService {
  constructor(@Inject(DataSource) private readonly db: DataSource) {}

  /** The same answer, and about the same time, for an unknown email as for a wrong password. */
  async checkPassword(email: string, password: string): Promise<Member> {
    const member = await this.db
      .getRepository(Member)
      .createQueryBuilder('m')
      .where('m.email = :email AND m.deactivated_at IS NULL', { email: email.toLowerCase() })
      .getOne();
    const ok = await verifyPassword(member?.passwordHash ?? DUMMY_PASSWORD_HASH, password);
    if (!member || !ok) throw new InvalidCredentialsError();
    return member;
  }

  async teamIdsOf(memberId: string): Promise<string[]> {
    const rows: { team_id: string }[] = await this.db.query('SELECT team_id FROM member_teams WHERE member_id = $1 ORDER BY team_id', [memberId]);
    return rows.map((r) => r.team_id);
  }

  async createSession(memberId: string): Promise<{ secret: string; expiresAt: Date }> {
    const secret = newSecret('vtr_ses_');
    const expiresAt = new Date(Date.now() + SESSION_TTL_SECONDS * 1000);
    await this.db.getRepository(Session).insert({ id: newId(), memberId, tokenHash: hashSecret(secret), expiresAt });
    return { secret, expiresAt };
  }

  async endSession(secret: string): Promise<void> {
    await this.db.getRepository(Session).delete({ tokenHash: hashSecret(secret) });
  }

  async createToken(member: { id: string; orgId: string }, name: string, expiresInSeconds?: number) {
    const secret = newSecret(PAT_PREFIX);
    const token = this.db.getRepository(AccessToken).create({
      id: newId(),
      orgId: member.orgId,
      memberId: member.id,
      name,
      tokenHash: hashSecret(secret),
      expiresAt: new Date(Date.now() + (expiresInSeconds ?? DEFAULT_TOKEN_TTL_SECONDS) * 1000),
      revokedAt: null,
      lastUsedAt: null,
    });
    await this.db.getRepository(AccessToken).insert(token);
    return { id: token.id, name, token: secret, expiresAt: token.expiresAt.toISOString(), createdAt: token.createdAt.toISOString() };
  }

  async listTokens(actor: UserActor, limit: number, after?: string) {
    const qb = this.db
      .getRepository(AccessToken)
      .createQueryBuilder('t')
      .where('t.member_id = :memberId', { memberId: actor.id })
      .orderBy('t.id', 'DESC')
      .limit(limit + 1);
    if (after) qb.andWhere('t.id < :after', { after });
    return qb.getMany();
  }

  async revokeToken(actor: UserActor, id: string): Promise<void> {
    const result = await this.db
      .getRepository(AccessToken)
      .createQueryBuilder()
      .update()
      .set({ revokedAt: () => 'COALESCE(revoked_at, now())' })
      .where('id = :id AND member_id = :memberId', { id, memberId: actor.id })
      .execute();
    if (!result.affected) throw new NotFoundError('Token', id);
  }

  /** Resolves `Authorization: Bearer vtr_pat_…`; anything invalid, expired or revoked is 401. */
  async actorForToken(secret: string): Promise<UserActor> {
    if (!secret.startsWith(PAT_PREFIX)) throw new UnauthenticatedError('The bearer token is not a Vitrine token');
    const rows: ActorRow[] = await this.db.query(
      `SELECT t.id AS credential_id, t.expires_at, t.revoked_at, ${ACTOR_COLUMNS}
         FROM access_tokens t JOIN members m ON m.id = t.member_id
        WHERE t.token_hash = $1 AND m.deactivated_at IS NULL`,
      [hashSecret(secret)],
    );
    const row = rows[0];
    if (!row || row.revoked_at || row.expires_at.getTime() <= Date.now()) {
      throw new UnauthenticatedError('The token is unknown, expired or revoked');
    }
    // At most one write a minute per token, not one per request.
    void this.db
      .query(`UPDATE access_tokens SET last_used_at = now() WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`, [
        row.credential_id,
      ])
      .catch(() => undefined);
    return toActor(row, 'token');
  }

  async actorForSession(secret: string): Promise<UserActor> {
    const rows: ActorRow[] = await this.db.query(
      `SELECT s.id AS credential_id, s.expires_at, NULL AS revoked_at, ${ACTOR_COLUMNS}
         FROM sessions s JOIN members m ON m.id = s.member_id
        WHERE s.token_hash = $1 AND m.deactivated_at IS NULL`,
      [hashSecret(secret)],
    );
    const row = rows[0];
    if (!row || row.expires_at.getTime() <= Date.now()) throw new UnauthenticatedError('The session has expired; log in again');
    return toActor(row, 'session');
  }
}

function toActor(row: ActorRow, via: UserActor['via']): UserActor {
  return {
    type: 'user',
    id: row.id,
    orgId: row.org_id,
    email: row.email,
    name: row.name,
    role: row.role,
    teamIds: row.team_ids,
    installationAdmin: row.installation_admin,
    via,
    credentialId: row.credential_id,
    policyVersionId: row.policy_version_id,
  };
}
