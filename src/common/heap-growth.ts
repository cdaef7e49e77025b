import v8 from 'node:v8';

/**
 * Sets how far V8 lets the heap grow past what survived the last full
 * collection before it starts the next one: to (1 + percent / 100) times
 * that. 0 leaves V8's own heuristic (about 1.1 to 4 times, by how fast it
 * collects), and a `--heap-growing-percent` given to node stands.
 *
 * Why: a service under steady load promotes request objects that outlive a
 * scavenge or two (about 7 MB/s at 4,900 single-event POSTs/s), so the old
 * generation fills, and each full collection (incremental marking steps of up
 * to 6 ms, then a pause of 4-14 ms, over 30-60 ms of wall time) stalls every
 * request in flight. V8's own limit put one every 3-7 s, and at half the
 * ingest peak that alone took the commit p99 from about 6 ms to 20-45 ms
 * (bench:ingest, see the README). Five times the live heap puts them 30 s
 * or more apart; what a full collection costs depends on the live heap, not
 * on the garbage, so each one costs the same. The price is memory: a heap
 * that holds 60 MB may reach 300 MB between collections (the run cache's
 * 200k nodes at most add about 100 MB live).
 *
 * V8 reads the flag each time it sets the next limit, so setting it at start,
 * before the heap has grown, is as good as giving it on node's command line
 * (where NODE_OPTIONS does not allow it).
 */
export function setHeapGrowth(percent: number): void {
  if (!Number.isInteger(percent) || percent < 0) throw new RangeError(`heap growth must be a whole percentage, at least 0 (got ${percent})`);
  if (percent > 0) v8.setFlagsFromString(`--heap-growing-percent=${percent}`);
}
