import { Inject, Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import { DomainEvents } from '../common/domain-events.js';
import { newId } from '../common/ids.js';
import { decodeCursor, encodeCursor, type Page } from '../common/pagination.js';
import { RefreshingCache } from '../common/refreshing-cache.js';
import { AppError, NotFoundError } from '../common/problem.js';
import { hashSecret, newSecret } from '../common/secrets.js';
import { queryRows } from '../database/query-rows.js';
import type { Actor, UserActor } from '../identity/actor.js';
import { REPORTER_PREFIX } from '../identity/auth.service.js';
import { IdSchema } from '../identity/identity.schemas.js';
import { TeamsService } from '../identity/teams.service.js';
import { PolicyResources } from '../policy/policy-resources.js';
import { queryBuilderBinder, type SqlAttributes } from '../policy/policy-sql.js';
import { PolicyService } from '../policy/policy.service.js';
import type { Action } from '../policy/policy.types.js';
import { SkillsService } from '../skills/skills.service.js';
import { assertDag } from './dag.js';
import { RunNode } from './run-node.entity.js';
import { Run } from './run.entity.js';
import type { CreateRunBody, NodeView, RunEventView, RunListQuery, RunView } from './runs.schemas.js';

export function nodeView(node: RunNode): NodeView {
  const view: NodeView = {
    key: node.key,
    title: node.title,
    skill: node.skill,
    dependsOn: node.dependsOn,
    status: node.status,
    reason: node.reason,
    percent: node.percent,
    message: node.message,
    stalled: node.stalled,
    startedAt: node.startedAt?.toISOString() ?? null,
    endedAt: node.endedAt?.toISOString() ?? null,
  };
  if (node.output !== null && node.output !== undefined) view.output = node.output;
  if (node.error) view.error = node.error;
  return view;
}

export function runView(run: Run): RunView {
  return {
    id: run.id,
    title: run.title,
    status: run.status,
    teamId: run.teamId,
    labels: run.labels,
    staleAfterSeconds: run.staleAfterSeconds,
    createdBy: run.createdBy,
    createdAt: run.createdAt.toISOString(),
    updatedAt: run.updatedAt.toISOString(),
    endedAt: run.endedAt?.toISOString() ?? null,
    lastSeq: Number(run.lastSeq),
    nodes: [...(run.nodes ?? [])].sort((a, b) => a.position - b.position).map(nodeView),
  };
}

/** What policy conditions on a Run may name. */
export function runAttributes(run: Pick<Run, 'id' | 'orgId' | 'teamId' | 'createdBy' | 'status' | 'labels' | 'title'>): Record<string, unknown> {
  return { id: run.id, orgId: run.orgId, teamId: run.teamId, createdBy: run.createdBy, status: run.status, labels: run.labels, title: run.title };
}

/** runAttributes as SQL over a query's `r` alias (rulesToSql): the same values for every row. */
export const RUN_SQL_ATTRIBUTES: SqlAttributes = {
  id: { type: 'text', sql: 'r.id', uuid: true },
  orgId: { type: 'text', sql: 'r.org_id', uuid: true },
  teamId: { type: 'text', sql: 'r.team_id', uuid: true, nullable: true },
  createdBy: { type: 'text', sql: 'r.created_by', uuid: true },
  status: { type: 'text', sql: 'r.status' },
  labels: { type: 'object', sql: 'r.labels' },
  title: { type: 'text', sql: 'r.title' },
};

/** DAG runs of the caller's org: creation, reading, listing; their events come through RunIngestService. */
@Injectable()
export class RunsService {
  /**
   * Who may report to a run depends on attributes that never change (creator, team), so checks need not reread the row each time.
   * Keyed by org and run: another org's id is read (and refused) every time, as an unknown one is.
   */
  private readonly attributes = new RefreshingCache<string, Record<string, unknown>, { orgId: string; id: string }>({
    max: 10_000,
    ttlMs: 10_000,
    refreshAheadMs: 2_000,
    load: (_key, run) => this.readAttributes(run.orgId, run.id),
  });

  constructor(
    @Inject(DataSource) private readonly db: DataSource,
    @Inject(PolicyService) private readonly policy: PolicyService,
    @Inject(SkillsService) private readonly skills: SkillsService,
    @Inject(TeamsService) private readonly teams: TeamsService,
    @Inject(AuditService) private readonly audit: AuditService,
    @Inject(PolicyResources) resources: PolicyResources,
    @Inject(DomainEvents) private readonly domainEvents: DomainEvents,
  ) {
    resources.registerAttributes('Run', (actor, id) => this.readAttributes(actor.orgId, id));
  }

  async create(actor: UserActor, body: CreateRunBody): Promise<RunView & { reporterToken: string }> {
    assertDag(body.nodes);
    // Resolve each distinct skill once: `name` to its latest version, `name@version` exactly.
    const refs = [...new Set(body.nodes.map((n) => n.skill))];
    const resolved = new Map(
      await Promise.all(
        refs.map(async (ref) => {
          const [name, version] = ref.split('@') as [string, string | undefined];
          return [ref, await this.skills.resolve(actor.orgId, name, version)] as const;
        }),
      ),
    );
    const unknown = body.nodes.flatMap((n, i) => (resolved.get(n.skill) ? [] : [{ path: `nodes.${i}.skill`, message: `no skill "${n.skill}" in this org` }]));
    const first = body.nodes.find((n) => !resolved.get(n.skill));
    if (first) throw new AppError(400, 'unknown_skill', 'Unknown skill', `Node "${first.key}" names a skill this org does not have`, unknown);

    const token = newSecret(REPORTER_PREFIX);
    const id = newId();
    const run = await this.db.transaction(async (manager) => {
      if (body.teamId) await this.teams.assertTeamInOrg(manager, actor.orgId, body.teamId);
      const decision = await this.policy.assert(actor, 'create', 'Run', { orgId: actor.orgId, teamId: body.teamId ?? null, createdBy: actor.id, labels: body.labels ?? {}, title: body.title, status: 'pending' });
      await manager.getRepository(Run).insert({
        id,
        orgId: actor.orgId,
        title: body.title,
        teamId: body.teamId ?? null,
        labels: body.labels ?? {},
        status: 'pending',
        staleAfterSeconds: body.staleAfterSeconds,
        lastSeq: '0',
        reporterTokenHash: hashSecret(token),
        reporterExpiresAt: null,
        createdBy: actor.id,
        endedAt: null,
      });
      // One multi-row insert for up to 2,000 nodes.
      await manager.query(
        `INSERT INTO run_nodes (run_id, key, position, title, skill_id, skill, depends_on, status)
         SELECT $1, u.key, u.ord - 1, u.title, u.skill_id, u.skill, ARRAY(SELECT jsonb_array_elements_text(u.depends_on)), 'pending'
           FROM unnest($2::text[], $3::text[], $4::uuid[], $5::text[], $6::jsonb[]) WITH ORDINALITY AS u(key, title, skill_id, skill, depends_on, ord)`,
        [
          id,
          body.nodes.map((n) => n.key),
          body.nodes.map((n) => n.title ?? n.key),
          body.nodes.map((n) => resolved.get(n.skill)!.id),
          body.nodes.map((n) => `${resolved.get(n.skill)!.name}@${resolved.get(n.skill)!.version}`),
          body.nodes.map((n) => JSON.stringify(n.dependsOn ?? [])),
        ],
      );
      await this.audit.record(manager, {
        orgId: actor.orgId,
        actor,
        action: 'run.create',
        resource: { type: 'Run', id },
        policy: decision,
        details: { title: body.title, teamId: body.teamId ?? null, nodes: body.nodes.length, skills: [...new Set([...resolved.values()].map((s) => `${s!.name}@${s!.version}`))].sort() },
      });
      return manager.getRepository(Run).findOneOrFail({ where: { id }, relations: { nodes: true } });
    });
    const { teamId, createdBy, status, labels, title } = run;
    this.domainEvents.publish('run.created', { orgId: actor.orgId, run: { id, teamId, createdBy, status, labels, title } });
    return { ...runView(run), reporterToken: token };
  }

  /** The run, checked against policy for `action`; another org's run is 404. */
  async load(actor: Actor, id: string, action: Action): Promise<Run> {
    const run = await this.find(actor, id);
    await this.policy.assert(actor, action, 'Run', runAttributes(run));
    return run;
  }

  /** Whether policy lets the caller take `action` on the run, decided as that action's route would; nothing is audited, as nothing was attempted. */
  async allows(actor: Actor, run: Run, action: Action): Promise<{ allowed: boolean; reason: string }> {
    const { allowed, reason } = await this.policy.decide(actor, action, 'Run', runAttributes(run));
    return { allowed, reason };
  }

  /** The run with its nodes, for a caller already checked against policy. */
  async find(actor: Pick<Actor, 'orgId'>, id: string): Promise<Run> {
    const run = await this.db.getRepository(Run).findOne({ where: { id, orgId: actor.orgId }, relations: { nodes: true } });
    if (!run) throw new NotFoundError('Run', id);
    return run;
  }

  /** The run as the API shows it, for a reader already checked on something else (a run-summary artifact). */
  async view(orgId: string, id: string): Promise<RunView> {
    return runView(await this.find({ orgId }, id));
  }

  /** Whether the org has this run, in the caller's transaction (an artifact that names it). */
  existsIn(manager: EntityManager, orgId: string, id: string): Promise<boolean> {
    return manager.getRepository(Run).existsBy({ id, orgId });
  }

  /** The instance-level check for a change (report, cancel), without loading the nodes; the run's attributes are cached briefly. */
  async assertCan(actor: Actor, id: string, action: Action): Promise<void> {
    const attributes = await this.attributes.get(`${actor.orgId}/${id}`, { orgId: actor.orgId, id });
    await this.policy.assert(actor, action, 'Run', attributes);
  }

  /**
   * The run's policy attributes read now, without its nodes; another org's run is 404.
   * A prepared statement, not TypeORM's findOne: it builds its query anew on every call,
   * which cost 100-140 µs of the service's thread a lookup against 40-60 µs, and a burst
   * of reporters (a fleet resuming together) looks up one run each.
   */
  private async readAttributes(orgId: string, id: string): Promise<Record<string, unknown>> {
    const [run] = await queryRows<Parameters<typeof runAttributes>[0]>(
      this.db.manager,
      `SELECT id, org_id AS "orgId", team_id AS "teamId", created_by AS "createdBy", status, labels, title FROM runs WHERE id = $1 AND org_id = $2`,
      [id, orgId],
      'vitrine_run_attributes',
    );
    if (!run) throw new NotFoundError('Run', id);
    return runAttributes(run);
  }

  /** Newest first, keyset on id (UUIDv7 ids are time-ordered); runs the caller may not read are skipped in the query, so a page is full unless it is the last. */
  async list(actor: Actor, query: RunListQuery): Promise<Page<RunView>> {
    const before = decodeCursor(query.cursor, IdSchema);
    const qb = this.db.getRepository(Run).createQueryBuilder('r').where('r.org_id = :orgId', { orgId: actor.orgId }).orderBy('r.id', 'DESC').limit(query.limit + 1);
    if (query.status) qb.andWhere('r.status = :status', { status: query.status });
    if (query.teamId) qb.andWhere('r.team_id = :teamId', { teamId: query.teamId });
    (query.label ?? []).forEach((label, i) => {
      const at = label.indexOf(':');
      qb.andWhere(`r.labels @> :label${i}::jsonb`, { [`label${i}`]: JSON.stringify({ [label.slice(0, at)]: label.slice(at + 1) }) });
    });
    if (before) qb.andWhere('r.id < :before', { before });
    qb.andWhere(await this.policy.readFilter(actor, 'Run', RUN_SQL_ATTRIBUTES, queryBuilderBinder(qb)));
    const rows = await qb.getMany();
    const more = rows.length > query.limit;
    const page = rows.slice(0, query.limit);
    const nodes = page.length ? await this.db.getRepository(RunNode).find({ where: page.map((r) => ({ runId: r.id })) }) : [];
    for (const run of page) run.nodes = nodes.filter((n) => n.runId === run.id);
    return { items: page.map(runView), nextCursor: more ? encodeCursor(page[page.length - 1]!.id) : null };
  }

  /** The status and last seq of these runs, for a caller already checked against policy (the live stream catching up after it could not hear). */
  async states(ids: readonly string[]): Promise<{ id: string; status: RunView['status']; lastSeq: number }[]> {
    if (ids.length === 0) return [];
    const rows: { id: string; status: RunView['status']; last_seq: string }[] = await this.db.query('SELECT id, status, last_seq FROM runs WHERE id = ANY($1::uuid[])', [ids]);
    return rows.map((r) => ({ id: r.id, status: r.status, lastSeq: Number(r.last_seq) }));
  }

  /** Events with `after` < seq <= `through`, in seq order, at most `limit`: for a caller already checked against policy (the live stream's replay and gap fill). */
  async eventsBetween(runId: string, after: number, through: number, limit: number): Promise<RunEventView[]> {
    const rows: { seq: string; id: string; at: Date; node: string; type: string; data: Record<string, unknown> }[] = await this.db.query(
      `SELECT seq, id, at, node, type, data FROM run_events WHERE run_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT $4`,
      [runId, after, through, limit],
    );
    return rows.map((r) => ({ seq: Number(r.seq), id: r.id, at: r.at.toISOString(), node: r.node, type: r.type, ...r.data }));
  }

  /** Events after `after`, in seq order; `nextCursor` is the last seq returned, as a string. */
  async events(actor: Actor, id: string, after: number, limit: number): Promise<{ items: RunEventView[]; nextCursor: string | null }> {
    await this.load(actor, id, 'read');
    const rows = await this.eventsBetween(id, after, Number.MAX_SAFE_INTEGER, limit + 1);
    const more = rows.length > limit;
    const items = rows.slice(0, limit);
    return { items, nextCursor: more ? String(items[items.length - 1]!.seq) : null };
  }
}
