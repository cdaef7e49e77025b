import { Inject, Injectable } from '@nestjs/common';
import { DataSource, type EntityManager, type SelectQueryBuilder } from 'typeorm';
import { z } from 'zod';
import { AuditService } from '../audit/audit.service.js';
import { DomainEvents } from '../common/domain-events.js';
import { newId } from '../common/ids.js';
import { decodeCursor, encodeCursor, toPage, type Page } from '../common/pagination.js';
import { AppError, NotFoundError, ValidationFailedError } from '../common/problem.js';
import type { Actor, UserActor } from '../identity/actor.js';
import { IdSchema } from '../identity/identity.schemas.js';
import { TeamsService } from '../identity/teams.service.js';
import { PolicyResources, publishRevokedLinks, type DeniedLink } from '../policy/policy-resources.js';
import { queryBuilderBinder, type SqlAttributes } from '../policy/policy-sql.js';
import { PolicyService } from '../policy/policy.service.js';
import type { Action, Decision } from '../policy/policy.types.js';
import { RunsService } from '../runs/runs.service.js';
import { renderContent, renderRunSummary } from './render.js';
import { ArtifactRevision } from './artifact-revision.entity.js';
import { Artifact, isDeclassification, type ArtifactFields } from './artifact.entity.js';
import {
  RUN_SUMMARY,
  type ArtifactListQuery,
  type ArtifactView,
  type CreateArtifactBody,
  type PatchArtifactBody,
  type RemixBody,
  type RevisionView,
  type UpdateContentBody,
} from './artifacts.schemas.js';
import { findSecrets } from './secret-scan.js';

export function artifactView(a: Artifact): ArtifactView {
  return {
    id: a.id,
    title: a.title,
    kind: a.kind,
    runId: a.runId,
    teamId: a.teamId,
    classification: a.classification,
    labels: a.labels,
    ownerId: a.ownerId,
    private: a.private,
    revision: a.revision,
    containsSecrets: a.containsSecrets,
    remixedFrom: a.remixedFromId ? { artifactId: a.remixedFromId, revision: a.remixedFromRevision! } : null,
    createdAt: a.createdAt.toISOString(),
    updatedAt: a.updatedAt.toISOString(),
  };
}

export function revisionView(r: ArtifactRevision): RevisionView {
  return {
    revision: r.revision,
    format: r.format,
    message: r.message,
    containsSecrets: r.containsSecrets,
    secrets: r.secrets,
    createdBy: r.createdBy,
    createdByType: r.createdByType,
    createdAt: r.createdAt.toISOString(),
  };
}

/**
 * What policy conditions on an Artifact may name. `sameOrg` compares the
 * artifact's org with the caller's; `publishedByLink` says whether a link to
 * it is valid now.
 */
export function artifactAttributes(a: ArtifactFields, callerOrgId: string, publishedByLink: boolean): Record<string, unknown> {
  return {
    id: a.id,
    orgId: a.orgId,
    teamId: a.teamId,
    ownerId: a.ownerId,
    runId: a.runId,
    kind: a.kind,
    title: a.title,
    classification: a.classification,
    labels: a.labels,
    containsSecrets: a.containsSecrets,
    private: a.private,
    publishedByLink,
    sameOrg: a.orgId === callerOrgId,
    remixedFrom: a.remixedFromId,
  };
}

export const shareSubjectKey = (artifactId: string, revision: number | null): string => `${artifactId}/${revision ?? 'live'}`;

/** A valid link share exists: not revoked, not expired, audience `link`. */
const PUBLISHED_BY_LINK = `EXISTS (SELECT 1 FROM shares s WHERE s.artifact_id = a.id AND s.audience = 'link' AND s.revoked_at IS NULL AND (s.expires_at IS NULL OR s.expires_at > now()))`;

/**
 * artifactAttributes as SQL over a query's `a` alias (rulesToSql), for a list
 * of the caller's own org: `sameOrg` is true there.
 */
export const ARTIFACT_SQL_ATTRIBUTES: SqlAttributes = {
  id: { type: 'text', sql: 'a.id', uuid: true },
  orgId: { type: 'text', sql: 'a.org_id', uuid: true },
  teamId: { type: 'text', sql: 'a.team_id', uuid: true, nullable: true },
  ownerId: { type: 'text', sql: 'a.owner_id', uuid: true },
  runId: { type: 'text', sql: 'a.run_id', uuid: true, nullable: true },
  kind: { type: 'text', sql: 'a.kind' },
  title: { type: 'text', sql: 'a.title' },
  classification: { type: 'text', sql: 'a.classification' },
  labels: { type: 'text[]', sql: 'a.labels' },
  containsSecrets: { type: 'boolean', sql: 'a.contains_secrets' },
  private: { type: 'boolean', sql: 'a.private' },
  publishedByLink: { type: 'boolean', sql: PUBLISHED_BY_LINK },
  sameOrg: { type: 'boolean', sql: 'TRUE' },
  remixedFrom: { type: 'text', sql: 'a.remixed_from_id', uuid: true, nullable: true },
};

/** The artifacts a query selects (alias `a`, no joins), each with whether a link to it is valid now: one round trip. */
async function withLinkFlag(qb: SelectQueryBuilder<Artifact>): Promise<{ artifact: Artifact; publishedByLink: boolean }[]> {
  const { entities, raw } = await qb.addSelect(PUBLISHED_BY_LINK, 'published_by_link').getRawAndEntities<{ published_by_link: boolean }>();
  return entities.map((artifact, i) => ({ artifact, publishedByLink: raw[i]!.published_by_link }));
}

/** Artifacts and their immutable revisions; every change checks policy on the row first and is audited with it. */
@Injectable()
export class ArtifactsService {
  constructor(
    @Inject(DataSource) private readonly db: DataSource,
    @Inject(PolicyService) private readonly policy: PolicyService,
    @Inject(AuditService) private readonly audit: AuditService,
    @Inject(TeamsService) private readonly teams: TeamsService,
    @Inject(RunsService) private readonly runs: RunsService,
    @Inject(PolicyResources) private readonly resources: PolicyResources,
    @Inject(DomainEvents) private readonly events: DomainEvents,
  ) {
    resources.registerAttributes('Artifact', async (actor, id) => {
      const { artifact, publishedByLink } = await this.find(this.db.manager, actor, id);
      return artifactAttributes(artifact, actor.orgId, publishedByLink);
    });
  }

  async create(actor: UserActor, body: CreateArtifactBody): Promise<ArtifactView> {
    const id = newId();
    const secrets = body.content ? findSecrets(body.content.body) : [];
    return this.db.transaction(async (manager) => {
      if (body.teamId) await this.teams.assertTeamInOrg(manager, actor.orgId, body.teamId);
      if (body.runId && !(await this.runs.existsIn(manager, actor.orgId, body.runId))) {
        throw new ValidationFailedError([{ path: 'runId', message: `no run ${body.runId} in this org` }]);
      }
      const artifact: ArtifactFields = {
        id,
        orgId: actor.orgId,
        title: body.title,
        kind: body.kind,
        runId: body.runId ?? null,
        teamId: body.teamId ?? null,
        classification: body.classification,
        labels: body.labels ?? [],
        ownerId: actor.id,
        private: false,
        revision: body.content ? 1 : 0,
        containsSecrets: secrets.length > 0,
        remixedFromId: null,
        remixedFromRevision: null,
      };
      const decision = await this.policy.assert(actor, 'create', 'Artifact', artifactAttributes(artifact, actor.orgId, false), id);
      await manager.getRepository(Artifact).insert(artifact);
      if (body.content) await this.insertRevision(manager, actor, id, 1, body.content.format, body.content.body, null, secrets);
      await this.audit.record(manager, {
        orgId: actor.orgId,
        actor,
        action: 'artifact.create',
        resource: { type: 'Artifact', id },
        policy: decision,
        details: { title: body.title, kind: body.kind, classification: body.classification, runId: body.runId ?? null, teamId: body.teamId ?? null, revision: artifact.revision, containsSecrets: artifact.containsSecrets },
      });
      return artifactView(await manager.getRepository(Artifact).findOneByOrFail({ id }));
    });
  }

  /** A new immutable revision; concurrent writers queue on the row, so revision numbers never repeat or skip. */
  async updateContent(actor: Actor, id: string, body: UpdateContentBody): Promise<{ revision: number; containsSecrets: boolean }> {
    const secrets = findSecrets(body.body);
    const { result, revoked } = await this.db.transaction(async (manager) => {
      const { artifact, decision } = await this.lockAndAssert(manager, actor, id, 'update');
      if (artifact.kind === RUN_SUMMARY) throw new AppError(409, 'run_summary_has_no_content', 'A run summary has no content', 'A run-summary artifact is rendered live from its run; its content cannot be set');
      const revision = artifact.revision + 1;
      await this.insertRevision(manager, actor, id, revision, body.format, body.body, body.message ?? null, secrets);
      await manager.getRepository(Artifact).update({ id }, { revision, containsSecrets: secrets.length > 0 });
      await this.audit.record(manager, {
        orgId: actor.orgId,
        actor,
        action: 'artifact.update',
        resource: { type: 'Artifact', id },
        policy: decision,
        details: { revision, format: body.format, bytes: Buffer.byteLength(body.body, 'utf8'), containsSecrets: secrets.length > 0, message: body.message ?? null },
      });
      // A live link now serves this revision: it stays only while publish would still allow it.
      return { result: { revision, containsSecrets: secrets.length > 0 }, revoked: await this.recheckLinks(manager, actor, id) };
    });
    // Links cut first: a viewer whose link the revision revoked never hears of it.
    publishRevokedLinks(this.events, actor.orgId, revoked);
    this.events.publish('artifact.revised', { orgId: actor.orgId, artifactId: id, revision: result.revision });
    return result;
  }

  async patch(actor: Actor, id: string, body: PatchArtifactBody): Promise<ArtifactView> {
    const { view, revoked } = await this.db.transaction(async (manager): Promise<{ view: ArtifactView; revoked: DeniedLink[] }> => {
      const { artifact, publishedByLink, decision: updateDecision } = await this.lockAndAssert(manager, actor, id, 'update');
      const changes: Record<string, { from: unknown; to: unknown }> = {};
      for (const field of ['title', 'classification', 'labels'] as const) {
        const to = body[field];
        if (to !== undefined && JSON.stringify(to) !== JSON.stringify(artifact[field])) changes[field] = { from: artifact[field], to };
      }
      if (Object.keys(changes).length === 0) return { view: artifactView(artifact), revoked: [] };
      // Lowering the classification is its own action, decided on the artifact as it is before the change.
      const decision =
        body.classification && isDeclassification(artifact.classification, body.classification)
          ? await this.policy.assert(actor, 'declassify', 'Artifact', artifactAttributes(artifact, actor.orgId, publishedByLink), id)
          : updateDecision;
      await manager.getRepository(Artifact).update({ id }, { ...(body.title !== undefined && { title: body.title }), ...(body.classification && { classification: body.classification }), ...(body.labels && { labels: body.labels }) });
      await this.audit.record(manager, { orgId: actor.orgId, actor, action: 'artifact.update', resource: { type: 'Artifact', id }, policy: decision, details: { changes } });
      const denied = changes.classification || changes.labels ? await this.recheckLinks(manager, actor, id) : [];
      return { view: artifactView(await manager.getRepository(Artifact).findOneByOrFail({ id })), revoked: denied };
    });
    publishRevokedLinks(this.events, actor.orgId, revoked);
    return view;
  }

  /** Revokes, in the caller's transaction, the artifact's links that the active policy no longer allows. */
  private async recheckLinks(manager: EntityManager, actor: Actor, id: string): Promise<DeniedLink[]> {
    const policy = await this.policy.activeIn(manager, actor.orgId);
    return this.resources.revokeDeniedLinks(manager, { orgId: actor.orgId, artifactId: id }, policy, actor.context);
  }

  /** The artifact in the caller's org, checked against policy for `action`; another org's artifact is 404. */
  async load(actor: Actor, id: string, action: Action): Promise<{ artifact: Artifact; publishedByLink: boolean; decision: Decision }> {
    const found = await this.find(this.db.manager, actor, id);
    const decision = await this.policy.assert(actor, action, 'Artifact', artifactAttributes(found.artifact, actor.orgId, found.publishedByLink));
    return { ...found, decision };
  }

  /** Newest first, keyset on id; artifacts the caller may not read (another member's private remix) are skipped in the query, so a page is full unless it is the last. */
  async list(actor: Actor, query: ArtifactListQuery): Promise<Page<ArtifactView>> {
    const before = decodeCursor(query.cursor, IdSchema);
    const qb = this.db.getRepository(Artifact).createQueryBuilder('a').where('a.org_id = :orgId', { orgId: actor.orgId }).orderBy('a.id', 'DESC').limit(query.limit + 1);
    if (query.runId) qb.andWhere('a.run_id = :runId', { runId: query.runId });
    if (query.teamId) qb.andWhere('a.team_id = :teamId', { teamId: query.teamId });
    if (query.kind) qb.andWhere('a.kind = :kind', { kind: query.kind });
    if (query.classification) qb.andWhere('a.classification = :classification', { classification: query.classification });
    if (query.label) qb.andWhere(':label = ANY(a.labels)', { label: query.label });
    if (before) qb.andWhere('a.id < :before', { before });
    qb.andWhere(await this.policy.readFilter(actor, 'Artifact', ARTIFACT_SQL_ATTRIBUTES, queryBuilderBinder(qb)));
    return toPage(await qb.getMany(), query.limit, artifactView, (a) => a.id);
  }

  async revisions(actor: Actor, id: string, limit: number, cursor?: string): Promise<Page<RevisionView>> {
    await this.load(actor, id, 'read');
    const before = decodeCursor(cursor, RevisionCursor);
    const qb = this.db
      .getRepository(ArtifactRevision)
      .createQueryBuilder('r')
      .select(['r.artifactId', 'r.revision', 'r.format', 'r.message', 'r.containsSecrets', 'r.secrets', 'r.createdBy', 'r.createdByType', 'r.createdAt'])
      .where('r.artifact_id = :id', { id })
      .orderBy('r.revision', 'DESC')
      .limit(limit + 1);
    if (before) qb.andWhere('r.revision < :before', { before });
    const rows = await qb.getMany();
    const more = rows.length > limit;
    const items = rows.slice(0, limit).map(revisionView);
    return { items, nextCursor: more ? encodeCursor(items[items.length - 1]!.revision) : null };
  }

  async revision(actor: Actor, id: string, revision: number): Promise<RevisionView & { body: string }> {
    await this.load(actor, id, 'read');
    const row = await this.db.getRepository(ArtifactRevision).findOneBy({ artifactId: id, revision });
    if (!row) throw new NotFoundError('Revision', String(revision));
    return { ...revisionView(row), body: row.body };
  }

  /** The page of a revision (default: the latest), or of a run-summary's run as it is now. */
  async render(artifact: Artifact, revision?: number): Promise<string> {
    if (artifact.kind === RUN_SUMMARY) {
      if (!artifact.runId) throw new NotFoundError('Run');
      return renderRunSummary(artifact.title, await this.runs.view(artifact.orgId, artifact.runId));
    }
    const number = revision ?? artifact.revision;
    const row = await this.db.getRepository(ArtifactRevision).findOneBy({ artifactId: artifact.id, revision: number });
    if (!row) throw new NotFoundError('Revision', String(number));
    return renderContent(artifact.title, row.format, row.body);
  }

  /**
   * A private copy of `source` for the caller, in the caller's org. The caller
   * checked `remix` on the source already; the copy starts at revision 1 with
   * the source revision's content and remembers where it came from.
   */
  async remix(actor: UserActor, source: Artifact, decision: Decision, body: RemixBody): Promise<ArtifactView> {
    const fromRevision = body.revision ?? source.revision;
    if (source.kind === RUN_SUMMARY || fromRevision < 1) throw new AppError(409, 'nothing_to_remix', 'Nothing to remix', 'A run-summary artifact has no content of its own to copy');
    if (fromRevision > source.revision) throw new ValidationFailedError([{ path: 'revision', message: `the artifact has revisions 1 to ${source.revision}` }]);
    const id = newId();
    return this.db.transaction(async (manager) => {
      const content = await manager.getRepository(ArtifactRevision).findOneByOrFail({ artifactId: source.id, revision: fromRevision });
      const title = body.title ?? `Remix of ${source.title}`.slice(0, 200);
      await manager.getRepository(Artifact).insert({
        id,
        orgId: actor.orgId,
        title,
        kind: source.kind,
        runId: null,
        teamId: null,
        classification: source.classification,
        labels: source.labels,
        ownerId: actor.id,
        private: true,
        revision: 1,
        containsSecrets: content.containsSecrets,
        remixedFromId: source.id,
        remixedFromRevision: fromRevision,
      });
      await this.insertRevision(manager, actor, id, 1, content.format, content.body, `Remixed from ${source.id} revision ${fromRevision}`, content.secrets);
      const details = { artifactId: id, title, from: { artifactId: source.id, orgId: source.orgId, revision: fromRevision } };
      await this.audit.record(manager, { orgId: actor.orgId, actor, action: 'artifact.remix', resource: { type: 'Artifact', id: source.id }, policy: decision, details });
      // Through a link, the copy leaves the source's org: that org's log says so too.
      if (source.orgId !== actor.orgId) await this.audit.record(manager, { orgId: source.orgId, actor, action: 'artifact.remix', resource: { type: 'Artifact', id: source.id }, policy: null, details });
      return artifactView(await manager.getRepository(Artifact).findOneByOrFail({ id }));
    });
  }

  /** Ancestors (nearest first) and descendants (breadth first); what the caller may not read shows only its id. */
  async lineage(actor: Actor, id: string) {
    const { artifact } = await this.load(actor, id, 'read');
    const ancestors: { id: string; revision: number }[] = artifact.remixedFromId
      ? await this.db.query(
          `WITH RECURSIVE up AS (
             SELECT $1::uuid AS id, $2::int AS revision, 1 AS depth
             UNION ALL
             SELECT a.remixed_from_id, a.remixed_from_revision, up.depth + 1 FROM up JOIN artifacts a ON a.id = up.id
              WHERE a.remixed_from_id IS NOT NULL AND up.depth < 100)
           SELECT id, revision FROM up ORDER BY depth`,
          [artifact.remixedFromId, artifact.remixedFromRevision],
        )
      : [];
    const descendants: { id: string; revision: number }[] = await this.db.query(
      `WITH RECURSIVE down AS (
         SELECT a.id, a.remixed_from_revision AS revision, 1 AS depth FROM artifacts a WHERE a.remixed_from_id = $1
         UNION ALL
         SELECT a.id, a.remixed_from_revision, down.depth + 1 FROM down JOIN artifacts a ON a.remixed_from_id = down.id WHERE down.depth < 100)
       SELECT id, revision FROM down ORDER BY depth, id LIMIT 1000`,
      [artifact.id],
    );
    // Titles of the ones in the caller's org that the caller may read, in one query.
    const ids = [...ancestors, ...descendants].map((x) => x.id);
    const titles = new Map<string, string>();
    if (ids.length) {
      const qb = this.db.getRepository(Artifact).createQueryBuilder('a').where('a.org_id = :orgId AND a.id IN (:...ids)', { orgId: actor.orgId, ids });
      for (const { artifact: row, publishedByLink } of await withLinkFlag(qb)) {
        if ((await this.policy.decide(actor, 'read', 'Artifact', artifactAttributes(row, actor.orgId, publishedByLink))).allowed) titles.set(row.id, row.title);
      }
    }
    const entry = (x: { id: string; revision: number }) => ({ artifactId: x.id, title: titles.get(x.id) ?? null, revision: x.revision });
    return { ancestors: ancestors.map(entry), descendants: descendants.map(entry) };
  }

  /** The current revision of these artifacts (and a run-summary's run), for a caller already checked against policy (the live stream catching up). */
  async revisionsOf(ids: readonly string[]): Promise<{ id: string; revision: number; summaryOf: string | null }[]> {
    if (ids.length === 0) return [];
    const rows: { id: string; revision: number; kind: string; run_id: string | null }[] = await this.db.query('SELECT id, revision, kind, run_id FROM artifacts WHERE id = ANY($1::uuid[])', [ids]);
    return rows.map((r) => ({ id: r.id, revision: r.revision, summaryOf: r.kind === RUN_SUMMARY ? r.run_id : null }));
  }

  /** The run-summary artifacts of these runs (each in its run's org), for telling their viewers that a run changed. */
  async runSummaries(runs: readonly { orgId: string; runId: string }[]): Promise<{ id: string; orgId: string; runId: string; revision: number }[]> {
    if (runs.length === 0) return [];
    return this.db.query(
      `SELECT a.id, a.org_id AS "orgId", a.run_id AS "runId", a.revision FROM artifacts a
        WHERE a.kind = $3 AND (a.org_id, a.run_id) IN (SELECT * FROM unnest($1::uuid[], $2::uuid[]))`,
      [runs.map((r) => r.orgId), runs.map((r) => r.runId), RUN_SUMMARY],
    );
  }

  /** A share's own artifact, whichever org asks (a link serves outside its org). */
  async ofShare(artifactId: string): Promise<Artifact> {
    return this.db.getRepository(Artifact).findOneByOrFail({ id: artifactId });
  }

  /** Whether a stored revision's content contains secrets; undefined when the artifact has no such revision. */
  async revisionContainsSecrets(manager: EntityManager, artifactId: string, revision: number): Promise<boolean | undefined> {
    return (await manager.getRepository(ArtifactRevision).findOne({ select: { containsSecrets: true }, where: { artifactId, revision } }))?.containsSecrets;
  }

  /**
   * What `publish` decides shares on, for the link re-check, in the caller's
   * transaction: each artifact's attributes as it is now, a pinned share's
   * `containsSecrets` taken from its own revision. Keyed by `shareSubjectKey`.
   */
  async shareSubjects(manager: EntityManager, orgId: string, refs: readonly { artifactId: string; revision: number | null }[]): Promise<Map<string, Record<string, unknown>>> {
    const subjects = new Map<string, Record<string, unknown>>();
    if (refs.length === 0) return subjects;
    const ids = [...new Set(refs.map((r) => r.artifactId))];
    // Plain rows, not entities: a page of links names up to a thousand artifacts, and hydrating them cost more than the query.
    const rows: (ArtifactFields & { publishedByLink: boolean })[] = await manager.query(
      `SELECT a.id, a.org_id AS "orgId", a.team_id AS "teamId", a.owner_id AS "ownerId", a.run_id AS "runId", a.kind, a.title, a.classification, a.labels,
              a.contains_secrets AS "containsSecrets", a.private, a.remixed_from_id AS "remixedFromId", ${PUBLISHED_BY_LINK} AS "publishedByLink"
         FROM artifacts a WHERE a.org_id = $1 AND a.id = ANY($2::uuid[])`,
      [orgId, ids],
    );
    const artifacts = new Map(rows.map((a) => [a.id, { artifact: a, publishedByLink: a.publishedByLink }]));
    const pinned = refs.filter((r) => r.revision !== null);
    const revisions: { artifact_id: string; revision: number; contains_secrets: boolean }[] = pinned.length
      ? await manager.query('SELECT artifact_id, revision, contains_secrets FROM artifact_revisions WHERE (artifact_id, revision) IN (SELECT * FROM unnest($1::uuid[], $2::int[]))', [
          pinned.map((r) => r.artifactId),
          pinned.map((r) => r.revision),
        ])
      : [];
    const secrets = new Map(revisions.map((r) => [shareSubjectKey(r.artifact_id, r.revision), r.contains_secrets]));
    for (const ref of refs) {
      const found = artifacts.get(ref.artifactId);
      if (!found) continue;
      const attributes = artifactAttributes(found.artifact, orgId, found.publishedByLink);
      const key = shareSubjectKey(ref.artifactId, ref.revision);
      if (ref.revision !== null) attributes.containsSecrets = secrets.get(key) ?? attributes.containsSecrets;
      subjects.set(key, attributes);
    }
    return subjects;
  }

  /** The artifact of the caller's org with whether a link to it is valid now; 404 otherwise. */
  async find(manager: EntityManager, actor: Actor, id: string, lock = false): Promise<{ artifact: Artifact; publishedByLink: boolean }> {
    const qb = manager.getRepository(Artifact).createQueryBuilder('a').where('a.id = :id AND a.org_id = :orgId', { id, orgId: actor.orgId });
    if (lock) qb.setLock('pessimistic_write');
    const [found] = await withLinkFlag(qb);
    if (!found) throw new NotFoundError('Artifact', id);
    return found;
  }

  private async lockAndAssert(manager: EntityManager, actor: Actor, id: string, action: Action) {
    const { artifact, publishedByLink } = await this.find(manager, actor, id, true);
    const decision = await this.policy.assert(actor, action, 'Artifact', artifactAttributes(artifact, actor.orgId, publishedByLink));
    return { artifact, publishedByLink, decision };
  }

  private async insertRevision(
    manager: EntityManager,
    actor: Actor,
    artifactId: string,
    revision: number,
    format: ArtifactRevision['format'],
    body: string,
    message: string | null,
    secrets: { rule: string; line: number }[],
  ): Promise<void> {
    await manager.getRepository(ArtifactRevision).insert({ artifactId, revision, format, body, message, containsSecrets: secrets.length > 0, secrets, createdBy: actor.id, createdByType: actor.type });
  }
}

const RevisionCursor = z.number().int().min(1);
