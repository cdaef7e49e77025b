import { Inject, Injectable } from '@nestjs/common';
import { DataSource, In, type EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import { DomainEvents } from '../common/domain-events.js';
import { newId } from '../common/ids.js';
import { orgPageById, type Page } from '../common/pagination.js';
import { NotFoundError, ValidationFailedError } from '../common/problem.js';
import { PolicyResources } from '../policy/policy-resources.js';
import { queryBuilderBinder, type SqlAttributes } from '../policy/policy-sql.js';
import { PolicyService } from '../policy/policy.service.js';
import type { UserActor } from './actor.js';
import type { TeamBody, TeamView } from './identity.schemas.js';
import { Team } from './team.entity.js';

export function teamView(team: Team): TeamView {
  return { id: team.id, orgId: team.orgId, name: team.name, createdAt: team.createdAt.toISOString(), updatedAt: team.updatedAt.toISOString() };
}

/** What policy conditions on a Team may name. */
export function teamAttributes(team: Team): Record<string, unknown> {
  return { id: team.id, orgId: team.orgId, name: team.name };
}

/** teamAttributes as SQL over a query's `r` alias (rulesToSql). */
export const TEAM_SQL_ATTRIBUTES: SqlAttributes = {
  id: { type: 'text', sql: 'r.id', uuid: true },
  orgId: { type: 'text', sql: 'r.org_id', uuid: true },
  name: { type: 'text', sql: 'r.name' },
};

/** Teams of the caller's org; another org's team answers 404. */
@Injectable()
export class TeamsService {
  constructor(
    @Inject(DataSource) private readonly db: DataSource,
    @Inject(PolicyService) private readonly policy: PolicyService,
    @Inject(AuditService) private readonly audit: AuditService,
    @Inject(DomainEvents) private readonly events: DomainEvents,
    @Inject(PolicyResources) resources: PolicyResources,
  ) {
    resources.registerAttributes('Team', async (actor, id) => teamAttributes(await this.get(actor, id)));
  }

  async list(actor: UserActor, limit: number, cursor?: string): Promise<Page<TeamView>> {
    return orgPageById(this.db.getRepository(Team), actor.orgId, limit, cursor, teamView, async (qb) => {
      qb.andWhere(await this.policy.readFilter(actor, 'Team', TEAM_SQL_ATTRIBUTES, queryBuilderBinder(qb)));
    });
  }

  async get(actor: UserActor, id: string): Promise<Team> {
    const team = await this.db.getRepository(Team).findOneBy({ id, orgId: actor.orgId });
    if (!team) throw new NotFoundError('Team', id);
    return team;
  }

  async create(actor: UserActor, body: TeamBody): Promise<Team> {
    return this.db.transaction(async (manager) => {
      const team = manager.getRepository(Team).create({ id: newId(), orgId: actor.orgId, name: body.name });
      await manager.getRepository(Team).save(team);
      await this.audit.record(manager, { orgId: actor.orgId, actor, action: 'team.create', resource: { type: 'Team', id: team.id }, details: { name: team.name } });
      return team;
    });
  }

  async rename(actor: UserActor, id: string, body: TeamBody): Promise<Team> {
    return this.db.transaction(async (manager) => {
      const team = await this.lock(manager, actor, id);
      const decision = await this.policy.assert(actor, 'update', 'Team', teamAttributes(team));
      const from = team.name;
      team.name = body.name;
      await manager.getRepository(Team).save(team);
      await this.audit.record(manager, {
        orgId: actor.orgId,
        actor,
        action: 'team.update',
        resource: { type: 'Team', id },
        policy: decision,
        details: { name: { from, to: team.name } },
      });
      return team;
    });
  }

  /** Its members leave it with it: each is decided anew (`member.changed`). */
  async remove(actor: UserActor, id: string): Promise<void> {
    const left = await this.db.transaction(async (manager) => {
      const team = await this.lock(manager, actor, id);
      const decision = await this.policy.assert(actor, 'delete', 'Team', teamAttributes(team));
      const members = ((await manager.query('SELECT member_id FROM member_teams WHERE team_id = $1', [id])) as { member_id: string }[]).map((m) => m.member_id);
      await manager.getRepository(Team).delete({ id, orgId: actor.orgId });
      await this.audit.record(manager, {
        orgId: actor.orgId,
        actor,
        action: 'team.delete',
        resource: { type: 'Team', id },
        policy: decision,
        details: { name: team.name },
      });
      if (!members.length) return [];
      // Their teams as they are now, sorted as a member's teamIds are.
      return (await manager.query(
        `SELECT m.id, m.role, ARRAY(SELECT mt.team_id::text FROM member_teams mt WHERE mt.member_id = m.id ORDER BY mt.team_id::text COLLATE "C") AS "teamIds"
           FROM members m WHERE m.id = ANY($1::uuid[]) AND m.deactivated_at IS NULL`,
        [members],
      )) as { id: string; role: UserActor['role']; teamIds: string[] }[];
    });
    for (const member of left) this.events.publish('member.changed', { orgId: actor.orgId, memberId: member.id, role: member.role, teamIds: member.teamIds });
  }

  private async lock(manager: EntityManager, actor: UserActor, id: string): Promise<Team> {
    const team = await manager.getRepository(Team).findOne({ where: { id, orgId: actor.orgId }, lock: { mode: 'pessimistic_write' } });
    if (!team) throw new NotFoundError('Team', id);
    return team;
  }

  /** A team id named in a request (one field, not a list) must be a team of the caller's org. */
  async assertTeamInOrg(manager: EntityManager, orgId: string, teamId: string): Promise<void> {
    if (!(await manager.getRepository(Team).existsBy({ id: teamId, orgId }))) {
      throw new ValidationFailedError([{ path: 'teamId', message: `no team ${teamId} in this org` }]);
    }
  }

  /** Team ids named in a request must be teams of the caller's org. */
  async assertTeamsInOrg(manager: EntityManager, orgId: string, teamIds: string[], field = 'teamIds'): Promise<void> {
    if (teamIds.length === 0) return;
    const found = await manager.getRepository(Team).findBy({ id: In(teamIds), orgId });
    const known = new Set(found.map((t) => t.id));
    const errors = teamIds.flatMap((id, i) => (known.has(id) ? [] : [{ path: `${field}.${i}`, message: `no team ${id} in this org` }]));
    if (errors.length) throw new ValidationFailedError(errors);
  }
}
