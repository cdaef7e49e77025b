import { stringify } from 'csv-stringify';
import { eventColumns, type AuditEvent } from './audit-event.js';
import type { Seal } from './audit-seal.js';
import type { AuditFilters } from './audit.schemas.js';

/** First line of an NDJSON export: what it holds and how to check it. */
export interface ExportHeader {
  export: {
    orgId: string;
    exportedAt: string;
    filters: AuditFilters;
    /** No filters: every sealed event is in the file, so a missing line is detected too. */
    complete: boolean;
    blocks: number;
    keyId: string;
    publicKey: string;
  };
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

/** NDJSON: the header, the events newest first, then every seal they need, oldest first. */
export async function* ndjsonExport(header: ExportHeader, events: AsyncIterable<AuditEvent>, seals: AsyncIterable<Seal>): AsyncGenerator<string> {
  yield `${JSON.stringify(header)}\n`;
  for await (const event of events) yield `${JSON.stringify(event)}\n`;
  for await (const seal of seals) yield `${JSON.stringify({ seal })}\n`;
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
