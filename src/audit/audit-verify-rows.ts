import { canonicalEvent, type AuditEventBody } from './audit-event.js';
import { sha256 } from './audit-seal.js';

// Every column as the text its hash was computed over (the time as epoch
// milliseconds: to_char costs more than the rest of the row), joined into one
// field per row: decoding one field instead of nineteen is most of what makes
// verify fast. \x1f separates fields, \x1e stands for NULL; `storable` keeps
// both out of every stored event, so neither can shift a field.
export const VERIFY_ROW = `concat_ws(E'\\x1f', e.seq, e.id, e.org_id, (date_part('epoch', e.at) * 1000)::bigint,
  e.actor_type, COALESCE(e.actor_id, E'\\x1e'), COALESCE(e.actor_name, E'\\x1e'), e.action, e.resource_type, COALESCE(e.resource_id, E'\\x1e'),
  e.outcome, COALESCE(e.reason, E'\\x1e'), COALESCE(e.policy_version, E'\\x1e'), COALESCE(e.policy_rule_id, E'\\x1e'),
  COALESCE(e.ip, E'\\x1e'), COALESCE(e.user_agent, E'\\x1e'), COALESCE(e.request_id, E'\\x1e'), encode(e.hash, 'hex'), e.details::text)`;

const NULL = '\x1e';
const nullable = (value: string): string | null => (value === NULL ? null : value);

// Events of a chunk mostly share their second: its ISO text is made once.
let isoSecond = Number.NaN;
let isoPrefix = '';
function isoAt(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== isoSecond) {
    isoSecond = second;
    isoPrefix = new Date(second * 1000).toISOString().slice(0, -4);
  }
  return `${isoPrefix}${String(ms - second * 1000).padStart(3, '0')}Z`;
}

/**
 * The RFC 8785 text an event's hash covers, from a VERIFY_ROW: the fields are
 * cut out by position (details last, so a separator inside their JSON cannot
 * shift the others) and written by canonicalEvent, as record() hashed them.
 */
export function canonicalFromVerifyRow(row: string): { seq: number; stored: string; canonical: string } {
  const f: string[] = [];
  let from = 0;
  for (let i = 0; i < 18; i++) {
    const to = row.indexOf('\x1f', from);
    f.push(row.slice(from, to));
    from = to + 1;
  }
  const seq = Number(f[0]);
  const canonical = canonicalEvent({
    seq,
    id: f[1]!,
    orgId: f[2]!,
    at: isoAt(Number(f[3])),
    actor: { type: f[4] as AuditEventBody['actor']['type'], id: nullable(f[5]!), name: nullable(f[6]!) },
    action: f[7]!,
    resource: { type: f[8]!, id: nullable(f[9]!) },
    outcome: f[10] as AuditEventBody['outcome'],
    reason: nullable(f[11]!),
    policy: f[12] === NULL ? null : { version: f[12]!, ruleId: nullable(f[13]!) },
    context: { ip: nullable(f[14]!), userAgent: nullable(f[15]!), requestId: nullable(f[16]!) },
    details: JSON.parse(row.slice(from)) as Record<string, unknown>,
  });
  return { seq, stored: f[17]!, canonical };
}

/** Recomputes the hashes of VERIFY_ROW texts: what verify's worker thread does. */
export function hashVerifyRows(rows: readonly string[]): { seqs: number[]; stored: string[]; computed: string[] } {
  const seqs: number[] = [];
  const stored: string[] = [];
  const computed: string[] = [];
  for (const row of rows) {
    const event = canonicalFromVerifyRow(row);
    seqs.push(event.seq);
    stored.push(event.stored);
    computed.push(sha256(event.canonical));
  }
  return { seqs, stored, computed };
}
