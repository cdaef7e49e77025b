import { Inject, Injectable } from '@nestjs/common';
import { DataSource, In, type EntityManager } from 'typeorm';
import { newId } from '../common/ids.js';
import { decodeCursor, toPage, type Page } from '../common/pagination.js';
import { NotFoundError, ValidationFailedError } from '../common/problem.js';
import { PolicyService } from '../policy/policy.service.js';
import type { UserActor } from './actor.js';
import { IdSchema, type TeamBody, type TeamView } from './identity.schemas.js';
import { Team } from './team.entity.js';

export function teamView(team: Team): TeamView {
  return { id: team.id, orgId: team.orgId, name: team.name, createdAt: team.createdAt.toISOString(), updatedAt: team.updatedAt.toISOString() };
}

/** What policy conditions on a Team may name. */
export function teamAttributes(team: Team): Record<string, unknown> {
  return { id: team.id, orgId: team.orgId, name: team.name };
}

/** Teams of the caller's org; another org's team answers 404. */
@Injectable()
export class TeamsService {
  constructor(
    @Inject(DataSource) private readonly db: DataSource,
    @Inject(PolicyService) private readonly policy: PolicyService,
  ) {}

  async list(actor: UserActor, limit: number, cursor?: string): Promise<Page<TeamView>> {
    const after = decodeCursor(cursor, IdSchema);
    const qb = this.db.getRepository(Team).createQueryBuilder('t').where('t.org_id = :orgId', { orgId: actor.orgId }).orderBy('t.id').limit(limit + 1);
    if (after) qb.andWhere('t.id > :after', { after });
    return toPage(await qb.getMany(), limit, teamView, (t) => t.id);
  }

  async get(actor: UserActor, id: string): Promise<Team> {
    const team = await this.db.getRepository(Team).findOneBy({ id, orgId: actor.orgId });
    if (!team) throw new NotFoundError('Team', id);
    return team;
  }

  async create(actor: UserActor, body: TeamBody): Promise<Team> {
    const team = this.db.getRepository(Team).create({ id: newId(), orgId: actor.orgId, name: body.name });
    return this.db.getRepository(Team).save(team);
  }

  async rename(actor: UserActor, id: string, body: TeamBody): Promise<Team> {
    const team = await this.get(actor, id);
    await this.policy.assert(actor, 'update', 'Team', teamAttributes(team));
    team.name = body.name;
    return this.db.getRepository(Team).save(team);
  }

  async remove(actor: UserActor, id: string): Promise<void> {
    const team = await this.get(actor, id);
    await this.policy.assert(actor, 'delete', 'Team', teamAttributes(team));
    const result = await this.db.getRepository(Team).delete({ id, orgId: actor.orgId });
    if (!result.affected) throw new NotFoundError('Team', id);
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
