import { stringify } from 'csv-stringify';
import { eventColumns, type AuditEvent } from './audit-event.js';
import type { Seal } from './audit-seal.js';
import type { AuditFilters } from './audit.schemas.js';

/**
 * The lines a proof export adds are marked by a top-level `type`, a field no
 * AuditEvent has, and hold no `seq` or `hash` of their own: none can pass for
 * an event, and dropping them leaves exactly what the plain export writes.
 */
export const HEADER_LINE = 'vitrine.audit.header';
export const SEAL_LINE = 'vitrine.audit.seal';

/** What a proof export holds and how to check it. */
export interface ExportHeader {
  orgId: string;
  exportedAt: string;
  filters: AuditFilters;
  /** No filters: every sealed event is in the file, so a missing line is detected too. */
  complete: boolean;
  blocks: number;
  keyId: string;
  publicKey: string;
}

export interface HeaderLine {
  type: typeof HEADER_LINE;
  header: ExportHeader;
}

export interface SealLine {
  type: typeof SEAL_LINE;
  seal: Seal;
}

export const CSV_COLUMNS = [
  'seq',
  'id',
  'org_id',
  'at',
  'actor_type',
  'actor_id',
  'actor_name',
  'action',
  'resource_type',
  'resource_id',
  'outcome',
  'reason',
  'policy_version',
  'policy_rule_id',
  'ip',
  'user_agent',
  'request_id',
  'details',
  'hash',
] as const;

const eventLine = (event: AuditEvent): string => `${JSON.stringify(event)}\n`;

/** NDJSON: one AuditEvent per line, newest first, and nothing else. */
export async function* ndjsonExport(events: AsyncIterable<AuditEvent>): AsyncGenerator<string> {
  for await (const event of events) yield eventLine(event);
}

/** NDJSON with its proof: the header, the events as ndjsonExport writes them, then every seal they need, oldest first. */
export async function* proofExport(header: ExportHeader, events: AsyncIterable<AuditEvent>, seals: AsyncIterable<Seal>): AsyncGenerator<string> {
  yield `${JSON.stringify({ type: HEADER_LINE, header } satisfies HeaderLine)}\n`;
  // Not yield* ndjsonExport: delegating costs a promise per event.
  for await (const event of events) yield eventLine(event);
  for await (const seal of seals) yield `${JSON.stringify({ type: SEAL_LINE, seal } satisfies SealLine)}\n`;
}

/** CSV (RFC 4180) for spreadsheets: one row per event, details as JSON. */
export async function* csvExport(events: AsyncIterable<AuditEvent>): AsyncGenerator<string> {
  const stringifier = stringify({ header: true, columns: [...CSV_COLUMNS] });
  const rows = (async function* () {
    for await (const e of events) {
      const columns = eventColumns(e);
      columns[columns.length - 1] = JSON.stringify(e.details);
      yield [e.seq, ...columns, e.hash];
    }
  })();
  // Feed rows as the reader pulls, so a slow client holds back the database reads.
  const pump = (async () => {
    for await (const row of rows) {
      if (!stringifier.write(row)) await new Promise((resolve) => stringifier.once('drain', resolve));
    }
    stringifier.end();
  })();
  for await (const chunk of stringifier) yield String(chunk);
  await pump;
}
