import { Inject, Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { newId } from '../common/ids.js';
import { decodeCursor, encodeCursor, type Page } from '../common/pagination.js';
import { NO_REQUEST, type RequestContext } from '../common/request-context.js';
import { queryRows } from '../database/query-rows.js';
import type { Actor } from '../identity/actor.js';
import type { SqlAttributes } from '../policy/policy-sql.js';
import { canonicalEventPrefix, eventColumns, storable, type AuditActor, type AuditEvent, type AuditEventBody } from './audit-event.js';
import { AuditCursorSchema, type AuditFilters } from './audit.schemas.js';

/** A further condition in SQL, its parameters numbered from $1. */
export interface ExtraWhere {
  where: string;
  params: unknown[];
}

/** What policy conditions on an AuditEvent may name, as SQL over an alias of audit_events (rulesToSql). */
export function auditSqlAttributes(alias: 'e' | 'p'): SqlAttributes {
  return {
    orgId: { type: 'text', sql: `${alias}.org_id`, uuid: true },
    actorId: { type: 'text', sql: `${alias}.actor_id`, nullable: true },
    action: { type: 'text', sql: `${alias}.action` },
    resourceType: { type: 'text', sql: `${alias}.resource_type` },
    outcome: { type: 'text', sql: `${alias}.outcome` },
  };
}

/** Appends a condition numbered from $1 to a query's conditions and parameters. */
function appendWhere(where: string[], params: unknown[], extra: ExtraWhere): void {
  const offset = params.length;
  where.push(extra.where.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + offset}`));
  params.push(...extra.params);
}

/** What a change tells the log; actor, time, context and hash are filled in. */
export interface AuditEntry {
  orgId: string;
  actor: Actor | AuditActor;
  action: string;
  resource: { type: string; id: string | null };
  outcome?: AuditEventBody['outcome'];
  reason?: string | null;
  /** The decision that allowed or denied it; by default the guard's decision for this request. */
  policy?: { version: string; ruleId: string | null } | null;
  details?: Record<string, unknown>;
  /** The request it came from; by default the actor's (see AuthGuard). Give it where the actor was not authenticated by the request. */
  context?: RequestContext;
}

export const SYSTEM_ACTOR: AuditActor = { type: 'system', id: null, name: 'Vitrine' };

export function auditActor(actor: Actor | AuditActor): AuditActor {
  if (!('orgId' in actor)) return actor;
  return { type: actor.type, id: actor.id, name: actor.name };
}

interface EventRow {
  seq: string;
  id: string;
  org_id: string;
  at: Date;
  actor_type: AuditActor['type'];
  actor_id: string | null;
  actor_name: string | null;
  action: string;
  resource_type: string;
  resource_id: string | null;
  outcome: AuditEventBody['outcome'];
  reason: string | null;
  policy_version: string | null;
  policy_rule_id: string | null;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  details: Record<string, unknown>;
  hash: Buffer;
}

export const EVENT_COLUMNS = `e.seq, e.id, e.org_id, e.at, e.actor_type, e.actor_id, e.actor_name, e.action, e.resource_type, e.resource_id,
  e.outcome, e.reason, e.policy_version, e.policy_rule_id, e.ip, e.user_agent, e.request_id, e.details, e.hash`;

export function eventFromRow(row: EventRow): AuditEvent {
  return {
    seq: Number(row.seq),
    id: row.id,
    orgId: row.org_id,
    at: row.at.toISOString(),
    actor: { type: row.actor_type, id: row.actor_id, name: row.actor_name },
    action: row.action,
    resource: { type: row.resource_type, id: row.resource_id },
    outcome: row.outcome,
    reason: row.reason,
    policy: row.policy_version === null ? null : { version: row.policy_version, ruleId: row.policy_rule_id },
    context: { ip: row.ip, userAgent: row.user_agent, requestId: row.request_id },
    details: row.details,
    hash: row.hash.toString('hex'),
  };
}

// The database draws the seq and finishes the canonical text with it, so an
// append is one statement and holds no lock: the chain is built by the sealer.
const INSERT_EVENT = `INSERT INTO audit_events (seq, id, org_id, at, actor_type, actor_id, actor_name, action, resource_type, resource_id,
    outcome, reason, policy_version, policy_rule_id, ip, user_agent, request_id, details, hash)
  SELECT s.seq, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
         sha256(convert_to($18 || s.seq::text || '}', 'UTF8'))
    FROM (SELECT audit_next_seq() AS seq) s`;

/** The one writer and reader of the audit log. */
@Injectable()
export class AuditService {
  constructor(@Inject(DataSource) private readonly db: DataSource) {}

  /** Appends one event in the caller's transaction: it commits or rolls back with the change. */
  async record(manager: EntityManager, entry: AuditEntry): Promise<void> {
    const context = entry.context ?? ('orgId' in entry.actor ? entry.actor.context : undefined) ?? NO_REQUEST;
    const decided = entry.policy === undefined ? context.decision : entry.policy;
    const policy = decided ? { version: decided.version, ruleId: decided.ruleId } : null;
    const event: Omit<AuditEventBody, 'seq'> = storable({
      id: newId(),
      orgId: entry.orgId,
      at: new Date().toISOString(),
      actor: auditActor(entry.actor),
      action: entry.action,
      resource: entry.resource,
      outcome: entry.outcome ?? 'allowed',
      reason: entry.reason ?? null,
      policy,
      context: { ip: context.ip, userAgent: context.userAgent, requestId: context.requestId },
      details: entry.details ?? {},
    });
    await queryRows(manager, INSERT_EVENT, [...eventColumns(event), canonicalEventPrefix(event)], 'vitrine_audit_insert');
  }

  /** For events that are not part of a change (denials, failed logins): their own statement, committed at once. */
  recordNow(entry: AuditEntry): Promise<void> {
    return this.record(this.db.manager, entry);
  }

  /** One page, newest first; `extra` narrows in the query (the caller's visibility), so the page is full unless it is the last. */
  async list(orgId: string, filters: AuditFilters, limit: number, cursor?: string, extra?: ExtraWhere): Promise<Page<AuditEvent>> {
    const rows = await this.page(orgId, filters, extra, decodeCursor(cursor, AuditCursorSchema), limit + 1);
    const items = rows.slice(0, limit).map(eventFromRow);
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > limit && last ? encodeCursor({ at: last.at, seq: last.seq }) : null };
  }

  /**
   * Every match, newest first, page by page so memory stays flat however long
   * the log is. `extra` narrows further (the export keeps to sealed events).
   */
  async *stream(orgId: string, filters: AuditFilters, extra?: ExtraWhere, pageSize = 2_000): AsyncGenerator<AuditEvent> {
    let after: { at: string; seq: number } | undefined;
    for (;;) {
      const rows = await this.page(orgId, filters, extra, after, pageSize);
      for (const row of rows) yield eventFromRow(row);
      if (rows.length < pageSize) return;
      const last = rows[rows.length - 1]!;
      after = { at: last.at.toISOString(), seq: Number(last.seq) };
    }
  }

  /** One page, newest first, keyset on (at, seq): every filter has an index that ends in (at, seq). */
  private page(orgId: string, filters: AuditFilters, extra: ExtraWhere | undefined, after: { at: string; seq: number } | undefined, limit: number) {
    const { where, params } = filterSql(orgId, filters);
    if (extra) appendWhere(where, params, extra);
    if (after) {
      params.push(after.at, after.seq);
      where.push(`(e.at, e.seq) < ($${params.length - 1}, $${params.length})`);
    }
    params.push(limit);
    return this.db.query(
      `SELECT ${EVENT_COLUMNS} FROM audit_events e WHERE ${where.join(' AND ')} ORDER BY e.at DESC, e.seq DESC LIMIT $${params.length}`,
      params,
    ) as Promise<EventRow[]>;
  }

  /**
   * Who shared what, read from the log itself: every allowed `artifact.publish`
   * with its share, the `share.revoke` that ended it and how many `share.view`s it had.
   * `extra` narrows the publish events (alias `p`) in the query: the caller's visibility.
   */
  async shares(orgId: string, limit: number, cursor?: string, artifactId?: string, extra?: ExtraWhere) {
    const after = decodeCursor(cursor, AuditCursorSchema);
    const params: unknown[] = [orgId];
    const where = [`p.org_id = $1`, `p.action = 'artifact.publish'`, `p.outcome = 'allowed'`];
    if (artifactId) {
      params.push(artifactId);
      where.push(`p.resource_id = $${params.length}`);
    }
    if (extra) appendWhere(where, params, extra);
    if (after) {
      params.push(after.at, after.seq);
      where.push(`(p.at, p.seq) < ($${params.length - 1}, $${params.length})`);
    }
    params.push(limit + 1);
    const rows: {
      seq: string;
      share_id: string;
      artifact_id: string;
      title: string | null;
      audience: string | null;
      actor_id: string | null;
      actor_name: string | null;
      at: Date;
      expires_at: string | null;
      revoked_at: Date | null;
      revoked_by_id: string | null;
      revoked_by_name: string | null;
      views: number;
    }[] = await this.db.query(
      `SELECT p.seq, p.details->>'shareId' AS share_id, p.resource_id AS artifact_id, p.details->>'artifactTitle' AS title,
              p.details->>'audience' AS audience, p.actor_id, p.actor_name, p.at, p.details->>'expiresAt' AS expires_at,
              r.at AS revoked_at, r.actor_id AS revoked_by_id, r.actor_name AS revoked_by_name,
              (SELECT count(*)::int FROM audit_events v
                WHERE v.org_id = p.org_id AND v.resource_id = p.details->>'shareId' AND v.action = 'share.view' AND v.outcome = 'allowed') AS views
         FROM audit_events p
         LEFT JOIN LATERAL (
           SELECT x.at, x.actor_id, x.actor_name FROM audit_events x
            WHERE x.org_id = p.org_id AND x.resource_id = p.details->>'shareId' AND x.action = 'share.revoke' AND x.outcome = 'allowed'
            ORDER BY x.at, x.seq LIMIT 1) r ON true
        WHERE ${where.join(' AND ')}
        ORDER BY p.at DESC, p.seq DESC
        LIMIT $${params.length}`,
      params,
    );
    const more = rows.length > limit;
    const items = rows.slice(0, limit).map((r) => ({
      shareId: r.share_id,
      artifact: { id: r.artifact_id, title: r.title },
      audience: r.audience,
      createdBy: { id: r.actor_id, name: r.actor_name },
      createdAt: r.at.toISOString(),
      expiresAt: r.expires_at,
      revokedAt: r.revoked_at?.toISOString() ?? null,
      revokedBy: r.revoked_at ? { id: r.revoked_by_id, name: r.revoked_by_name } : null,
      views: r.views,
    }));
    const last = rows[items.length - 1];
    return { items, nextCursor: more && last ? encodeCursor({ at: last.at.toISOString(), seq: Number(last.seq) }) : null };
  }
}

function filterSql(orgId: string, filters: AuditFilters): { where: string[]; params: unknown[] } {
  const params: unknown[] = [orgId];
  const where = ['e.org_id = $1'];
  const add = (sql: string, value: unknown) => {
    params.push(value);
    where.push(sql.replace('?', `$${params.length}`));
  };
  if (filters.actorId !== undefined) add('e.actor_id = ?', filters.actorId);
  if (filters.action !== undefined) add('e.action = ?', filters.action);
  if (filters.resourceType !== undefined) add('e.resource_type = ?', filters.resourceType);
  if (filters.resourceId !== undefined) add('e.resource_id = ?', filters.resourceId);
  if (filters.outcome !== undefined) add('e.outcome = ?', filters.outcome);
  if (filters.from !== undefined) add('e.at >= ?', filters.from);
  if (filters.to !== undefined) add('e.at < ?', filters.to);
  return { where, params };
}
