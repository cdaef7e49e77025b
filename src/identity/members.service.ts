import { Inject, Injectable } from '@nestjs/common';
import { DataSource, IsNull, type EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import { DomainEvents } from '../common/domain-events.js';
import { newId } from '../common/ids.js';
import { decodeCursor, toPage, type Page } from '../common/pagination.js';
import { ConflictError, NotFoundError } from '../common/problem.js';
import type { PolicyActor } from '../policy/policy-engine.js';
import { PolicyResources } from '../policy/policy-resources.js';
import { queryBuilderBinder, type SqlAttributes } from '../policy/policy-sql.js';
import { PolicyService } from '../policy/policy.service.js';
import { AccessToken } from './access-token.entity.js';
import type { UserActor } from './actor.js';
import { IdSchema, type CreateMemberBody, type MemberView, type UpdateMemberBody } from './identity.schemas.js';
import { Member, type Role } from './member.entity.js';
import { PasswordsService } from './passwords.service.js';
import { Session } from './session.entity.js';
import { TeamsService } from './teams.service.js';

export function memberView(member: Member): MemberView {
  return {
    id: member.id,
    orgId: member.orgId,
    email: member.email,
    name: member.name,
    role: member.role,
    teamIds: (member.teams ?? []).map((t) => t.id).sort(),
    deactivatedAt: member.deactivatedAt?.toISOString() ?? null,
    createdAt: member.createdAt.toISOString(),
    updatedAt: member.updatedAt.toISOString(),
  };
}

/** What policy conditions on a Member may name. */
export function memberAttributes(member: Member): Record<string, unknown> {
  return { id: member.id, orgId: member.orgId, role: member.role, email: member.email, teamIds: teamIdsOf(member) };
}

/** A member as policy sees its actors (explain as another member, the dry run's link makers); load it with its teams. */
export function memberAsPolicyActor(member: Member): PolicyActor {
  return { id: member.id, orgId: member.orgId, role: member.role, teamIds: teamIdsOf(member), installationAdmin: member.installationAdmin };
}

const teamIdsOf = (member: Member): string[] => (member.teams ?? []).map((t) => t.id).sort();

/** memberAttributes as SQL over a query's `m` alias (rulesToSql); team ids sorted as teamIdsOf sorts them. */
export const MEMBER_SQL_ATTRIBUTES: SqlAttributes = {
  id: { type: 'text', sql: 'm.id', uuid: true },
  orgId: { type: 'text', sql: 'm.org_id', uuid: true },
  role: { type: 'text', sql: 'm.role' },
  email: { type: 'text', sql: 'm.email' },
  teamIds: { type: 'text[]', sql: `ARRAY(SELECT mt.team_id::text FROM member_teams mt WHERE mt.member_id = m.id ORDER BY mt.team_id::text COLLATE "C")` },
};

/** Members of the caller's org; another org's member answers 404. */
@Injectable()
export class MembersService {
  constructor(
    @Inject(DataSource) private readonly db: DataSource,
    @Inject(TeamsService) private readonly teams: TeamsService,
    @Inject(PolicyService) private readonly policy: PolicyService,
    @Inject(AuditService) private readonly audit: AuditService,
    @Inject(PasswordsService) private readonly passwords: PasswordsService,
    @Inject(DomainEvents) private readonly events: DomainEvents,
    @Inject(PolicyResources) resources: PolicyResources,
  ) {
    resources.registerAttributes('Member', async (actor, id) => memberAttributes(await this.get(actor, id)));
    resources.registerAdmins(async (manager, orgId) => [...(await this.activeAsPolicyActors(manager, orgId, { role: 'admin' })).values()]);
  }

  /**
   * Active members of the org as policy sees them (link makers, admins), by
   * id, in the caller's transaction; a deactivated or unknown id is absent.
   */
  async activeAsPolicyActors(manager: EntityManager, orgId: string, which: { ids: readonly string[] } | { role: Role }): Promise<Map<string, PolicyActor>> {
    if ('ids' in which && which.ids.length === 0) return new Map();
    const qb = manager.getRepository(Member).createQueryBuilder('m').leftJoinAndSelect('m.teams', 't').where('m.org_id = :orgId AND m.deactivated_at IS NULL', { orgId });
    if ('ids' in which) qb.andWhere('m.id IN (:...ids)', { ids: which.ids });
    else qb.andWhere('m.role = :role', { role: which.role });
    return new Map((await qb.getMany()).map((m) => [m.id, memberAsPolicyActor(m)]));
  }

  /** An active member's display name (never the email), for what a link's viewer is told; null when not an active member of the org. */
  async activeName(orgId: string, id: string): Promise<string | null> {
    const member = await this.db.getRepository(Member).findOne({ select: { name: true }, where: { id, orgId, deactivatedAt: IsNull() } });
    return member?.name ?? null;
  }

  async list(actor: UserActor, limit: number, cursor: string | undefined, includeDeactivated: boolean): Promise<Page<MemberView>> {
    const after = decodeCursor(cursor, IdSchema);
    // Page over ids first, then load teams, so LIMIT counts members, not join rows.
    const idsQuery = this.db
      .getRepository(Member)
      .createQueryBuilder('m')
      .select('m.id', 'id')
      .where('m.org_id = :orgId', { orgId: actor.orgId })
      .orderBy('m.id')
      .limit(limit + 1);
    if (!includeDeactivated) idsQuery.andWhere('m.deactivated_at IS NULL');
    if (after) idsQuery.andWhere('m.id > :after', { after });
    idsQuery.andWhere(await this.policy.readFilter(actor, 'Member', MEMBER_SQL_ATTRIBUTES, queryBuilderBinder(idsQuery)));
    const ids = (await idsQuery.getRawMany<{ id: string }>()).map((r) => r.id);
    const members = ids.length
      ? await this.db.getRepository(Member).find({ where: ids.map((id) => ({ id })), relations: { teams: true }, order: { id: 'ASC' } })
      : [];
    return toPage(members, limit, memberView, (m) => m.id);
  }

  async get(actor: UserActor, id: string, manager: EntityManager = this.db.manager): Promise<Member> {
    const member = await manager.getRepository(Member).findOne({ where: { id, orgId: actor.orgId }, relations: { teams: true } });
    if (!member) throw new NotFoundError('Member', id);
    return member;
  }

  async create(actor: UserActor, body: CreateMemberBody): Promise<Member> {
    const passwordHash = await this.passwords.hash(body.password);
    return this.db.transaction(async (manager) => {
      await this.teams.assertTeamsInOrg(manager, actor.orgId, body.teamIds ?? []);
      const id = newId();
      await manager.getRepository(Member).insert({
        id,
        orgId: actor.orgId,
        email: body.email,
        name: body.name,
        role: body.role,
        passwordHash,
        installationAdmin: false,
        deactivatedAt: null,
      });
      await this.setTeams(manager, id, body.teamIds ?? []);
      await this.audit.record(manager, {
        orgId: actor.orgId,
        actor,
        action: 'member.create',
        resource: { type: 'Member', id },
        details: { email: body.email.toLowerCase(), role: body.role, teamIds: body.teamIds ?? [] },
      });
      return this.get(actor, id, manager);
    });
  }

  async update(actor: UserActor, id: string, body: UpdateMemberBody): Promise<Member> {
    const passwordHash = body.password === undefined ? undefined : await this.passwords.hash(body.password);
    const result = await this.db.transaction(async (manager) => {
      const member = await this.lockActive(manager, actor, id);
      const decision = await this.policy.assert(actor, 'update', 'Member', memberAttributes(member));
      if (body.role !== undefined && body.role !== 'admin' && member.role === 'admin') await this.assertAnotherAdmin(manager, member);
      if (body.teamIds) await this.teams.assertTeamsInOrg(manager, actor.orgId, body.teamIds);
      const changes: Partial<Member> = {};
      if (body.name !== undefined) changes.name = body.name;
      if (body.role !== undefined) changes.role = body.role as Role;
      if (passwordHash !== undefined) changes.passwordHash = passwordHash;
      if (Object.keys(changes).length) await manager.getRepository(Member).update({ id }, changes);
      else await manager.getRepository(Member).update({ id }, { updatedAt: new Date() });
      if (body.teamIds) await this.setTeams(manager, id, body.teamIds);
      // A new password ends every browser session of that member.
      if (passwordHash !== undefined) await manager.getRepository(Session).delete({ memberId: id });
      const updated = await this.get(actor, id, manager);
      await this.audit.record(manager, {
        orgId: actor.orgId,
        actor,
        action: 'member.update',
        resource: { type: 'Member', id },
        policy: decision,
        // Which fields changed, and role and team moves; never the password itself.
        details: {
          changed: Object.keys(body).sort(),
          ...(body.role !== undefined && body.role !== member.role ? { role: { from: member.role, to: body.role } } : {}),
          ...(body.teamIds ? { teamIds: { from: memberAttributes(member).teamIds, to: memberAttributes(updated).teamIds } } : {}),
        },
      });
      const [from, to] = [memberAttributes(member), memberAttributes(updated)];
      return { updated, changed: from.role !== to.role || JSON.stringify(from.teamIds) !== JSON.stringify(to.teamIds) };
    });
    if (result.changed) this.events.publish('member.changed', { orgId: actor.orgId, memberId: id, role: result.updated.role, teamIds: teamIdsOf(result.updated) });
    return result.updated;
  }

  /** Deactivates: the member can no longer log in, and every token and session ends. */
  async deactivate(actor: UserActor, id: string): Promise<void> {
    await this.db.transaction(async (manager) => {
      const member = await this.lockActive(manager, actor, id);
      const decision = await this.policy.assert(actor, 'delete', 'Member', memberAttributes(member));
      if (member.role === 'admin') await this.assertAnotherAdmin(manager, member);
      await manager.getRepository(Member).update({ id }, { deactivatedAt: new Date() });
      const revoked = await manager
        .getRepository(AccessToken)
        .createQueryBuilder()
        .update()
        .set({ revokedAt: () => 'now()' })
        .where('member_id = :id AND revoked_at IS NULL', { id })
        .execute();
      await manager.getRepository(Session).delete({ memberId: id });
      await this.audit.record(manager, {
        orgId: actor.orgId,
        actor,
        action: 'member.delete',
        resource: { type: 'Member', id },
        policy: decision,
        details: { email: member.email, tokensRevoked: revoked.affected ?? 0 },
      });
    });
    this.events.publish('member.deactivated', { orgId: actor.orgId, memberId: id });
  }

  private async lockActive(manager: EntityManager, actor: UserActor, id: string): Promise<Member> {
    // Changes to an org's members run one at a time, so the last-admin check
    // below cannot be raced by a concurrent demotion (and no row locks deadlock).
    await manager.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`members:${actor.orgId}`]);
    const member = await manager
      .getRepository(Member)
      .createQueryBuilder('m')
      .leftJoinAndSelect('m.teams', 'team')
      .where('m.id = :id AND m.org_id = :orgId AND m.deactivated_at IS NULL', { id, orgId: actor.orgId })
      .getOne();
    if (!member) throw new NotFoundError('Member', id);
    return member;
  }

  /** An org never loses its last active admin (nobody could manage it again). */
  private async assertAnotherAdmin(manager: EntityManager, member: Member): Promise<void> {
    const admins = await manager.query(
      `SELECT id FROM members WHERE org_id = $1 AND role = 'admin' AND deactivated_at IS NULL AND id <> $2`,
      [member.orgId, member.id],
    );
    if (admins.length === 0) throw new ConflictError('This is the last admin of the org; make another member admin first', 'last_admin');
  }

  private async setTeams(manager: EntityManager, memberId: string, teamIds: string[]): Promise<void> {
    await manager.query('DELETE FROM member_teams WHERE member_id = $1', [memberId]);
    if (teamIds.length) {
      await manager.query('INSERT INTO member_teams (member_id, team_id) SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING', [memberId, teamIds]);
    }
  }
}
