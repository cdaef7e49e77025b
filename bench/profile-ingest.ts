/**
 * Where the service's thread spends its time on ingest:
 *
 *   npm run bench:profile [-- --rate 2000] [--batch 1] [--seconds 10] [--reporters 32] [--rounds 2] [--long 10] [--no-profile | --alloc]
 *
 * Starts the service in this process (as bench:ingest does) and puts an
 * open-loop load on it from a worker thread: --rate requests a second of
 * --batch events each, from --reporters reporters on runs of their own.
 * - Busy time per request on the service's thread (event-loop utilisation,
 *   so the load's thread and the database are left out), --rounds cells of
 *   --seconds, each beside bare Express at the same rate and batch (same HTTP
 *   server and JSON parser, one route, nothing behind it): the platform's
 *   own share. Busy time per request decides the headroom the service has at
 *   a rate on a shared machine, and how fast it drains a backlog after a stall.
 *   Each cell also says what the disks did in it (watchWriteback), so a cell
 *   whose p99 a burst of the kernel's writeback set shows as such.
 * - Then one more cell under V8's sampling profiler (unless --no-profile):
 *   self and inclusive time by function and by package, and the busy
 *   stretches of --long ms or more (the thread never back at the event
 *   loop, so every request waited), each with what ran in it.
 * - With --alloc, that cell samples what the thread allocates instead
 *   (V8's sampling heap profiler, keeping what the collectors freed since):
 *   bytes a request, by function, self and inclusive. Allocation decides how
 *   often the young generation is collected, each time a pause.
 */
import type { Server } from 'node:http';
import { Session } from 'node:inspector/promises';
import { performance } from 'node:perf_hooks';
import 'reflect-metadata';
import { bareExpress } from './bare-express.js';
import { add, frameName, printProfile, top, type CallFrame, type Profile } from './cpu-profile.js';
import { benchDatabase, numberArg, WARMUP_SECONDS } from './harness.js';
import { Client, LoadWorker } from './http-load.js';
import { IdleProbe } from './idle-probe.js';
import { benchRuns, startService } from './service.js';
import { writebackSettings, writebackText } from './writeback.js';

const RATE = numberArg('rate', 2000);
const SECONDS = numberArg('seconds', 10);
const BATCH = numberArg('batch', 1);
const REPORTERS = numberArg('reporters', 32);
/** `--long 10`: busy stretches of the service's thread at least this long (ms) are listed, with what ran in them. */
const LONG_MS = numberArg('long', 10);
/** `--rounds 2`: cells measured without the profiler, for busy time per request. */
const ROUNDS = numberArg('rounds', 2);
/** `--no-profile`: only those rounds. */
const PROFILE = !process.argv.includes('--no-profile');
/** `--alloc`: profile what the thread allocates (sampled, garbage included) instead of its time. */
const ALLOC = process.argv.includes('--alloc');

interface AllocationNode {
  callFrame: CallFrame;
  selfSize: number;
  children: AllocationNode[];
}

/** Bytes allocated a request, by the function that allocated them (self) and by every function on the stack (inclusive). */
function printAllocations(head: AllocationNode, requests: number): void {
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let total = 0;
  const walk = (node: AllocationNode, stack: Set<string>): number => {
    const name = frameName(node.callFrame);
    const here = new Set(stack).add(name);
    let size = node.selfSize;
    for (const child of node.children) size += walk(child, here);
    if (node.selfSize) add(self, name, node.selfSize);
    // Once per stack: a recursive function's bytes are not counted twice.
    if (!stack.has(name)) add(inclusive, name, size);
    total += node.selfSize;
    return size;
  };
  walk(head, new Set());
  const kb = (bytes: number) => `${(bytes / requests / 1024).toFixed(1).padStart(6)} KB`;
  console.log(`\nallocated on the service's thread: ${kb(total).trim()} a request (sampled)`);
  console.log(`\nself, a request:`);
  for (const [name, bytes] of top(self, 30)) console.log(`  ${kb(bytes)}  ${name}`);
  console.log(`\ninclusive, a request:`);
  for (const [name, bytes] of top(inclusive, 60)) console.log(`  ${kb(bytes)}  ${name}`);
}

async function main() {
  const bench = await benchDatabase();
  const { app, config, port } = await startService(bench.url);
  const loader = new LoadWorker();
  const admin = new Client(port, 4);
  let bare: Server | undefined;
  try {
    const newRun = await benchRuns(admin, 'profile', 1);
    const runs = await Promise.all(Array.from({ length: REPORTERS }, newRun));
    const reporters = runs.map((r) => ({ path: r.path, token: r.reporterToken, node: 'n0' }));
    // The requests a cell sent: paced() sends WARMUP_SECONDS of calls it does not count before those it does.
    const sent = (counted: number) => counted + Math.floor(RATE * WARMUP_SECONDS);
    // Warm-up: JIT, caches, pool connections.
    await loader.run({ port, seconds: 3, batch: BATCH, reporters, rate: RATE });

    // First without the profiler (its sampling costs the thread time of its own): busy time per
    // request, beside bare Express at the same rate and batch (the HTTP platform's own share).
    const ceiling = await bareExpress(config.bodyLimit);
    bare = ceiling.server;
    const bareReporters = reporters.map(() => ({ path: '/bare/run/events', token: 'none', node: 'n0' }));
    await loader.run({ port: ceiling.port, seconds: 1, batch: BATCH, reporters: bareReporters, rate: RATE });
    // Sessions PostgreSQL started on the bench database: the service's pool opening connections mid-cell.
    const sessions = async () => Number((await bench.pool.query<{ n: string }>(`SELECT sessions AS n FROM pg_stat_database WHERE datname = current_database()`)).rows[0]!.n);
    // What the disks did meanwhile, sampled on the probe's thread, not the service's.
    const probe = new IdleProbe();
    const busyPerRequest = async (target: number, of: typeof reporters) => {
      const sessions0 = await sessions();
      const elu0 = performance.eventLoopUtilization();
      const [r, { writeback }] = await probe.during(() => loader.run({ port: target, seconds: SECONDS, batch: BATCH, reporters: of, rate: RATE }));
      const elu = performance.eventLoopUtilization(elu0);
      const requests = sent(r.count);
      const opened = (await sessions()) - sessions0;
      return `${opened} database session${opened === 1 ? '' : 's'} opened, p50 ${r.p50.toFixed(1)} p99 ${r.p99.toFixed(1)} ms${r.errors ? ` ERR×${r.errors} (${r.firstError})` : ''}, thread busy ${(elu.utilization * 100).toFixed(1)}%, ${((elu.active * 1000) / requests).toFixed(0)} µs a request, ${writebackText(writeback)}`;
    };
    const kernel = writebackSettings();
    if (kernel) console.log(kernel);
    console.log(`${RATE} requests/s of ${BATCH} event${BATCH === 1 ? '' : 's'}, ${REPORTERS} reporters on their own runs, ${SECONDS} s a cell:`);
    for (let round = 1; round <= ROUNDS; round++) {
      console.log(`  round ${round}: service ${await busyPerRequest(port, reporters)} | bare Express ${await busyPerRequest(ceiling.port, bareReporters)}`);
    }
    await probe.close();

    if (!PROFILE) return;
    const session = new Session();
    session.connect();
    if (ALLOC) {
      // Every sampled allocation, also those the young or the old generation's collector freed since: what the thread allocates, not what it keeps.
      await session.post('HeapProfiler.enable');
      await session.post('HeapProfiler.startSampling', { samplingInterval: 1024, includeObjectsCollectedByMinorGC: true, includeObjectsCollectedByMajorGC: true });
      const r = await loader.run({ port, seconds: SECONDS, batch: BATCH, reporters, rate: RATE });
      const { profile } = (await session.post('HeapProfiler.stopSampling')) as { profile: { head: AllocationNode } };
      session.disconnect();
      printAllocations(profile.head, sent(r.count));
      return;
    }
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 200 });
    await session.post('Profiler.start');
    await loader.run({ port, seconds: SECONDS, batch: BATCH, reporters, rate: RATE });
    const { profile } = (await session.post('Profiler.stop')) as { profile: Profile };
    session.disconnect();

    printProfile(profile, LONG_MS);
  } finally {
    await admin.close();
    bare?.close();
    await loader.close();
    await app.close();
    await bench.close();
  }
}

await main();
