import { Inject, Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import type { RequestContext } from '../common/request-context.js';
import { newId } from '../common/ids.js';
import { DomainEvents } from '../common/domain-events.js';
import { CsrfRejectedError, InvalidCredentialsError, NotFoundError, UnauthenticatedError } from '../common/problem.js';
import { RefreshingCache } from '../common/refreshing-cache.js';
import { hashSecret, newSecret } from '../common/secrets.js';
import { queryRows } from '../database/query-rows.js';
import { AccessToken } from './access-token.entity.js';
import type { AgentActor, Principal, ShareViewer, UserActor } from './actor.js';
import { Member, type Role } from './member.entity.js';
import { DUMMY_PASSWORD_HASH } from './passwords.js';
import { PasswordsService } from './passwords.service.js';
import { Session } from './session.entity.js';
import { SignInLimitsService } from './sign-in-limits.service.js';
import type { TokenView } from './identity.schemas.js';

export const PAT_PREFIX = 'vtr_pat_';
export const REPORTER_PREFIX = 'vtr_run_';
export const SESSION_COOKIE = 'vitrine_session';
export const SHARE_PREFIX = 'vtr_shr_';
export const SESSION_TTL_SECONDS = 12 * 3600;
const DEFAULT_TOKEN_TTL_SECONDS = 90 * 24 * 3600;
const UNKNOWN_REPORTER_TOKEN = 'The reporter token is unknown, or its run ended too long ago';

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

/** A member as the audit log names them, for changes made before a request actor exists (login, token by password). */
const memberActor = (member: { id: string; name: string }) => ({ type: 'user' as const, id: member.id, name: member.name });

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

/** What a caller presented: a token (bearer header, Socket.IO `auth.token`) or the session cookie. */
export interface PresentedCredentials {
  token?: string;
  session?: string;
  /** Whether a session cookie may act here: the request comes from this origin, or changes nothing. */
  cookieAllowed: boolean;
}

/** Credentials: passwords, sessions and personal access tokens. */
@Injectable()
export class AuthService {
  constructor(
    @Inject(DataSource) private readonly db: DataSource,
    @Inject(AuditService) private readonly audit: AuditService,
    @Inject(PasswordsService) private readonly passwords: PasswordsService,
    @Inject(SignInLimitsService) private readonly limits: SignInLimitsService,
    @Inject(DomainEvents) private readonly events: DomainEvents,
  ) {}

  /** Share links are sharing's: it tells the verifier how to read one (identity cannot import sharing). */
  private shareTokens: ((token: string) => Promise<ShareViewer>) | undefined;

  registerShareTokens(resolve: (token: string) => Promise<ShareViewer>): void {
    this.shareTokens = resolve;
  }

  /**
   * The one credential check, for HTTP requests and Socket.IO handshakes alike:
   * a token wins over the cookie; a cookie from another origin is refused.
   * Null when nothing was presented; anything invalid is 401.
   */
  async verify(credentials: PresentedCredentials): Promise<Principal | null> {
    const { token, session } = credentials;
    if (token !== undefined) {
      if (token.startsWith(SHARE_PREFIX) && this.shareTokens) return this.shareTokens(token);
      return this.actorForToken(token);
    }
    if (session) {
      if (!credentials.cookieAllowed) throw new CsrfRejectedError();
      return this.actorForSession(session);
    }
    return null;
  }

  /**
   * The same answer, and about the same time, for an unknown email as for a
   * wrong password; both count against the sign-in limits alike. A wrong
   * password for a known member is audited in that member's org (an unknown
   * email belongs to no org's log). Refused 429 while the account or the
   * address is blocked, before any password is hashed.
   */
  async checkPassword(email: string, password: string, purpose: 'session' | 'token', context: RequestContext): Promise<Member> {
    this.passwords.assertCapacity();
    const attempt = await this.limits.begin(email, context);
    let member: Member | null;
    let ok: boolean;
    try {
      member = await this.db
        .getRepository(Member)
        .createQueryBuilder('m')
        .where('m.email = :email AND m.deactivated_at IS NULL', { email: email.toLowerCase() })
        .getOne();
      ok = await this.passwords.verify(member?.passwordHash ?? DUMMY_PASSWORD_HASH, password);
    } catch (error) {
      await attempt.abandoned();
      throw error;
    }
    if (member && ok) {
      await attempt.succeeded();
      return member;
    }
    if (member) {
      await this.audit.recordNow({
        orgId: member.orgId,
        actor: { type: 'public', id: null, name: null },
        action: 'auth.login',
        resource: { type: 'Member', id: member.id },
        outcome: 'denied',
        reason: 'wrong password',
        policy: null,
        details: { email: member.email, for: purpose },
        context,
      });
    }
    await attempt.failed(member);
    throw new InvalidCredentialsError();
  }

  async teamIdsOf(memberId: string): Promise<string[]> {
    const rows: { team_id: string }[] = await this.db.query('SELECT team_id FROM member_teams WHERE member_id = $1 ORDER BY team_id', [memberId]);
    return rows.map((r) => r.team_id);
  }

  async createSession(member: Member, context: RequestContext): Promise<{ secret: string; expiresAt: Date }> {
    const secret = newSecret('vtr_ses_');
    const expiresAt = new Date(Date.now() + SESSION_TTL_SECONDS * 1000);
    const id = newId();
    await this.db.transaction(async (manager) => {
      await manager.getRepository(Session).insert({ id, memberId: member.id, tokenHash: hashSecret(secret), expiresAt });
      await this.audit.record(manager, {
        orgId: member.orgId,
        actor: memberActor(member),
        action: 'auth.login',
        resource: { type: 'Member', id: member.id },
        policy: null,
        details: { email: member.email, sessionId: id },
        context,
      });
    });
    return { secret, expiresAt };
  }

  async endSession(secret: string, context: RequestContext): Promise<void> {
    const sessions = await this.db.transaction(async (manager) => {
      const ended = await queryRows<{ id: string; member_id: string; org_id: string; name: string }>(
        manager,
        `DELETE FROM sessions s USING members m WHERE s.token_hash = $1 AND m.id = s.member_id RETURNING s.id, s.member_id, m.org_id, m.name`,
        [hashSecret(secret)],
      );
      for (const session of ended) {
        await this.audit.record(manager, {
          orgId: session.org_id,
          actor: memberActor({ id: session.member_id, name: session.name }),
          action: 'auth.logout',
          resource: { type: 'Member', id: session.member_id },
          policy: null,
          details: { sessionId: session.id },
          context,
        });
      }
      return ended;
    });
    for (const session of sessions) this.events.publish('session.ended', { orgId: session.org_id, memberId: session.member_id, sessionId: session.id });
  }

  async createToken(
    member: { id: string; orgId: string; name: string },
    name: string,
    expiresInSeconds: number | undefined,
    via: 'password' | 'token' | 'session',
    context: RequestContext,
  ) {
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
    await this.db.transaction(async (manager) => {
      await manager.getRepository(AccessToken).insert(token);
      await this.audit.record(manager, {
        orgId: member.orgId,
        actor: memberActor(member),
        action: 'token.create',
        resource: { type: 'Token', id: token.id },
        policy: null,
        details: { name, expiresAt: token.expiresAt.toISOString(), via },
        context,
      });
    });
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
    const revoked = await this.db.transaction(async (manager: EntityManager) => {
      const [token]: { name: string; revoked: boolean }[] = await manager.query(
        `SELECT name, revoked_at IS NOT NULL AS revoked FROM access_tokens WHERE id = $1 AND member_id = $2 FOR UPDATE`,
        [id, actor.id],
      );
      if (!token) throw new NotFoundError('Token', id);
      // Revoking twice is not a second change.
      if (token.revoked) return false;
      await manager.query(`UPDATE access_tokens SET revoked_at = now() WHERE id = $1`, [id]);
      await this.audit.record(manager, { orgId: actor.orgId, actor, action: 'token.revoke', resource: { type: 'Token', id }, policy: null, details: { name: token.name } });
      return true;
    });
    if (revoked) this.events.publish('token.revoked', { orgId: actor.orgId, memberId: actor.id, tokenId: id });
  }

  /**
   * Agents post often; their token's run is looked up at most every few
   * seconds, and ahead of time while they keep posting (see RefreshingCache).
   * A reporter token only ever ends (an hour after its run), so a cached
   * answer is at worst a few seconds late. Keyed by the token's hash.
   */
  private readonly reporters = new RefreshingCache<string, { actor: AgentActor; expiresAt: number | null }, Buffer>({
    max: 10_000,
    ttlMs: 5_000,
    refreshAheadMs: 1_000,
    load: (_key, tokenHash) => this.readReporter(tokenHash),
  });

  /** A run's reporter token: valid while the run goes on, and for a grace period after it ends. */
  async actorForReporterToken(secret: string): Promise<AgentActor> {
    const tokenHash = hashSecret(secret);
    const { actor, expiresAt } = await this.reporters.get(tokenHash.toString('base64'), tokenHash);
    if (expiresAt !== null && expiresAt <= Date.now()) throw new UnauthenticatedError(UNKNOWN_REPORTER_TOKEN);
    return actor;
  }

  private async readReporter(tokenHash: Buffer): Promise<{ actor: AgentActor; expiresAt: number | null }> {
    // Prepared, as every lookup on the ingest path: planned once per connection.
    const rows = await queryRows<{ id: string; org_id: string; title: string; reporter_expires_at: Date | null; policy_version_id: string | null }>(
      this.db.manager,
      `SELECT r.id, r.org_id, r.title, r.reporter_expires_at,
              (SELECT ap.version_id FROM active_policies ap WHERE ap.org_id = r.org_id) AS policy_version_id
         FROM runs r WHERE r.reporter_token_hash = $1`,
      [tokenHash],
      'vitrine_reporter_token',
    );
    const row = rows[0];
    if (!row) throw new UnauthenticatedError(UNKNOWN_REPORTER_TOKEN);
    const actor: AgentActor = {
      type: 'agent',
      id: row.id,
      runId: row.id,
      orgId: row.org_id,
      name: `reporter of run "${row.title}"`,
      role: 'reporter',
      teamIds: [],
      installationAdmin: false,
      via: 'reporter',
      credentialId: row.id,
      policyVersionId: row.policy_version_id,
    };
    return { actor, expiresAt: row.reporter_expires_at?.getTime() ?? null };
  }

  /** Resolves `Authorization: Bearer vtr_pat_…` (or a reporter token); anything invalid, expired or revoked is 401. */
  async actorForToken(secret: string): Promise<UserActor | AgentActor> {
    if (secret.startsWith(REPORTER_PREFIX)) return this.actorForReporterToken(secret);
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
    expiresAt: row.expires_at,
    policyVersionId: row.policy_version_id,
  };
}
