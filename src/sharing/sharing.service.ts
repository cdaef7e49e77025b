import { Inject, Injectable } from '@nestjs/common';
import { DataSource, In, type EntityManager } from 'typeorm';
import type { ArtifactView, RemixBody } from '../artifacts/artifacts.schemas.js';
import { artifactAttributes, ArtifactsService, shareSubjectKey } from '../artifacts/artifacts.service.js';
import { AuditChainService } from '../audit/audit-chain.service.js';
import { AuditService, SYSTEM_ACTOR } from '../audit/audit.service.js';
import { DomainEvents } from '../common/domain-events.js';
import { newId } from '../common/ids.js';
import { decodeCursor, toPage, type Page } from '../common/pagination.js';
import { AppError, NotFoundError, ValidationFailedError } from '../common/problem.js';
import type { RequestContext } from '../common/request-context.js';
import { hashSecret, newSecret } from '../common/secrets.js';
import type { Actor, ShareViewer, UserActor } from '../identity/actor.js';
import { AuthService, SHARE_PREFIX } from '../identity/auth.service.js';
import { IdSchema } from '../identity/identity.schemas.js';
import { MembersService } from '../identity/members.service.js';
import type { CompiledPolicy, PolicyActor } from '../policy/policy-engine.js';
import { PolicyResources, type DeniedLink, type LinkScope } from '../policy/policy-resources.js';
import { queryBuilderBinder, type SqlAttributes } from '../policy/policy-sql.js';
import { PolicyService } from '../policy/policy.service.js';
import { Share } from './share.entity.js';
import type { CreateShareBody, ShareContentQuery, SharePage, ShareView } from './sharing.schemas.js';
import { ViewTickets } from './view-tickets.js';


export function shareView(share: Share, url: string | null = null): ShareView {
  return {
    id: share.id,
    artifactId: share.artifactId,
    audience: share.audience,
    teamId: share.teamId,
    revision: share.revision,
    expiresAt: share.expiresAt?.toISOString() ?? null,
    url,
    state: shareState(share),
    createdBy: share.createdBy,
    createdAt: share.createdAt.toISOString(),
    revokedAt: share.revokedAt?.toISOString() ?? null,
    revokedReason: share.revokedReason,
  };
}

/** What policy conditions on a Share may name. */
export function shareAttributes(share: Share): Record<string, unknown> {
  return { id: share.id, orgId: share.orgId, artifactId: share.artifactId, audience: share.audience, createdBy: share.createdBy, expiresAt: share.expiresAt?.toISOString() ?? null, revision: share.revision };
}

/**
 * shareAttributes as SQL over a query's `s` alias (rulesToSql). `expiresAt` is
 * the text JavaScript's toISOString() makes of the Date node-postgres reads:
 * node-postgres takes the milliseconds as the float 1000 × 0.ffffff, truncated,
 * and so does this (for every microsecond fraction that is plain truncation).
 */
export const SHARE_SQL_ATTRIBUTES: SqlAttributes = {
  id: { type: 'text', sql: 's.id', uuid: true },
  orgId: { type: 'text', sql: 's.org_id', uuid: true },
  artifactId: { type: 'text', sql: 's.artifact_id', uuid: true },
  audience: { type: 'text', sql: 's.audience' },
  createdBy: { type: 'text', sql: 's.created_by', uuid: true },
  expiresAt: {
    type: 'text',
    nullable: true,
    sql: `(to_char(s.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24":"MI":"SS') || '.' || lpad(floor((extract(microseconds FROM s.expires_at)::bigint % 1000000)::float8 / 1000000 * 1000)::int::text, 3, '0') || 'Z')`,
  },
  revision: { type: 'number', sql: 's.revision', nullable: true },
};

/** 410 `share_revoked` or `share_expired` unless the share serves now. */
function assertServes(share: Share): void {
  const state = shareState(share);
  if (state !== 'valid') throw new AppError(410, `share_${state}`, state === 'revoked' ? 'Link revoked' : 'Link expired', state === 'revoked' ? 'This link was revoked' : 'This link has expired');
}

/** The share request as policy sees it under `publish`. */
function shareRequest(audience: string, expiresInSeconds: number | null, revision: number | null) {
  return { audience, expiresInSeconds, pinned: revision !== null };
}

/** A share is usable now: not revoked and not expired. */
function shareState(share: Share, now = Date.now()): 'valid' | 'revoked' | 'expired' {
  if (share.revokedAt) return 'revoked';
  if (share.expiresAt && share.expiresAt.getTime() <= now) return 'expired';
  return 'valid';
}

/**
 * Publishing (share links) and remixing through a link. Publishing passes the
 * policy gate on the artifact's attributes plus the requested share; the share
 * and its audit record commit together, and the token is answered once.
 */
@Injectable()
export class SharingService {
  private readonly tickets: ViewTickets;

  constructor(
    @Inject(DataSource) private readonly db: DataSource,
    @Inject(PolicyService) private readonly policy: PolicyService,
    @Inject(AuditService) private readonly audit: AuditService,
    @Inject(ArtifactsService) private readonly artifacts: ArtifactsService,
    @Inject(MembersService) private readonly members: MembersService,
    @Inject(DomainEvents) private readonly events: DomainEvents,
    @Inject(PolicyResources) resources: PolicyResources,
    @Inject(AuthService) auth: AuthService,
    @Inject(AuditChainService) chain: AuditChainService,
  ) {
    // Keyed from the audit key file every instance shares, so a ticket from one instance serves on another.
    this.tickets = new ViewTickets(chain.key.deriveSecret('vitrine share view tickets'));
    // A link's token alone, as a credential: only a link (not an org or team share) serves someone with no account.
    auth.registerShareTokens((token) => this.viewer(token, undefined));
    resources.registerAttributes('Share', async (actor, id) => shareAttributes(await this.find(actor, id)));
    resources.registerLinks({
      denied: (manager, scope, under) => this.deniedLinks(manager, scope, under),
      revoke: (manager, orgId, links, version, context) => this.revokeByPolicy(manager, orgId, links, version, context),
    });
  }

  async publish(actor: UserActor, artifactId: string, body: CreateShareBody, baseUrl: string): Promise<ShareView & { token: string }> {
    const token = newSecret(SHARE_PREFIX);
    const id = newId();
    return this.db.transaction(async (manager) => {
      // The row lock orders a publish after a concurrent content update, so the check sees the content being shared.
      const { artifact, publishedByLink } = await this.artifacts.find(manager, actor, artifactId, true);
      const revision = body.revision ?? null;
      let containsSecrets = artifact.containsSecrets;
      if (revision !== null) {
        const pinned = revision <= artifact.revision ? await this.artifacts.revisionContainsSecrets(manager, artifactId, revision) : undefined;
        if (pinned === undefined) throw new ValidationFailedError([{ path: 'revision', message: artifact.revision ? `the artifact has revisions 1 to ${artifact.revision}` : 'the artifact has no stored revisions' }]);
        containsSecrets = pinned;
      }
      const expiresInSeconds = body.expiresInSeconds ?? null;
      const attributes = { ...artifactAttributes(artifact, actor.orgId, publishedByLink), containsSecrets, share: shareRequest(body.audience, expiresInSeconds, revision) };
      // Decided under the policy active in this transaction: an activation waits for it, then re-checks the new link too.
      const policy = await this.policy.activeIn(manager, actor.orgId);
      const decision = await this.policy.assert(actor, 'publish', 'Artifact', attributes, artifactId, policy);
      if (body.audience === 'team' && !artifact.teamId) throw new ValidationFailedError([{ path: 'audience', message: 'the artifact belongs to no team; share it with the org or by link' }]);
      await manager.getRepository(Share).insert({
        id,
        orgId: actor.orgId,
        artifactId,
        audience: body.audience,
        teamId: body.audience === 'team' ? artifact.teamId : null,
        revision,
        expiresInSeconds,
        expiresAt: expiresInSeconds === null ? null : new Date(Date.now() + expiresInSeconds * 1000),
        tokenHash: hashSecret(token),
        createdBy: actor.id,
        revokedAt: null,
        revokedBy: null,
        revokedReason: null,
      });
      const saved = await manager.getRepository(Share).findOneByOrFail({ id });
      await this.audit.record(manager, {
        orgId: actor.orgId,
        actor,
        action: 'artifact.publish',
        resource: { type: 'Artifact', id: artifactId },
        policy: decision,
        details: { shareId: id, artifactTitle: artifact.title, audience: body.audience, expiresAt: saved.expiresAt?.toISOString() ?? null, revision, classification: artifact.classification },
      });
      return { ...shareView(saved, `${baseUrl}/s/${token}`), token };
    });
  }

  /** The artifact's shares the caller may see (policy's `read` on each Share, in the query), newest first; tokens are never shown again. */
  async list(actor: Actor, artifactId: string, limit: number, cursor?: string): Promise<Page<ShareView>> {
    await this.artifacts.load(actor, artifactId, 'read');
    const before = decodeCursor(cursor, IdSchema);
    const qb = this.db.getRepository(Share).createQueryBuilder('s').where('s.org_id = :orgId AND s.artifact_id = :artifactId', { orgId: actor.orgId, artifactId }).orderBy('s.id', 'DESC').limit(limit + 1);
    if (before) qb.andWhere('s.id < :before', { before });
    qb.andWhere(await this.policy.readFilter(actor, 'Share', SHARE_SQL_ATTRIBUTES, queryBuilderBinder(qb)));
    return toPage(await qb.getMany(), limit, (row) => shareView(row), (row) => row.id);
  }

  /** Revoke: the link stops at once. Revoking a revoked share changes nothing and is not logged again. */
  async revoke(actor: Actor, id: string): Promise<void> {
    const revoked = await this.db.transaction(async (manager) => {
      const share = await manager.getRepository(Share).createQueryBuilder('s').setLock('pessimistic_write').where('s.id = :id AND s.org_id = :orgId', { id, orgId: actor.orgId }).getOne();
      if (!share) throw new NotFoundError('Share', id);
      const decision = await this.policy.assert(actor, 'delete', 'Share', shareAttributes(share));
      if (share.revokedAt) return null;
      await manager.getRepository(Share).update({ id }, { revokedAt: () => 'now()', revokedBy: actor.id });
      await this.audit.record(manager, { orgId: actor.orgId, actor, action: 'share.revoke', resource: { type: 'Share', id }, policy: decision, details: { artifactId: share.artifactId, audience: share.audience } });
      return share;
    });
    if (revoked) this.events.publish('share.revoked', { orgId: revoked.orgId, shareId: revoked.id, artifactId: revoked.artifactId, by: 'user', reason: null });
  }

  /**
   * The valid shares in scope that `policy` denies now, a page at a time,
   * each decided as its maker (as they are now) asking for it again: the same
   * audience, expiry and pinning, on the artifact as it is now. The one
   * decision behind the dry run's list and the revocations that follow a change.
   */
  private async *deniedLinks(manager: EntityManager, scope: LinkScope, policy: CompiledPolicy): AsyncGenerator<DeniedLink[]> {
    const makers = new Map<string, PolicyActor | null>();
    let after = '00000000-0000-0000-0000-000000000000';
    for (;;) {
      // Plain rows, not entities, keyset on id: the page is all that is held.
      const page: Pick<Share, 'id' | 'artifactId' | 'audience' | 'revision' | 'expiresInSeconds' | 'createdBy'>[] = await manager.query(
        `SELECT id, artifact_id AS "artifactId", audience, revision, expires_in_seconds AS "expiresInSeconds", created_by AS "createdBy"
           FROM shares
          WHERE org_id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now()) AND id > $2 AND ($3::uuid IS NULL OR artifact_id = $3)
          ORDER BY id LIMIT $4`,
        [scope.orgId, after, scope.artifactId ?? null, RECHECK_PAGE],
      );
      if (page.length === 0) return;
      const unknown = [...new Set(page.map((s) => s.createdBy))].filter((id) => !makers.has(id));
      const found = await this.members.activeAsPolicyActors(manager, scope.orgId, { ids: unknown });
      for (const id of unknown) makers.set(id, found.get(id) ?? null);
      const subjects = await this.artifacts.shareSubjects(manager, scope.orgId, page);
      const denied: DeniedLink[] = [];
      for (const share of page) {
        const maker = makers.get(share.createdBy)!;
        if (!maker) {
          denied.push({ shareId: share.id, artifactId: share.artifactId, ruleId: null, reason: 'The member who made this link is no longer in the org' });
          continue;
        }
        const subject = subjects.get(shareSubjectKey(share.artifactId, share.revision));
        if (!subject) continue;
        const decision = policy.decide(maker, 'publish', 'Artifact', { ...subject, share: shareRequest(share.audience, share.expiresInSeconds, share.revision) });
        if (!decision.allowed) denied.push({ shareId: share.id, artifactId: share.artifactId, ruleId: decision.ruleId, reason: decision.reason });
      }
      if (denied.length) yield denied;
      if (page.length < RECHECK_PAGE) return;
      after = page[page.length - 1]!.id;
    }
  }

  /** Policy's revocations: by the system, the reason naming the rule, each audited in the caller's transaction. */
  private async revokeByPolicy(manager: EntityManager, orgId: string, links: readonly DeniedLink[], version: string, context: RequestContext | undefined): Promise<void> {
    const reasons = links.map((l) => `${l.ruleId ? `Rule ${l.ruleId}` : 'No rule allows it'} (policy version ${version}): ${l.reason}`);
    const rows: { id: string; audience: string }[] = await manager.query(
      `UPDATE shares s SET revoked_at = now(), revoked_reason = v.reason
         FROM unnest($1::uuid[], $2::text[]) AS v(id, reason)
        WHERE s.id = v.id AND s.org_id = $3 AND s.revoked_at IS NULL
        RETURNING s.id, s.audience`,
      [links.map((l) => l.shareId), reasons, orgId],
    ).then(([updated]: [{ id: string; audience: string }[]]) => updated);
    const audience = new Map(rows.map((r) => [r.id, r.audience]));
    for (const link of links) {
      if (!audience.has(link.shareId)) continue;
      await this.audit.record(manager, {
        orgId,
        actor: SYSTEM_ACTOR,
        action: 'share.revoke',
        resource: { type: 'Share', id: link.shareId },
        reason: link.reason,
        policy: { version, ruleId: link.ruleId },
        details: { artifactId: link.artifactId, audience: audience.get(link.shareId) },
        context,
      });
    }
  }

  /**
   * Remix through a link: a private copy in the caller's own org, which may be
   * another org than the artifact's. The link must be valid; an org or team
   * share only serves that org or team.
   */
  async remixByToken(actor: UserActor, token: string, body: RemixBody): Promise<ArtifactView> {
    const share = await this.byToken(token, actor);
    if (share.revision !== null && body.revision !== undefined && body.revision !== share.revision) {
      throw new ValidationFailedError([{ path: 'revision', message: `this link shares revision ${share.revision} only` }]);
    }
    const source = await this.artifacts.ofShare(share.artifactId);
    const attributes = artifactAttributes(source, actor.orgId, share.audience === 'link');
    const decision = await this.policy.assert(actor, 'remix', 'Artifact', attributes, source.id);
    return this.artifacts.remix(actor, source, decision, { ...body, revision: body.revision ?? share.revision ?? undefined });
  }

  /**
   * The viewer page's view (`GET /s/{token}`): what the link serves, counted and
   * audited here, once per page load. A link serves anyone; an org or team share
   * only a signed-in member of that org or team (anyone else gets 404, as for an
   * unknown link). The ticket lets the page's frame load the content uncounted.
   */
  async viewPage(actor: Actor | undefined, token: string, context: RequestContext): Promise<SharePage> {
    const share = await this.byToken(token, actor);
    const artifact = await this.artifacts.ofShare(share.artifactId);
    const revision = share.revision ?? artifact.revision;
    await this.recordView(share, actor, revision, context);
    return {
      share: { id: share.id, audience: share.audience, revision: share.revision, expiresAt: share.expiresAt?.toISOString() ?? null },
      artifact: { title: artifact.title, kind: artifact.kind, revision },
      sharedBy: await this.members.activeName(share.orgId, share.createdBy),
      ticket: this.tickets.issue(share.id),
    };
  }

  /**
   * What the link serves, as a page for the render CSP: a pinned link's revision,
   * else the artifact's latest (a live link shares the artifact as it is now, never
   * an older revision). With a valid ticket from the viewer page its view is
   * counted already; without one, this request is a view, counted and audited.
   */
  async content(actor: Actor | undefined, token: string, query: ShareContentQuery, context: RequestContext): Promise<string> {
    const share = await this.byToken(token, actor);
    const artifact = await this.artifacts.ofShare(share.artifactId);
    if (query.revision !== undefined) {
      if (share.revision !== null && query.revision !== share.revision) throw new ValidationFailedError([{ path: 'revision', message: `this link shares revision ${share.revision} only` }]);
      if (query.revision > artifact.revision) throw new NotFoundError('Revision', String(query.revision));
    }
    const revision = share.revision ?? artifact.revision;
    const html = await this.artifacts.render(artifact, revision);
    if (!this.tickets.valid(query.ticket, share.id)) await this.recordView(share, actor, revision, context);
    return html;
  }

  /** A view, audited in the artifact's org: the audit log is how views are counted. */
  private recordView(share: Share, actor: Actor | undefined, revision: number, context: RequestContext): Promise<void> {
    return this.audit.recordNow({
      orgId: share.orgId,
      actor: actor ?? { type: 'public', id: null, name: null },
      action: 'share.view',
      resource: { type: 'Share', id: share.id },
      policy: null,
      details: { artifactId: share.artifactId, revision, audience: share.audience },
      context,
    });
  }

  /** Who may watch a link live: its artifact only, while it is valid; 404 or 410 as for the page. */
  async viewer(token: string, actor: Actor | undefined): Promise<ShareViewer> {
    const share = await this.byToken(token, actor);
    return { type: 'share', shareId: share.id, orgId: share.orgId, artifactId: share.artifactId, revision: share.revision, expiresAt: share.expiresAt };
  }

  /** Which of these shares no longer serve, and why (a share that is gone counts as revoked): for live viewers that may have missed the news. */
  async stopped(ids: readonly string[]): Promise<{ id: string; reason: 'revoked' | 'expired' }[]> {
    if (ids.length === 0) return [];
    const shares = new Map((await this.db.getRepository(Share).findBy({ id: In([...ids]) })).map((share) => [share.id, share]));
    return ids.flatMap((id) => {
      const share = shares.get(id);
      const state = share ? shareState(share) : 'revoked';
      return state === 'valid' ? [] : [{ id, reason: state }];
    });
  }

  /** 410 unless the share still serves: for a viewer registered after its token was checked, so a revoke in between is not missed. */
  async assertServing(shareId: string): Promise<void> {
    const share = await this.db.getRepository(Share).findOneBy({ id: shareId });
    if (!share) throw new NotFoundError('Share');
    assertServes(share);
  }

  /**
   * The share behind a token, for this caller: 404 when unknown, 410 when
   * revoked or expired, and 404 too when it is an org or team share and the
   * caller is not a signed-in member of that org or team.
   */
  private async byToken(token: string, actor: Actor | undefined): Promise<Share> {
    const share = token.startsWith(SHARE_PREFIX) ? await this.db.getRepository(Share).findOneBy({ tokenHash: hashSecret(token) }) : null;
    if (!share) throw new NotFoundError('Share');
    assertServes(share);
    const member = actor?.type === 'user' && actor.orgId === share.orgId;
    if (share.audience === 'org' && !member) throw new NotFoundError('Share');
    if (share.audience === 'team' && !(member && actor.teamIds.includes(share.teamId!))) throw new NotFoundError('Share');
    return share;
  }

  private async find(actor: Actor, id: string): Promise<Share> {
    const share = await this.db.getRepository(Share).findOneBy({ id, orgId: actor.orgId });
    if (!share) throw new NotFoundError('Share', id);
    return share;
  }
}

const RECHECK_PAGE = 1_000;
