/**
 * Live stream benchmark: how long a run event takes from a reporter's POST to
 * a viewer's `run.event` on `/live`, and how many deliveries a second the
 * service makes, beside a raw pipeline measured in the same run with the
 * same viewers:
 *
 *   npm run bench:live [-- --seconds 10] [--viewers 100,1000] [--rates 100,500] [--processes 4] [--reporters 8] [--cpu-prof]
 *
 * For each number of viewers and each rate, one cell of --seconds for each side:
 * - Vitrine: the built service as its own process (dist/src/main.js, as a user
 *   runs it) on the bench database. The viewers connect to `/live` with a
 *   personal token and `subscribe {run, after: 0}` to one fresh run; the
 *   load POSTs single events to that run's `/api/v1/runs/{id}/events` with
 *   its reporter token, open loop at the rate (see paced()).
 * - raw: bench/live-raw.ts as its own process, the least such a stream does:
 *   node:http → one pg INSERT per event into a scratch table on the same
 *   database → a stock Socket.IO room emit; the same viewers join the run's
 *   room with the same `subscribe`, the same load POSTs the same bodies.
 * Each event's message is the time the load sent it (performance.timeOrigin +
 * performance.now(), one machine clock); a viewer's latency is its receipt
 * time minus that. Deliveries/s: the counted events every viewer received,
 * over the time from the first counted send to the last receipt (a side that
 * falls behind takes longer). Viewers run in --processes processes of their
 * own (bench/live-viewer.ts), so their CPU shows apart: a cell where they are
 * busy most of a core each is bound by the clients, not the server. The
 * server's CPU and peak RSS are read from /proc for its process.
 * With --cpu-prof the service runs under node --cpu-prof, and once it has
 * stopped its profile over the whole run is summed up as bench:profile does
 * (run one cell, e.g. --viewers 1000 --rates 100, to see where that cell's
 * time goes).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { newId } from '../src/common/ids.js';
import { benchDatabase, fmt, machineTicks, numberArg, paced, stringArg } from './harness.js';
import { Client } from './http-load.js';
import type { ViewerCommand, ViewerReply } from './live-viewer.js';
import { BUCKET_MS } from './live-viewer.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, benchRuns } from './service.js';
import { processCpuMs, processRssMb, startServiceProcess } from './service-process.js';
import { printProfile, type Profile } from './cpu-profile.js';

const SECONDS = numberArg('seconds', 10);
const list = (name: string, fallback: number[]) => stringArg(name)?.split(',').map(Number) ?? fallback;
const VIEWERS = list('viewers', [100, 1000]);
const RATES = list('rates', [100, 500]);
/** `--processes 4`: viewer processes; the viewers are dealt out evenly among them. */
const PROCESSES = numberArg('processes', 4);
/** `--reporters 8`: connections the load POSTs on, each one request at a time, each on a node of its own. */
const REPORTERS = numberArg('reporters', 8);
for (const [name, values] of [['viewers', VIEWERS], ['rates', RATES]] as const) {
  if (!values.length || values.some((v) => !Number.isInteger(v) || v < 1)) throw new Error(`--${name} takes whole numbers, at least 1, separated by commas (got ${stringArg(name)})`);
}
/** After the load stops, how long the viewers may take to receive what was sent before a cell gives up on the rest. */
const DRAIN_MS = 30_000;
const here = path.dirname(fileURLToPath(import.meta.url));
/** `--cpu-prof`: profile the service's process (node --cpu-prof) and print where its time went. */
const CPU_PROF = process.argv.includes('--cpu-prof');

const now = () => performance.timeOrigin + performance.now();

/** A forked process that answers each message with one reply, in order. */
class Child {
  private readonly waiting: ((reply: ViewerReply) => void)[] = [];
  constructor(readonly process: ChildProcess) {
    process.on('message', (reply: ViewerReply) => this.waiting.shift()?.(reply));
  }
  ask<T extends ViewerReply['type']>(command: ViewerCommand, type: T): Promise<Extract<ViewerReply, { type: T }>> {
    return new Promise((resolve, reject) => {
      this.waiting.push((reply) => (reply.type === type ? resolve(reply as Extract<ViewerReply, { type: T }>) : reject(new Error(reply.type === 'error' ? reply.message : `expected ${type}, got ${reply.type}`))));
      this.process.send(command);
    });
  }
}

interface Side {
  name: 'Vitrine' | 'raw';
  pid: number;
  port: number;
  url: string;
  /** A fresh run to watch and post to: its events path and the token to post with. */
  newRun(): Promise<{ id: string; path: string; token?: string }>;
  viewerToken?: string;
}

interface Cell {
  p50: number;
  p99: number;
  sent: number;
  deliveries: number;
  expected: number;
  deliveriesPerSecond: number;
  outOfOrder: number;
  skipped: number;
  closed: Record<string, number>;
  /** Server, viewers (all processes together) and the machine, in % of one core (machine: of all cores). */
  serverCpu: number;
  viewersCpu: number;
  machine: number;
  rssPeakMb: number;
  sentLateP99: number;
  /** Events/s the load got out over its counted stretch: below the rate, the service's answers held it back (each connection has one POST in flight). */
  sentPerSecond: number;
  errors: number;
  firstError?: string;
}

/** The p-th percentile of a histogram of BUCKET_MS buckets, at its bucket's middle. */
function histogramPercentile(histogram: Uint32Array, total: number, p: number): number {
  if (!total) return NaN;
  const rank = Math.min(total - 1, Math.floor((p / 100) * total));
  let seen = 0;
  for (let i = 0; i < histogram.length; i++) {
    seen += histogram[i]!;
    if (seen > rank) return (i + 0.5) * BUCKET_MS;
  }
  return NaN;
}

async function cell(side: Side, viewers: Child[], count: number, rate: number): Promise<Cell> {
  const run = await side.newRun();
  // Dealt out evenly: with 1,000 viewers and 4 processes, 250 each.
  const shares = viewers.map((_, i) => Math.floor(count / viewers.length) + (i < count % viewers.length ? 1 : 0));
  await Promise.all(viewers.map((v, i) => (shares[i] ? v.ask({ type: 'connect', url: side.url, token: side.viewerToken, run: run.id, count: shares[i] }, 'connected') : undefined)));
  const load = new Client(side.port, REPORTERS);
  let k = 0;
  let sent = 0;
  // Counted from here: paced() warms up for half a second first, whose events each viewer leaves out.
  const from = now() + 500;
  await Promise.all(viewers.map((v) => v.ask({ type: 'start', from }, 'started')));
  const cpu0 = processCpuMs(side.pid);
  const ticks0 = machineTicks();
  const t0 = performance.now();
  let rssPeak = processRssMb(side.pid);
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, processRssMb(side.pid))), 200);
  const result = await paced(REPORTERS, rate, SECONDS, async (reporter) => {
    const stamp = now();
    if (stamp >= from) sent++;
    const i = k++;
    const res = await load.request('POST', run.path, { events: [{ id: newId(), node: `n${reporter}`, type: 'progress', percent: i % 101, message: String(stamp) }] }, run.token);
    if (res.status !== 200) throw new Error(`${res.status} ${res.text.slice(0, 300)}`);
  });
  const expected = sent * count;
  // The load is done; the viewers may still be receiving what it sent.
  const drainDeadline = Date.now() + DRAIN_MS;
  let received = 0;
  let lastProgress = Date.now();
  while (Date.now() < drainDeadline && Date.now() - lastProgress < 5_000) {
    const counts = await Promise.all(viewers.map((v) => v.ask({ type: 'count' }, 'counted')));
    const total = counts.reduce((sum, c) => sum + c.deliveries, 0);
    if (total >= expected) break;
    if (total > received) lastProgress = Date.now();
    received = total;
    await new Promise((r) => setTimeout(r, 100));
  }
  const stopped = await Promise.all(viewers.map((v) => v.ask({ type: 'stop' }, 'stopped')));
  clearInterval(sampler);
  const elapsed = performance.now() - t0;
  const serverCpu = ((processCpuMs(side.pid) - cpu0) / elapsed) * 100;
  const ticks1 = machineTicks();
  await Promise.all(viewers.map((v) => v.ask({ type: 'disconnect' }, 'disconnected')));
  await load.close();

  const histogram = new Uint32Array(stopped[0]!.histogram.length);
  for (const s of stopped) for (let i = 0; i < histogram.length; i++) histogram[i]! += s.histogram[i]!;
  const deliveries = stopped.reduce((sum, s) => sum + s.deliveries, 0);
  const lastReceipt = Math.max(...stopped.map((s) => s.lastReceipt));
  const closed: Record<string, number> = {};
  for (const s of stopped) for (const [reason, n] of Object.entries(s.closed)) closed[reason] = (closed[reason] ?? 0) + n;
  return {
    p50: histogramPercentile(histogram, deliveries, 50),
    p99: histogramPercentile(histogram, deliveries, 99),
    sent,
    deliveries,
    expected,
    deliveriesPerSecond: deliveries / (Math.max(SECONDS * 1000, lastReceipt - from) / 1000),
    outOfOrder: stopped.reduce((sum, s) => sum + s.outOfOrder, 0),
    skipped: stopped.reduce((sum, s) => sum + s.skipped, 0),
    closed,
    serverCpu,
    viewersCpu: (stopped.reduce((sum, s) => sum + s.cpuMs, 0) / elapsed) * 100,
    machine: ((ticks1.busy - ticks0.busy) / (ticks1.total - ticks0.total)) * 100,
    rssPeakMb: rssPeak,
    sentLateP99: result.sentLateP99!,
    sentPerSecond: result.perSecond,
    errors: result.errors,
    firstError: result.firstError,
  };
}

/** The load kept up with the rate (5% slack for the timers' rounding). */
const held = (c: Cell, rate: number) => c.sentPerSecond >= rate * 0.95;

function cellText(c: Cell, rate: number): string {
  const lost = c.expected - c.deliveries;
  const closed = Object.entries(c.closed).map(([reason, n]) => `${n} closed (${reason})`);
  const faults = [lost > 0 ? `${fmt(lost)} not received` : '', c.outOfOrder ? `${fmt(c.outOfOrder)} out of order or twice` : '', c.skipped ? `${fmt(c.skipped)} seqs skipped` : '', ...closed, c.errors ? `ERR×${c.errors}` : ''].filter(Boolean);
  return (
    `p50 ${c.p50.toFixed(1).padStart(6)} p99 ${c.p99.toFixed(1).padStart(7)} ms, ${fmt(c.deliveriesPerSecond).padStart(7)} deliveries/s (${fmt(c.deliveries)} of ${fmt(c.expected)}), ` +
    `server cpu ${fmt(c.serverCpu).padStart(3)}% rss ${fmt(c.rssPeakMb).padStart(4)} MB, viewers cpu ${fmt(c.viewersCpu).padStart(3)}%, machine ${fmt(c.machine).padStart(3)}%, sent ${fmt(c.sentPerSecond)} events/s${held(c, rate) ? '' : ' (rate NOT held)'}, sent late p99 ${c.sentLateP99.toFixed(1)} ms` +
    (faults.length ? ` | ${faults.join(', ')}` : '')
  );
}

async function main() {
  const load1 = () => loadavg().map((l) => l.toFixed(2)).join(' ');
  console.log(
    `live bench: Node ${process.version}, ${process.platform}/${process.arch}, ${cpus().length} cores, ${SECONDS} s per cell, viewers ${VIEWERS.join(',')} in ${PROCESSES} processes, rates ${RATES.join(',')} events/s from ${REPORTERS} connections; load average ${load1()}`,
  );
  const bench = await benchDatabase(4);
  const children: ChildProcess[] = [];
  let dataDir: string | undefined;
  let setup: Client | undefined;
  try {
    const [{ server_version: version }] = await bench.dataSource.query('SHOW server_version');
    console.log(`PostgreSQL ${version} (${process.env.DATABASE_URL ? 'DATABASE_URL' : 'embedded'}), one database for both sides`);

    const service = await startServiceProcess(bench.url, (dir) => (CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${path.join(dir, 'profile')}`] : []));
    children.push(service.child);
    dataDir = service.dataDir;
    const raw = fork(path.join(here, 'live-raw.js'), [bench.url], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.push(raw);
    const rawPort = await new Promise<number>((resolve, reject) => {
      raw.once('message', (m: { port: number }) => resolve(m.port));
      raw.once('exit', (code) => reject(new Error(`the raw pipeline exited (${code})`)));
    });
    const viewers = Array.from({ length: PROCESSES }, () => {
      const child = fork(path.join(here, 'live-viewer.js'), [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      children.push(child);
      return new Child(child);
    });

    setup = new Client(service.port, 2);
    const newRun = await benchRuns(setup, 'live bench', REPORTERS);
    const { token: viewerToken } = await setup.expect<{ token: string }>(201, 'POST', '/api/v1/auth/token', { email: ADMIN_EMAIL, password: ADMIN_PASSWORD, name: 'live bench viewers' });
    const sides: Side[] = [
      {
        name: 'Vitrine',
        pid: service.child.pid!,
        port: service.port,
        url: service.url,
        viewerToken,
        newRun: async () => {
          const r = await newRun();
          return { id: r.id, path: r.path, token: r.reporterToken };
        },
      },
      {
        name: 'raw',
        pid: raw.pid!,
        port: rawPort,
        url: `http://127.0.0.1:${rawPort}`,
        newRun: async () => {
          const id = newId();
          return { id, path: `/runs/${id}/events` };
        },
      },
    ];
    console.log(`Vitrine: dist/src/main.js, pid ${service.child.pid}, ${service.url}; raw: node:http → pg INSERT → stock Socket.IO room emit, pid ${raw.pid}, port ${rawPort}`);

    // Warm-up, not reported: JIT on both sides, connections, prepared statements.
    for (const side of sides) await cell(side, viewers, Math.min(20, Math.max(...VIEWERS)), 100).catch((error: unknown) => Promise.reject(new Error(`warm-up on ${side.name}: ${error instanceof Error ? error.message : String(error)}`)));

    console.log(`\nPOST → run.event at each viewer, ms; deliveries/s; server CPU in % of one core and peak RSS; the viewers' processes' CPU together; the machine's busy time in % of all cores`);
    const results: { viewers: number; rate: number; vitrine: Cell; raw: Cell }[] = [];
    for (const count of VIEWERS) {
      for (const rate of RATES) {
        const vitrine = await cell(sides[0]!, viewers, count, rate);
        const base = await cell(sides[1]!, viewers, count, rate);
        results.push({ viewers: count, rate, vitrine, raw: base });
        console.log(`${fmt(count).padStart(6)} viewers, ${fmt(rate).padStart(4)} events/s:`);
        console.log(`   Vitrine ${cellText(vitrine, rate)}`);
        console.log(`   raw     ${cellText(base, rate)}`);
        console.log(`   Vitrine/raw: p99 ${(vitrine.p99 / base.p99).toFixed(2)}×, deliveries/s ${fmt((vitrine.deliveriesPerSecond / base.deliveriesPerSecond) * 100)}%`);
        for (const [name, c] of [['Vitrine', vitrine], ['raw', base]] as const) if (c.firstError) console.log(`   ${name}: ${c.errors} POSTs failed, first: ${c.firstError}`);
      }
    }

    const verdict = (ok: boolean) => (ok ? 'MET' : 'NOT MET');
    console.log(`\ngoals (load average now ${load1()}):`);
    for (const [count, rate] of [
      [100, 500],
      [1000, 100],
    ] as const) {
      const r = results.find((x) => x.viewers === count && x.rate === rate);
      if (!r) {
        console.log(`   p99 within 1.5× of raw at ${fmt(count)} viewers/${rate} events/s: not measured in this run`);
        continue;
      }
      const ratio = r.vitrine.p99 / r.raw.p99;
      // Where a side's POSTs could not go out at the rate, both were compared at what the machine let through, and the line says so.
      const notHeld = [r.vitrine, r.raw].some((c) => !held(c, rate)) ? ` (rate not held: Vitrine sent ${fmt(r.vitrine.sentPerSecond)}/s, raw ${fmt(r.raw.sentPerSecond)}/s)` : '';
      console.log(`   p99 within 1.5× of raw at ${fmt(count)} viewers/${rate} events/s: ${r.vitrine.p99.toFixed(1)} ms against ${r.raw.p99.toFixed(1)} ms, ${ratio.toFixed(2)}× → ${verdict(ratio <= 1.5)}${notHeld}`);
    }
    const worst = results.reduce((a, b) => (b.vitrine.deliveriesPerSecond / b.raw.deliveriesPerSecond < a.vitrine.deliveriesPerSecond / a.raw.deliveriesPerSecond ? b : a));
    const share = worst.vitrine.deliveriesPerSecond / worst.raw.deliveriesPerSecond;
    console.log(
      `   deliveries/s at least 80% of raw Socket.IO in every cell: lowest ${fmt(share * 100)}% (${fmt(worst.viewers)} viewers/${worst.rate} events/s: ${fmt(worst.vitrine.deliveriesPerSecond)} against ${fmt(worst.raw.deliveriesPerSecond)}) → ${verdict(share >= 0.8)}`,
    );
    const thousand = results.filter((r) => r.viewers === 1000);
    if (thousand.length) {
      const rss = Math.max(...thousand.map((r) => r.vitrine.rssPeakMb));
      console.log(`   service RSS at most 300 MB at 1,000 viewers: peak ${fmt(rss)} MB (raw ${fmt(Math.max(...thousand.map((r) => r.raw.rssPeakMb)))} MB) → ${verdict(rss <= 300)}`);
    } else {
      console.log(`   service RSS at most 300 MB at 1,000 viewers: not measured in this run`);
    }
    const faulty = results.filter((r) => r.vitrine.expected !== r.vitrine.deliveries || r.vitrine.outOfOrder || r.vitrine.skipped);
    console.log(`   every viewer received every event once and in order (Vitrine): ${faulty.length ? `${faulty.length} cell(s) not` : 'yes'}`);
  } finally {
    await setup?.close();
    for (const child of children.reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    // Node writes the profile as the service exits, which it has by now.
    if (dataDir && CPU_PROF) {
      const dir = path.join(dataDir, 'profile');
      const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'));
      if (file) {
        console.log(`\nthe service's CPU profile over the whole run (node --cpu-prof):`);
        printProfile(JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as Profile, 10);
      } else console.log(`\nthe service wrote no CPU profile`);
    }
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    await bench.close();
  }
}

await main();
