import { createPublicKey, type KeyObject } from 'node:crypto';
import type { AuditEvent } from './audit-event.js';
import { keyIdOf } from './audit-signing-key.js';
import { checkSeal, eventHash, type Seal } from './audit-seal.js';
import { HEADER_LINE, SEAL_LINE, type ExportHeader } from './audit-export.js';
import { ExportHeaderLineSchema, ExportSealLineSchema } from './audit.schemas.js';

export interface ExportReport {
  ok: boolean;
  /** The file is a plain export, events only: it holds no header or seals to check them against. */
  eventsOnly: boolean;
  events: number;
  seals: number;
  /** The export held every sealed event (no filters), so missing lines were looked for too. */
  complete: boolean;
  /** Signatures were checked against a key given by the verifier, not only the one the file names. */
  keyPinned: boolean;
  head: { seq: number; hash: string } | null;
  firstInvalid?: { line: number; seq: number | null; reason: string };
}

class Invalid extends Error {
  constructor(
    readonly line: number,
    readonly seq: number | null,
    reason: string,
  ) {
    super(reason);
  }
}

export const EVENTS_ONLY = 'an events-only export: it has no header and no seals to check its events against; export again with &proof=true';

/** A line that begins a proof export, and whether it is in the format before proof lines were marked. */
function headerOf(value: Record<string, unknown>): { header: ExportHeader; legacy: boolean } | 'malformed' | null {
  if (value.type === HEADER_LINE) {
    const line = ExportHeaderLineSchema.safeParse(value);
    return line.success ? { header: line.data.header, legacy: false } : 'malformed';
  }
  // Exports made before proof lines were marked: `{"export": header}`, events, `{"seal": seal}` lines.
  if (!('type' in value) && 'export' in value) {
    const line = ExportHeaderLineSchema.safeParse({ type: HEADER_LINE, header: value.export });
    return line.success ? { header: line.data.header, legacy: true } : 'malformed';
  }
  return null;
}

/**
 * Checks an NDJSON audit export offline: every event against its hash, the
 * seals' chain and signatures, every event against the seal that holds it,
 * and, for a complete export, that no sealed event is missing.
 */
export async function verifyExport(lines: AsyncIterable<string>, options: { publicKeyPem?: string } = {}): Promise<ExportReport> {
  const report: ExportReport = { ok: false, eventsOnly: false, events: 0, seals: 0, complete: false, keyPinned: options.publicKeyPem !== undefined, head: null };
  const hashes = new Map<number, { hash: string; line: number }>();
  let header: ExportHeader | undefined;
  let legacy = false;
  let keys: Map<string, KeyObject> | undefined;
  let previous: Seal | null = null;
  let lineNo = 0;
  try {
    for await (const text of lines) {
      lineNo++;
      if (text.trim() === '') continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new Invalid(lineNo, null, 'not valid JSON');
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Invalid(lineNo, null, 'not a JSON object');
      const value = parsed as Record<string, unknown>;
      if (!header) {
        const first = headerOf(value);
        if (first === 'malformed') throw new Invalid(lineNo, null, 'the export header is malformed');
        if (!first) {
          if (typeof value.seq === 'number' && typeof value.hash === 'string' && !('type' in value)) {
            report.eventsOnly = true;
            throw new Invalid(lineNo, value.seq, EVENTS_ONLY);
          }
          throw new Invalid(lineNo, null, 'the first line is not an export header');
        }
        ({ header, legacy } = first);
        report.complete = header.complete;
        let key: KeyObject;
        try {
          key = createPublicKey(options.publicKeyPem ?? header.publicKey);
        } catch {
          throw new Invalid(lineNo, null, options.publicKeyPem === undefined ? 'the public key in the header is not a valid key' : 'the public key given is not a valid key');
        }
        keys = new Map([[keyIdOf(key), key]]);
        continue;
      }
      const marked = legacy ? 'seal' in value : 'type' in value;
      if (marked) {
        if (!legacy && value.type === HEADER_LINE) throw new Invalid(lineNo, null, 'a second export header');
        if (!legacy && value.type !== SEAL_LINE) throw new Invalid(lineNo, null, `an unknown line type ${JSON.stringify(value.type)}`);
        const line = ExportSealLineSchema.safeParse(legacy ? { type: SEAL_LINE, seal: value.seal } : value);
        if (!line.success) throw new Invalid(lineNo, null, 'a malformed seal line');
        const seal = line.data.seal;
        const problem = checkSeal(seal, previous, keys!);
        if (problem) throw new Invalid(lineNo, problem.seq, problem.reason);
        seal.seqs.forEach((seq, i) => {
          const event = hashes.get(seq);
          if (!event) {
            if (report.complete) throw new Invalid(lineNo, seq, `missing: sealed in block ${seal.blockNo} but not in the export`);
            return;
          }
          if (event.hash !== seal.hashes[i]) throw new Invalid(event.line, seq, `altered: its hash differs from the one block ${seal.blockNo} sealed`);
          hashes.delete(seq);
        });
        previous = seal;
        report.seals++;
        continue;
      }
      if (previous) throw new Invalid(lineNo, null, 'an event after the seals');
      const { hash, ...body } = value as unknown as AuditEvent;
      const seq = typeof body.seq === 'number' ? body.seq : null;
      if (seq === null || typeof hash !== 'string') throw new Invalid(lineNo, seq, 'not an audit event');
      let computed: string;
      try {
        computed = eventHash(body);
      } catch {
        throw new Invalid(lineNo, seq, 'not an audit event');
      }
      if (computed !== hash) throw new Invalid(lineNo, seq, 'altered: its contents do not match its hash');
      if (hashes.has(seq)) throw new Invalid(lineNo, seq, 'appears twice');
      hashes.set(seq, { hash, line: lineNo });
      report.events++;
    }
    if (!header) throw new Invalid(lineNo, null, 'the file is empty; an export made with &proof=true starts with a header line');
    if (report.complete && report.seals !== header.blocks) {
      throw new Invalid(lineNo, null, `the header promises ${header.blocks} seals, the file has ${report.seals}`);
    }
    const [unsealed] = hashes;
    if (unsealed) throw new Invalid(unsealed[1].line, unsealed[0], 'not held by any seal in the export');
    report.ok = true;
  } catch (error) {
    if (!(error instanceof Invalid)) throw error;
    report.firstInvalid = { line: error.line, seq: error.seq, reason: error.message };
  }
  report.head = previous ? { seq: previous.seq, hash: previous.hash } : null;
  return report;
}
