import { hash } from 'node:crypto';
import canonicalize from 'canonicalize';

// Every column as the text its hash was computed over (the time as epoch
// milliseconds: to_char costs more than the rest of the row), joined into one
// field per row: decoding one field instead of nineteen is most of what makes
// verify fast. \x1f separates fields, \x1e stands for NULL; `storable` keeps
// both out of every stored event, so neither can shift a field.
export const VERIFY_ROW = `concat_ws(E'\\x1f', e.seq, e.id, e.org_id, (date_part('epoch', e.at) * 1000)::bigint,
  e.actor_type, COALESCE(e.actor_id, E'\\x1e'), COALESCE(e.actor_name, E'\\x1e'), e.action, e.resource_type, COALESCE(e.resource_id, E'\\x1e'),
  e.outcome, COALESCE(e.reason, E'\\x1e'), COALESCE(e.policy_version, E'\\x1e'), COALESCE(e.policy_rule_id, E'\\x1e'),
  COALESCE(e.ip, E'\\x1e'), COALESCE(e.user_agent, E'\\x1e'), COALESCE(e.request_id, E'\\x1e'), encode(e.hash, 'hex'), e.details::text)`;

// Strings that JSON.stringify would write as they are, between quotes: most
// of what an event holds (ids, names, actions), quoted without a call.
// oxlint-disable-next-line no-control-regex -- control characters are what JSON escapes
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;
const quote = (value: string): string => (NEEDS_ESCAPE.test(value) ? JSON.stringify(value) : `"${value}"`);
const NULL = '\x1e';
const nullable = (value: string): string => (value === NULL ? 'null' : quote(value));

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
 * The RFC 8785 text an event's hash covers, written straight from a VERIFY_ROW
 * (keys in sorted order, as canonicalEventPrefix writes them) without building
 * the event: verify runs this for every event. Details come last, so a
 * separator inside their JSON cannot shift the other fields.
 */
export function canonicalFromVerifyRow(row: string): { seq: number; stored: string; canonical: string } {
  const f: string[] = [];
  let from = 0;
  for (let i = 0; i < 18; i++) {
    const to = row.indexOf('\x1f', from);
    f.push(row.slice(from, to));
    from = to + 1;
  }
  const details = canonicalize(JSON.parse(row.slice(from)) as Record<string, unknown>);
  const policy = f[12] === NULL ? 'null' : `{"ruleId":${nullable(f[13]!)},"version":${quote(f[12]!)}}`;
  const canonical =
    `{"action":${quote(f[7]!)}` +
    `,"actor":{"id":${nullable(f[5]!)},"name":${nullable(f[6]!)},"type":${quote(f[4]!)}}` +
    `,"at":"${isoAt(Number(f[3]))}"` +
    `,"context":{"ip":${nullable(f[14]!)},"requestId":${nullable(f[16]!)},"userAgent":${nullable(f[15]!)}}` +
    `,"details":${details}` +
    `,"id":${quote(f[1]!)}` +
    `,"orgId":${quote(f[2]!)}` +
    `,"outcome":${quote(f[10]!)}` +
    `,"policy":${policy}` +
    `,"reason":${nullable(f[11]!)}` +
    `,"resource":{"id":${nullable(f[9]!)},"type":${quote(f[8]!)}}` +
    `,"seq":${Number(f[0])}}`;
  return { seq: Number(f[0]), stored: f[17]!, canonical };
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
    computed.push(hash('sha256', event.canonical, 'hex'));
  }
  return { seqs, stored, computed };
}
