import { getRandomValues } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';

/** Random bytes drawn from the OS in one call per 256 ids, not one call (a syscall) per id. */
const POOL_BYTES = 4096;
const pool = new Uint8Array(POOL_BYTES);
let used = POOL_BYTES;
/** uuid's own monotonic state, kept here because passing our random bytes bypasses it. */
let lastMsecs = -Infinity;
let seq = 0;

function random16(): Uint8Array {
  if (used === POOL_BYTES) {
    getRandomValues(pool);
    used = 0;
  }
  used += 16;
  return pool.subarray(used - 16, used);
}

/**
 * Every id Vitrine issues is a UUIDv7: time-ordered, so b-tree inserts stay
 * local, and ids made in one process are strictly increasing, within a
 * millisecond too (RFC 9562 method 2: a counter seeded at random each
 * millisecond), as uuid's own v7() does.
 */
export function newId(): string {
  const random = random16();
  const now = Date.now();
  if (now > lastMsecs) {
    seq = ((random[6]! & 0x7f) << 24) | (random[7]! << 16) | (random[8]! << 8) | random[9]!;
    lastMsecs = now;
  } else {
    seq = (seq + 1) | 0;
    if (seq === 0) lastMsecs++;
  }
  return uuidv7({ random, msecs: lastMsecs, seq });
}
