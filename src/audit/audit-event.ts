import canonicalize from 'canonicalize';

export const ACTOR_TYPES = ['user', 'agent', 'public', 'system'] as const;
export const OUTCOMES = ['allowed', 'denied', 'error'] as const;

export interface AuditActor {
  type: (typeof ACTOR_TYPES)[number];
  id: string | null;
  name: string | null;
}

/** An audit event exactly as the API returns it and as its hash covers it (all fields but `hash`). */
export interface AuditEventBody {
  seq: number;
  id: string;
  orgId: string;
  at: string;
  actor: AuditActor;
  action: string;
  resource: { type: string; id: string | null };
  outcome: (typeof OUTCOMES)[number];
  reason: string | null;
  policy: { version: string; ruleId: string | null } | null;
  context: { ip: string | null; userAgent: string | null; requestId: string | null };
  details: Record<string, unknown>;
}

export interface AuditEvent extends AuditEventBody {
  hash: string;
}

// Strings that JSON.stringify would write as they are, between quotes: most of
// what an event holds (ids, names, actions), quoted without the call.
// oxlint-disable-next-line no-control-regex -- control characters are what JSON escapes
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;
const str = (value: string | null): string => (value === null ? 'null' : NEEDS_ESCAPE.test(value) ? JSON.stringify(value) : `"${value}"`);

/**
 * RFC 8785 canonical JSON of an event up to, not including, its seq: `"seq"`
 * sorts after every other key, so the database can finish the text (and hash
 * it) once it has drawn the seq, in the same statement as the insert. Keys are
 * written in sorted order by hand because verify runs this for every event;
 * a unit test holds it equal to `canonicalize` of the whole event.
 */
export function canonicalEventPrefix(e: Omit<AuditEventBody, 'seq'>): string {
  const policy = e.policy === null ? 'null' : `{"ruleId":${str(e.policy.ruleId)},"version":${str(e.policy.version)}}`;
  return (
    `{"action":${str(e.action)}` +
    `,"actor":{"id":${str(e.actor.id)},"name":${str(e.actor.name)},"type":${str(e.actor.type)}}` +
    `,"at":${str(e.at)}` +
    `,"context":{"ip":${str(e.context.ip)},"requestId":${str(e.context.requestId)},"userAgent":${str(e.context.userAgent)}}` +
    `,"details":${canonicalize(e.details)}` +
    `,"id":${str(e.id)}` +
    `,"orgId":${str(e.orgId)}` +
    `,"outcome":${str(e.outcome)}` +
    `,"policy":${policy}` +
    `,"reason":${str(e.reason)}` +
    `,"resource":{"id":${str(e.resource.id)},"type":${str(e.resource.type)}}` +
    `,"seq":`
  );
}

export function canonicalEvent(e: AuditEventBody): string {
  return `${canonicalEventPrefix(e)}${e.seq}}`;
}

/**
 * Text PostgreSQL can store and give back unchanged: no NUL characters (text
 * and jsonb refuse them) and no lone surrogates (UTF-8 cannot carry them).
 * The two separators verify reads rows with (\x1e, \x1f) are replaced too.
 * Applied before hashing, so the stored event hashes to what was computed.
 */
export function storable<T>(value: T): T {
  // With the u flag, \p{Cs} matches only surrogates that are not part of a pair.
  // oxlint-disable-next-line no-control-regex -- these control characters are what it replaces
  if (typeof value === 'string') return value.replace(/[\0\x1e\x1f]|\p{Cs}/gu, '\uFFFD') as T;
  if (Array.isArray(value)) return value.map(storable) as T;
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[storable(k)] = storable(v);
    return out as T;
  }
  if (typeof value === 'number' && !Number.isFinite(value)) return null as T;
  return value;
}

/**
 * An event's fields in the order of the audit_events columns from `id` to
 * `details`: what the insert binds and what a CSV row holds.
 */
export function eventColumns(e: Omit<AuditEventBody, 'seq'>): unknown[] {
  return [
    e.id,
    e.orgId,
    e.at,
    e.actor.type,
    e.actor.id,
    e.actor.name,
    e.action,
    e.resource.type,
    e.resource.id,
    e.outcome,
    e.reason,
    e.policy?.version ?? null,
    e.policy?.ruleId ?? null,
    e.context.ip,
    e.context.userAgent,
    e.context.requestId,
    e.details,
  ];
}
