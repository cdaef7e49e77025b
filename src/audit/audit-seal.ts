import { hash, type KeyObject } from 'node:crypto';
import canonicalize from 'canonicalize';
import { canonicalEvent, type AuditEvent } from './audit-event.js';
import { verifySignature } from './audit-signing-key.js';

/**
 * A sealed block of an org's audit log. The sealer puts every event whose
 * transaction had finished at its snapshot (`xmax`, `xip`) and that no earlier
 * block holds into the next block, with each event's seq and hash; blocks are
 * chained by `prevHash` and each is signed, so altering, removing, inserting
 * or reordering any sealed event, or any block, is detected.
 */
export interface Seal {
  orgId: string;
  blockNo: number;
  /** The highest seq sealed in this org so far. */
  seq: number;
  count: number;
  seqs: number[];
  /** Event hashes (hex), in the order of `seqs`. */
  hashes: string[];
  /** The sealer's snapshot: transactions below `xmax` and not in `xip` had finished. */
  xmax: string;
  xip: string[];
  /** The audit sequence's high-water mark, read before the snapshot. */
  seqHigh: number;
  /**
   * The sealer's own transaction id, taken after `seqHigh` was read: a
   * transaction that drew a seq at or below `seqHigh` had its id already, so
   * an id below this bound. A later event with such a seq and a higher id was
   * written behind the seal.
   */
  xidBound: string;
  prevHash: string | null;
  hash: string;
  at: string;
  keyId: string;
  signature: string;
}

export interface Checkpoint {
  orgId: string;
  seq: number;
  hash: string;
  at: string;
  signature: string;
}

export interface ChainProblem {
  seq: number;
  reason: string;
}

/** SHA-256 in hex, in one call (no Hash object). */
export const sha256 = (data: string | Buffer): string => hash('sha256', data, 'hex');

export function eventHash(event: Omit<AuditEvent, 'hash'>): string {
  // The one-shot hash skips a Hash object per event: verify runs this for every event.
  return sha256(canonicalEvent(event));
}

/** One digest over the block's (seq, hash) pairs, in order: each an 8-byte big-endian seq and the 32-byte hash. */
export function eventsDigest(seqs: readonly number[], hashes: readonly string[]): string {
  // One buffer and one update: per-pair updates and BigInts cost more than the hashing.
  const bytes = Buffer.alloc(seqs.length * 40);
  seqs.forEach((seq, i) => {
    const at = i * 40;
    bytes.writeUInt32BE(Math.floor(seq / 2 ** 32), at);
    bytes.writeUInt32BE(seq >>> 0, at + 4);
    bytes.write(hashes[i]!, at + 8, 32, 'hex');
  });
  return sha256(bytes);
}

/** The block's hash: SHA-256 over the RFC 8785 form of everything verification relies on. */
export function sealHash(seal: Omit<Seal, 'hash' | 'keyId' | 'signature'>): string {
  return sha256(
    canonicalize({
      orgId: seal.orgId,
      blockNo: seal.blockNo,
      seq: seal.seq,
      count: seal.count,
      events: eventsDigest(seal.seqs, seal.hashes),
      xmax: seal.xmax,
      xip: seal.xip,
      seqHigh: seal.seqHigh,
      xidBound: seal.xidBound,
      prevHash: seal.prevHash,
      at: seal.at,
    })!,
  );
}

/** What a checkpoint's signature covers, as API.md says: `{orgId, seq, hash, at}` in RFC 8785 form. */
export function checkpointMessage(checkpoint: Omit<Checkpoint, 'signature'>): string {
  return canonicalize({ orgId: checkpoint.orgId, seq: checkpoint.seq, hash: checkpoint.hash, at: checkpoint.at })!;
}

/** Checks a block on its own and against the block before it (null for the first). */
export function checkSeal(seal: Seal, previous: Seal | null, publicKeys: ReadonlyMap<string, KeyObject>): ChainProblem | null {
  const fail = (reason: string): ChainProblem => ({ seq: seal.seq, reason: `block ${seal.blockNo}: ${reason}` });
  const expectedNo = previous ? previous.blockNo + 1 : 1;
  if (seal.blockNo !== expectedNo) return fail(`expected block ${expectedNo} here; a block is missing or out of order`);
  if (seal.prevHash !== (previous?.hash ?? null)) return fail('does not chain to the block before it');
  if (seal.count !== seal.seqs.length || seal.seqs.length !== seal.hashes.length) return fail('its event list is inconsistent');
  if (sealHash(seal) !== seal.hash) return fail('its contents do not match its hash');
  const key = publicKeys.get(seal.keyId);
  if (!key) return fail(`signed by key ${seal.keyId}, which is not a known checkpoint key`);
  if (!verifySignature(key, checkpointMessage(seal), Buffer.from(seal.signature, 'base64'))) return fail('its signature is invalid');
  return null;
}

/**
 * Compares the events found for a block (in seq order, each with the hash it
 * stores and the hash recomputed from its contents) with what the block sealed.
 */
export function checkBlockEvents(
  seal: Seal,
  found: readonly { seq: number; hash: string; computed: string }[],
): ChainProblem | null {
  let i = 0;
  let j = 0;
  while (i < seal.seqs.length || j < found.length) {
    const sealed = seal.seqs[i];
    const event = found[j];
    if (event === undefined || (sealed !== undefined && sealed < event.seq)) {
      return { seq: sealed!, reason: `missing: sealed in block ${seal.blockNo} but not in the log` };
    }
    if (sealed === undefined || event.seq < sealed) {
      return { seq: event.seq, reason: `inserted: not among the events block ${seal.blockNo} sealed` };
    }
    if (event.computed !== event.hash) return { seq: event.seq, reason: 'altered: its contents do not match its hash' };
    if (event.hash !== seal.hashes[i]) return { seq: event.seq, reason: `altered: its hash differs from the one block ${seal.blockNo} sealed` };
    i++;
    j++;
  }
  return null;
}
