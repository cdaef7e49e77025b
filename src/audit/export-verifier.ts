import { createPublicKey, type KeyObject } from 'node:crypto';
import type { AuditEvent } from './audit-event.js';
import { keyIdOf } from './audit-signing-key.js';
import { checkSeal, eventHash, type Seal } from './audit-seal.js';
import type { ExportHeader } from './audit-export.js';

export interface ExportReport {
  ok: boolean;
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

/**
 * Checks an NDJSON audit export offline: every event against its hash, the
 * seals' chain and signatures, every event against the seal that holds it,
 * and, for a complete export, that no sealed event is missing.
 */
export async function verifyExport(lines: AsyncIterable<string>, options: { publicKeyPem?: string } = {}): Promise<ExportReport> {
  const report: ExportReport = { ok: false, events: 0, seals: 0, complete: false, keyPinned: options.publicKeyPem !== undefined, head: null };
  const hashes = new Map<number, { hash: string; line: number }>();
  let header: ExportHeader['export'] | undefined;
  let keys: Map<string, KeyObject> | undefined;
  let previous: Seal | null = null;
  let lineNo = 0;
  try {
    for await (const text of lines) {
      lineNo++;
      if (text.trim() === '') continue;
      let value: Record<string, unknown>;
      try {
        value = JSON.parse(text) as Record<string, unknown>;
      } catch {
        throw new Invalid(lineNo, null, 'not valid JSON');
      }
      if (!header) {
        if (typeof value.export !== 'object' || value.export === null) throw new Invalid(lineNo, null, 'the first line is not an export header');
        header = value.export as ExportHeader['export'];
        report.complete = header.complete === true;
        const key = createPublicKey(options.publicKeyPem ?? header.publicKey);
        keys = new Map([[keyIdOf(key), key]]);
        continue;
      }
      if ('seal' in value) {
        const seal = value.seal as Seal;
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
    if (!header) throw new Invalid(lineNo, null, 'the file is empty');
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
