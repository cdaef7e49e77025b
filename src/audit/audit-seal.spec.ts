import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import type { AuditEventBody } from './audit-event.js';
import { checkBlockEvents, checkpointMessage, checkSeal, eventHash, sealHash, type Seal } from './audit-seal.js';
import { AuditSigningKey, keyIdOf } from './audit-signing-key.js';
import { EVENTS_ONLY, verifyExport } from './export-verifier.js';
import { sampleEvent } from '../../test/helpers/audit.js';

const dir = mkdtempSync(path.join(tmpdir(), 'vitrine-seal-'));
const key = AuditSigningKey.loadOrCreate(path.join(dir, 'key.pem'));
const keys = new Map([[key.keyId, createPublicKey(key.publicKeyPem)]]);
const ORG = '0195f0a0-7b7e-7000-8000-000000000001';

function event(seq: number): AuditEventBody & { hash: string } {
  const body = sampleEvent(seq, { orgId: ORG });
  return { ...body, hash: eventHash(body) };
}

function seal(blockNo: number, events: { seq: number; hash: string }[], previous: Seal | null): Seal {
  const body = {
    orgId: ORG,
    blockNo,
    seq: Math.max(previous?.seq ?? 0, ...events.map((e) => e.seq)),
    count: events.length,
    seqs: events.map((e) => e.seq),
    hashes: events.map((e) => e.hash),
    xmax: String(100 * blockNo),
    xip: [],
    seqHigh: Math.max(...events.map((e) => e.seq)),
    xidBound: String(100 * blockNo + 1),
    prevHash: previous?.hash ?? null,
    at: '2026-11-24T10:00:01.000Z',
  };
  const hash = sealHash(body);
  return { ...body, hash, keyId: key.keyId, signature: key.sign(checkpointMessage({ orgId: ORG, seq: body.seq, hash, at: body.at })).toString('base64') };
}

const [e1, e2, e3] = [event(1), event(2), event(3)];
const first = seal(1, [e1, e2], null);
const second = seal(2, [e3], first);

describe('checkSeal', () => {
  it('accepts a chained, signed block', () => {
    expect(checkSeal(first, null, keys)).toBeNull();
    expect(checkSeal(second, first, keys)).toBeNull();
  });

  it.each([
    ['a missing block', () => checkSeal(second, null, keys), 'expected block 1 here'],
    ['a broken link', () => checkSeal({ ...second, prevHash: 'ab'.repeat(32) }, first, keys), 'does not chain'],
    ['an inconsistent event list', () => checkSeal({ ...first, count: 3 }, null, keys), 'event list is inconsistent'],
    ['edited contents', () => checkSeal({ ...first, seqHigh: 99 }, null, keys), 'do not match its hash'],
    ['an unknown key', () => checkSeal({ ...first, keyId: 'feedfacefeedface' }, null, keys), 'not a known checkpoint key'],
  ])('names %s', (_name, check, reason) => {
    expect(check()?.reason).toContain(reason);
  });
});

describe('checkBlockEvents', () => {
  const found = (e: { seq: number; hash: string }, computed = e.hash) => ({ seq: e.seq, hash: e.hash, computed });
  it('names a missing, an inserted and an altered event', () => {
    expect(checkBlockEvents(first, [found(e1), found(e2)])).toBeNull();
    expect(checkBlockEvents(first, [found(e2)])).toEqual({ seq: 1, reason: 'missing: sealed in block 1 but not in the log' });
    expect(checkBlockEvents(first, [found(e1), found(e2), found(e3)])).toEqual({ seq: 3, reason: 'inserted: not among the events block 1 sealed' });
    expect(checkBlockEvents(first, [found(e1, 'x'), found(e2)])?.reason).toMatch(/^altered: its contents/);
  });
});

describe('verifyExport', () => {
  const headerBody = (complete: boolean, blocks: number, publicKey = key.publicKeyPem) => ({
    orgId: ORG,
    exportedAt: '2026-11-24T10:00:02.000Z',
    filters: {},
    complete,
    blocks,
    keyId: key.keyId,
    publicKey,
  });
  const header = (complete: boolean, blocks: number) => JSON.stringify({ type: 'vitrine.audit.header', header: headerBody(complete, blocks) });
  const sealLine = (s: Seal) => JSON.stringify({ type: 'vitrine.audit.seal', seal: s });
  const lines = (...all: string[]) => (async function* () {
    yield* all;
  })();
  const events = [JSON.stringify(e3), JSON.stringify(e2), JSON.stringify(e1)];
  const ok = [header(true, 2), ...events, sealLine(first), sealLine(second)];

  it('verifies a complete export', async () => {
    expect(await verifyExport(lines(...ok))).toEqual(
      expect.objectContaining({ ok: true, eventsOnly: false, events: 3, seals: 2, complete: true, head: { seq: 3, hash: second.hash } }),
    );
  });

  it('verifies an export written before proof lines were marked: {"export"} header, {"seal"} lines', async () => {
    const legacy = [JSON.stringify({ export: headerBody(true, 2) }), ...events, JSON.stringify({ seal: first }), JSON.stringify({ seal: second })];
    expect(await verifyExport(lines(...legacy))).toEqual(expect.objectContaining({ ok: true, events: 3, seals: 2, complete: true }));
  });

  it('says an events-only export is one, at its first line, and reads no further', async () => {
    let read = 0;
    const counted = (async function* () {
      for (const line of [...events, 'not even JSON']) {
        read++;
        yield line;
      }
    })();
    const report = await verifyExport(counted);
    expect(report).toEqual(expect.objectContaining({ ok: false, eventsOnly: true, events: 0, firstInvalid: { line: 1, seq: 3, reason: EVENTS_ONLY } }));
    expect(read).toBe(1);
  });

  it.each([
    ['an empty file', [], 'the file is empty; an export made with &proof=true starts with a header line'],
    ['a line that is not JSON', [header(true, 2), '{"seq":'], 'not valid JSON'],
    ['a line that is not an object', [header(true, 2), 'null'], 'not a JSON object'],
    ['a first line that is not a header', ['{"hello":1}'], 'not an export header'],
    ['a malformed header', [JSON.stringify({ type: 'vitrine.audit.header', header: { orgId: ORG } })], 'the export header is malformed'],
    ['a header whose key is not a key', [JSON.stringify({ type: 'vitrine.audit.header', header: headerBody(true, 0, 'not a key') })], 'the public key in the header is not a valid key'],
    ['a second header', [header(false, 0), header(false, 0)], 'a second export header'],
    ['a line of a type it does not know', [header(false, 0), '{"type":"vitrine.audit.note"}'], 'an unknown line type "vitrine.audit.note"'],
    ['a malformed seal line', [header(false, 1), JSON.stringify(e1), '{"type":"vitrine.audit.seal","seal":{"blockNo":1}}'], 'a malformed seal line'],
    ['a seal line without its mark', [header(false, 1), JSON.stringify(e1), JSON.stringify({ seal: first })], 'not an audit event'],
    ['a line that is not an event', [header(false, 0), '{"hello":1}'], 'not an audit event'],
    ['an event listed twice', [header(false, 1), JSON.stringify(e1), JSON.stringify(e1)], 'appears twice'],
    ['an event after the seals', [...ok, JSON.stringify(e1)], 'an event after the seals'],
    ['a missing seal line', ok.slice(0, -1), 'the header promises 2 seals'],
    ['an event no seal holds', [header(false, 1), JSON.stringify(e3), sealLine(first)], 'not held by any seal'],
  ])('fails on %s', async (_name, file, reason) => {
    const report = await verifyExport(lines(...file));
    expect(report.ok).toBe(false);
    expect(report.eventsOnly).toBe(false);
    expect(report.firstInvalid?.reason).toContain(reason);
  });

  it('checks signatures against a pinned key, not the one the file names', async () => {
    const other = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const report = await verifyExport(lines(...ok), { publicKeyPem: other });
    expect(report.firstInvalid?.reason).toContain('not a known checkpoint key');
  });

  it('says so when the pinned key given is no key at all', async () => {
    const report = await verifyExport(lines(...ok), { publicKeyPem: 'not a PEM' });
    expect(report.ok).toBe(false);
    expect(report.firstInvalid?.reason).toBe('the public key given is not a valid key');
  });
});

describe('AuditSigningKey', () => {
  it('keeps the key it created, and refuses a key that is not Ed25519', () => {
    expect(AuditSigningKey.loadOrCreate(path.join(dir, 'key.pem')).keyId).toBe(key.keyId);
    expect(keyIdOf(keys.get(key.keyId)!)).toBe(key.keyId);
    const rsa = path.join(dir, 'rsa.pem');
    writeFileSync(rsa, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    expect(() => AuditSigningKey.loadOrCreate(rsa)).toThrow(/Ed25519/);
  });

  it('derives the same secret from the same key file (every instance agrees), another for another purpose or key', () => {
    const secret = key.deriveSecret('share view tickets');
    expect(secret).toHaveLength(32);
    expect(AuditSigningKey.loadOrCreate(path.join(dir, 'key.pem')).deriveSecret('share view tickets').equals(secret)).toBe(true);
    expect(key.deriveSecret('something else').equals(secret)).toBe(false);
    expect(AuditSigningKey.loadOrCreate(path.join(dir, 'other.pem')).deriveSecret('share view tickets').equals(secret)).toBe(false);
  });
});
