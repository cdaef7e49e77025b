import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { DataSource } from 'typeorm';
import { createDataSource } from '../src/database/data-source.js';
import { startEmbeddedPostgres } from '../src/database/embedded-postgres.js';

export interface BenchDatabase {
  url: string;
  dataSource: DataSource;
  /** A raw node-postgres pool on the same database, for the baselines. */
  pool: pg.Pool;
  close(): Promise<void>;
}

/**
 * A fresh, migrated database for one benchmark run: on DATABASE_URL's server
 * when set, else on an embedded PostgreSQL in a temporary directory.
 */
export async function benchDatabase(poolSize = 40): Promise<BenchDatabase> {
  const name = `vitrine_bench_${process.pid}`;
  let serverUrl = process.env.DATABASE_URL;
  let stopServer = async () => undefined;
  if (!serverUrl) {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'vitrine-bench-'));
    const embedded = await startEmbeddedPostgres({ dataDir, database: 'postgres' });
    serverUrl = embedded.url;
    stopServer = async () => {
      await embedded.stop();
      rmSync(dataDir, { recursive: true, force: true });
    };
  }
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name}`);
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const dataSource = createDataSource(url.toString(), { poolSize, applicationName: 'vitrine-bench' });
  await dataSource.initialize();
  await dataSource.runMigrations({ transaction: 'each' });
  const pool = new pg.Pool({ connectionString: url.toString(), max: poolSize });
  return {
    url: url.toString(),
    dataSource,
    pool,
    close: async () => {
      await pool.end();
      await dataSource.destroy();
      const cleanup = new pg.Client({ connectionString: serverUrl });
      await cleanup.connect();
      await cleanup.query(`DROP DATABASE IF EXISTS ${name}`);
      await cleanup.end();
      await stopServer();
    },
  };
}

export function percentile(sorted: ArrayLike<number>, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Operations/s over `seconds`, and latency (ms) percentiles; sorts `latencies`. */
function summary(latencies: number[], seconds: number) {
  latencies.sort((a, b) => a - b);
  return { perSecond: latencies.length / seconds, count: latencies.length, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

/** Failures counted instead of thrown, so one bad request does not abandon the other loops mid-cell; the first one's message is kept. */
function failures() {
  const tally = { errors: 0, firstError: undefined as string | undefined };
  const attempt = async (call: () => Promise<unknown>) => {
    try {
      await call();
    } catch (error) {
      tally.errors++;
      tally.firstError ??= error instanceof Error ? error.message : String(error);
    }
  };
  return { tally, attempt };
}

/** Runs `worker` on `concurrency` loops for `seconds`; returns operations/s and per-operation latency (ms) percentiles. */
export async function load(concurrency: number, seconds: number, worker: () => Promise<unknown>) {
  const latencies: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        await worker();
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return summary(latencies, (performance.now() - start) / 1000);
}

/** paced()'s first seconds, which are not counted. */
export const WARMUP_SECONDS = 0.5;

/**
 * Open-loop load: `rate` calls a second for `seconds`, call k going to
 * reporter k % reporters, each reporter one call at a time (a call due while
 * its reporter is busy waits its turn). Latency runs from when the call was
 * due, not when it was sent, so a backlog shows in it (no coordinated omission);
 * a call sent early (timers round) runs from when it was sent.
 * Calls in a first `warmup` seconds are not counted (JIT, caches); `counting`
 * is told when the counted calls start to fall due (as Date.now() would say
 * then, so another thread can tell its own requests apart).
 */
export async function paced(
  reporters: number,
  rate: number,
  seconds: number,
  call: (reporter: number) => Promise<unknown>,
  { warmup = WARMUP_SECONDS, counting }: { warmup?: number; counting?: (epochMs: number) => void } = {},
): Promise<Counted> {
  const latencies: number[] = [];
  // How long after it was due each counted call was sent: this loop's own delays (a busy or descheduled thread) and a reporter's backlog.
  const sentLate: number[] = [];
  // How long each counted call took from when it was sent: the round trip, without the backlog.
  const roundTrips: number[] = [];
  const { tally, attempt } = failures();
  const chains: Promise<void>[] = Array.from({ length: reporters }, () => Promise.resolve());
  const warm = Math.floor(rate * warmup);
  const total = warm + Math.floor(rate * seconds);
  const t0 = performance.now();
  let start = t0;
  for (let k = 0; k < total; k++) {
    const due = t0 + (k * 1000) / rate;
    if (k === warm) {
      start = due;
      counting?.(performance.timeOrigin + due);
    }
    const wait = due - performance.now();
    if (wait >= 1) await new Promise((r) => setTimeout(r, wait));
    const r = k % reporters;
    const counts = k >= warm;
    chains[r] = chains[r]!.then(async () => {
      // A timer may fire up to a millisecond early: a call sent before it was due is timed from when it was sent.
      const sent = performance.now();
      await attempt(() => call(r));
      if (!counts) return;
      const late = Math.max(0, sent - due);
      const roundTrip = performance.now() - sent;
      sentLate.push(late);
      roundTrips.push(roundTrip);
      latencies.push(late + roundTrip);
    });
  }
  await Promise.all(chains);
  sentLate.sort((a, b) => a - b);
  roundTrips.sort((a, b) => a - b);
  return { ...summary(latencies, (performance.now() - start) / 1000), ...tally, sentLateP99: percentile(sentLate, 99), roundTripP99: percentile(roundTrips, 99), latencies };
}

/** `--name value` from the command line; undefined when `--name` is not given. */
export function stringArg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** `--name value` from the command line, as a number. */
export function numberArg(name: string, fallback: number): number {
  const value = stringArg(name);
  return value === undefined ? fallback : Number(value);
}

/** A whole number with thousands separators, as the tables print figures. */
/** mulberry32: a small seeded generator, so a bench builds the same data on every run. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

export type Counted = Awaited<ReturnType<typeof load>> & {
  errors: number;
  firstError?: string;
  /** paced() only: p99 of how late calls were sent (ms). */
  sentLateP99?: number;
  /** paced() only: p99 from sending a call to its answer (ms). */
  roundTripP99?: number;
  /** paced() only: every counted call's latency from when it was due (ms), sorted, so repeated cells can be pooled. */
  latencies?: number[];
};

/** Runs `worker` under load(), counting its failures (see failures()). */
export async function counted(concurrency: number, seconds: number, worker: () => Promise<unknown>): Promise<Counted> {
  const { tally, attempt } = failures();
  return { ...(await load(concurrency, seconds, () => attempt(worker))), ...tally };
}

/**
 * load() gives its loops no index, so reporters are handed out from an idle
 * list: with as many reporters as loops, each loop holds one reporter for
 * the duration of its request, and no reporter ever has two in flight.
 */
export function perReporter<T>(reporters: T[], call: (r: T) => Promise<unknown>) {
  const idle = [...reporters];
  return async () => {
    const r = idle.pop()!;
    try {
      await call(r);
    } finally {
      idle.push(r);
    }
  };
}

/** Busy and total jiffies over all cores, from the first line of /proc/stat. */
export function machineTicks(): { busy: number; total: number } {
  try {
    const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
    const ticks = fields.map(Number);
    const total = ticks.reduce((a, b) => a + b, 0);
    return { busy: total - ticks[3]! - (ticks[4] ?? 0), total };
  } catch {
    return { busy: NaN, total: NaN };
  }
}
