/**
 * The run page under a big run and a fast one, in Chromium:
 *
 *   npm run bench:page [-- --nodes 2000,200] [--rate 500] [--seconds 10] [--repeat 3]
 *
 * For each node count, on the built service in its own process (its
 * embedded or DATABASE_URL PostgreSQL, signed in with a session cookie):
 * - first view: navigation start → the frame that paints the run graph
 *   ([data-testid="run-graph"][data-layout] with a visible node box), and →
 *   data-layout="full" (the worker's ELK layout applied); --repeat times cold
 *   (a fresh browser context: no HTTP cache, no stored layout) and warm (the
 *   same context again), p50/max, and the page's JS heap after a collection;
 * - under load: --rate events/s (started, progress, log, succeeded over many
 *   nodes, open loop, the run's reporter token) for --seconds while the page
 *   is open: rAF intervals, long tasks, DOM commits per frame, clicks on
 *   visible nodes timed until the node panel holds the node's key, POST → the
 *   box's data-status/data-percent, and the heap.
 * Baselines in the same run and the same Chromium (bench/page-baselines.ts):
 * a static page of the same nodes as positioned divs (first paint), a bare
 * React Flow page of the same nodes and edges at precomputed positions (first
 * view, heap, and under the same load, unsubscribed: its frames and a click
 * until the node is selected), and POST → run.event at a socket.io-client in
 * this process (what the page's lag has on top of the stream).
 */
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { io } from 'socket.io-client';
import { benchDatabase, fmt, machineTicks, numberArg, paced, percentile, stringArg } from './harness.js';
import { Client } from './http-load.js';
import { buildReactFlowPage, serveBaselines } from './page-baselines.js';
import { benchGraph, RunDriver, type BenchGraph, type Expect } from './page-graph.js';
import { probeScript, type ProbeReport, type Watch } from './page-probe.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD } from './service.js';
import { processCpuMs, startServiceProcess } from './service-process.js';

const list = (name: string, fallback: number[]) => stringArg(name)?.split(',').map(Number) ?? fallback;
const NODES = list('nodes', [2000, 200]);
const RATE = numberArg('rate', 500);
const SECONDS = numberArg('seconds', 10);
const REPEAT = numberArg('repeat', 3);
/** `--panel`: the node panel's selector; a click counts as answered once it holds the clicked node's key. */
const PANEL = stringArg('panel') ?? '#node-panel';
/** The panel's close button: each timed click closes the panel again, as a person would, so the graph has its whole width for the rest of the load. */
const PANEL_CLOSE = `${PANEL} button[aria-label^="Close"]`;
if (NODES.some((n) => !Number.isInteger(n) || n < 2 || n > 2000)) throw new Error(`--nodes takes whole numbers from 2 to 2,000 (a run's most), separated by commas (got ${stringArg('nodes')})`);
for (const [name, v] of [['rate', RATE], ['seconds', SECONDS], ['repeat', REPEAT]] as const) if (!(v > 0)) throw new Error(`--${name} must be above 0`);
/** Connections the load POSTs on, one request in flight each. */
const REPORTERS = 8;
const CHROMIUM = process.env.VITRINE_CHROMIUM ?? '/usr/bin/chromium';
const VIEWPORT = { width: 1280, height: 720 };
/** How long a first view may take before the bench gives up on it. */
const VIEW_TIMEOUT_MS = 30_000;
/** How long a click may take to open the panel before it counts as unanswered. */
const CLICK_TIMEOUT_MS = 5_000;

const now = () => performance.timeOrigin + performance.now();
const GRAPH = '[data-testid="run-graph"]';
const BOX = '[data-node-key]';
const VITRINE_WATCH: Watch[] = [
  { name: 'fast', container: `${GRAPH}[data-layout]`, box: BOX },
  { name: 'full', container: `${GRAPH}[data-layout="full"]`, box: BOX },
];
const STATIC_WATCH: Watch[] = [{ name: 'view', container: '#graph', box: '.box' }];
const FLOW_WATCH: Watch[] = [{ name: 'view', container: '.react-flow__viewport', box: '.react-flow__node' }];

const ms = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '—' : `${v.toFixed(v < 100 ? 1 : 0)} ms`);
const mb = (bytes: number | undefined) => (bytes === undefined ? '—' : `${(bytes / 1024 / 1024).toFixed(1)} MB`);
const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const p = (xs: number[], q: number) => (xs.length ? percentile(sorted(xs), q) : NaN);
const max = (xs: number[]) => (xs.length ? Math.max(...xs) : NaN);

async function launch(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
}

/** A fresh context (no cache, no storage) with the probe, signed in when `cookie` is given. */
async function newContext(browser: Browser, watch: Watch[], cookie?: { name: string; value: string; url: string }): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport: VIEWPORT });
  if (cookie) await context.addCookies([cookie]);
  await context.addInitScript({ content: probeScript(watch) });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  return { context, page, errors };
}

/** The page's JS heap (bytes) after a full collection: what it holds, not its garbage. */
async function liveHeap(page: Page): Promise<number> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('HeapProfiler.collectGarbage');
  const { usedSize } = await cdp.send('Runtime.getHeapUsage');
  await cdp.detach();
  return usedSize;
}

interface View {
  marks: Record<string, number | undefined>;
  heap: number;
  /** Where the first view's time went, ms from the navigation's start: the document's scripts run (DOMContentLoaded), the run's GET answered, first contentful paint. */
  steps: { scripts?: number; run?: number; paint?: number };
}

/** Navigates and waits for each watched mark in turn; a mark not reached within VIEW_TIMEOUT_MS stays undefined, and so do the ones after it. */
async function view(page: Page, url: string, watch: Watch[]): Promise<View> {
  await page.goto(url, { waitUntil: 'commit' });
  const marks: Record<string, number | undefined> = {};
  for (const w of watch) {
    // Polled from here: the run page's CSP (script-src 'self') refuses waitForFunction's string predicates, not CDP's own evaluation.
    let mark: number | undefined;
    for (const deadline = Date.now() + VIEW_TIMEOUT_MS; mark === undefined && Date.now() < deadline; ) {
      mark = await page.evaluate<number | undefined>(`window.__probe && window.__probe.marks[${JSON.stringify(w.name)}]`);
      if (mark === undefined) await new Promise((r) => setTimeout(r, 50));
    }
    marks[w.name] = mark;
    if (mark === undefined) break;
  }
  const steps = await page.evaluate<View['steps']>(`(() => {
    const nav = performance.getEntriesByType('navigation')[0];
    const run = performance.getEntriesByType('resource').find((e) => /\\/api\\/v1\\/runs\\/[^/?]+$/.test(new URL(e.name).pathname));
    const paint = performance.getEntriesByName('first-contentful-paint')[0];
    return { scripts: nav && nav.domContentLoadedEventEnd, run: run && run.responseEnd, paint: paint && paint.startTime };
  })()`);
  return { marks, heap: await liveHeap(page), steps };
}

/** Node boxes in the DOM, how many of them intersect the viewport, and every element of the document. */
async function domCounts(page: Page, box: string): Promise<{ boxes: number; inView: number; elements: number; keys: string[] }> {
  return page.evaluate(`(() => {
    const boxes = [...document.querySelectorAll(${JSON.stringify(box)})];
    const inView = boxes.filter((b) => { const r = b.getBoundingClientRect(); return r.width > 0 && r.right > 0 && r.bottom > 0 && r.left < innerWidth && r.top < innerHeight; }).length;
    return { boxes: boxes.length, inView, elements: document.getElementsByTagName('*').length, keys: boxes.map((b) => b.getAttribute('data-node-key') || b.getAttribute('data-id')) };
  })()`);
}

/**
 * Clicks a visible node box (one whose key `panel` does not show yet) at its
 * centre; when no box there takes the pointer (something covers it), focuses
 * one and presses Enter instead. Answers the ms from the input's event time
 * until the panel holds the node's key, and how the input was given.
 */
async function timedClick(page: Page, box: string, keyAttribute: string, panel: string): Promise<{ ms: number | 'unanswered'; by: 'click' | 'keyboard' } | 'no target'> {
  const target = await page.evaluate<{ key: string; x: number; y: number; hit: boolean } | null>(`(() => {
    const shown = document.querySelector(${JSON.stringify(panel)})?.textContent ?? '';
    const visible = [...document.querySelectorAll(${JSON.stringify(box)})].filter((b) => {
      const r = b.getBoundingClientRect();
      const x = r.left + r.width / 2, y = r.top + r.height / 2;
      const key = b.getAttribute(${JSON.stringify(keyAttribute)});
      return r.width >= 2 && x >= 0 && y >= 0 && x < innerWidth && y < innerHeight && key && !shown.includes(key);
    });
    const centre = (b) => { const r = b.getBoundingClientRect(); return { x: r.left + r.width / 2, y: r.top + r.height / 2 }; };
    if (!visible.length) return null;
    // Random boxes until one takes the pointer at its centre; hit-testing every box in view
    // (2,000 at a fitted big run) blocked the page under test for seconds, which the bench then measured.
    for (let tries = 0; tries < 20; tries++) {
      const b = visible[Math.floor(Math.random() * visible.length)];
      const c = centre(b);
      if (document.elementFromPoint(c.x, c.y)?.closest(${JSON.stringify(box)}) === b) return { key: b.getAttribute(${JSON.stringify(keyAttribute)}), ...c, hit: true };
    }
    const b = visible[Math.floor(Math.random() * visible.length)];
    b.focus();
    return { key: b.getAttribute(${JSON.stringify(keyAttribute)}), ...centre(b), hit: false };
  })()`);
  if (!target) return 'no target';
  await page.evaluate(`window.__probe.clickWait(${JSON.stringify(panel)}, ${JSON.stringify(target.key)})`);
  if (target.hit) await page.mouse.click(target.x, target.y);
  else await page.keyboard.press('Enter');
  let timer: NodeJS.Timeout | undefined;
  const answer = await Promise.race([page.evaluate<number>('window.__probe.clicked'), new Promise<'unanswered'>((r) => (timer = setTimeout(() => r('unanswered'), CLICK_TIMEOUT_MS)))]);
  clearTimeout(timer);
  return { ms: answer, by: target.hit ? 'click' : 'keyboard' };
}

interface Sent {
  at: number;
  expect?: Expect;
  seq?: number;
}

interface LoadResult {
  report: ProbeReport;
  clicks: number[];
  unanswered: number;
  noTarget: number;
  /** Inputs given as Enter on a focused box, as no box took the pointer. */
  byKeyboard: number;
  heapPeak: number;
  heapAfter: number;
  sent: Sent[];
  sentPerSecond: number;
  errors: number;
  firstError?: string;
  idleTicks: number;
  serviceCpu: number;
  machine: number;
  dom: Awaited<ReturnType<typeof domCounts>>;
}

/** The run's reporter: --rate events/s for --seconds from REPORTERS connections, the next event of `driver` each time, while `page` records. */
/** The node boxes of a page under load; with a `panel`, the bench clicks them and times the panel's answer. */
interface Target {
  box: string;
  keyAttribute: string;
  panel?: string;
  close?: string;
}

async function underLoad(page: Page, target: Target, run: { path: string; reporterToken: string }, driver: RunDriver, port: number, servicePid: number): Promise<LoadResult> {
  const load = new Client(port, REPORTERS);
  const sent: Sent[] = [];
  let heapPeak = 0;
  const cdp = await page.context().newCDPSession(page);
  const sampler = setInterval(() => {
    void cdp.send('Runtime.getHeapUsage').then(({ usedSize }) => (heapPeak = Math.max(heapPeak, usedSize)), () => undefined);
  }, 500);
  const clicks: number[] = [];
  let unanswered = 0;
  let noTarget = 0;
  let byKeyboard = 0;
  const loading = { on: true };
  await page.evaluate('window.__probe.start()');
  const cpu0 = processCpuMs(servicePid);
  const ticks0 = machineTicks();
  const t0 = performance.now();
  // One click every ~2 s of load (at least three), each waiting for its panel before the next.
  const clickEvery = (SECONDS * 1000) / Math.max(3, Math.floor(SECONDS / 2) + 1);
  const clicking = (async () => {
    for (let next = t0 + clickEvery / 2; loading.on && target.panel; next += clickEvery) {
      await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())));
      if (!loading.on) break;
      const answer = await timedClick(page, target.box, target.keyAttribute, target.panel);
      if (answer === 'no target') noTarget++;
      else {
        if (answer.by === 'keyboard') byKeyboard++;
        if (answer.ms === 'unanswered') unanswered++;
        else clicks.push(answer.ms);
        if (target.close) await page.locator(target.close).click({ timeout: 2_000 }).catch(() => undefined);
      }
    }
  })();
  const result = await paced(REPORTERS, RATE, SECONDS, async () => {
    const next = driver.next();
    if (!next) return;
    const entry: Sent = { at: now(), expect: next.expect };
    const res = await load.request('POST', run.path, { events: [next.event] }, run.reporterToken);
    next.done(res.status === 200);
    if (res.status !== 200) throw new Error(`${res.status} ${res.text.slice(0, 300)}`);
    entry.seq = (JSON.parse(res.text) as { lastSeq: number }).lastSeq;
    sent.push(entry);
  });
  loading.on = false;
  await clicking;
  const elapsed = performance.now() - t0;
  const serviceCpu = ((processCpuMs(servicePid) - cpu0) / elapsed) * 100;
  const ticks1 = machineTicks();
  // What was sent last still has to reach the page.
  await new Promise((r) => setTimeout(r, 1000));
  const report = await page.evaluate<ProbeReport>('window.__probe.stop()');
  clearInterval(sampler);
  await cdp.detach();
  await load.close();
  const dom = await domCounts(page, target.box);
  return {
    report,
    clicks,
    unanswered,
    noTarget,
    byKeyboard,
    heapPeak,
    heapAfter: await liveHeap(page),
    sent,
    sentPerSecond: result.perSecond,
    errors: result.errors,
    firstError: result.firstError,
    idleTicks: driver.idleTicks,
    serviceCpu,
    machine: ((ticks1.busy - ticks0.busy) / (ticks1.total - ticks0.total)) * 100,
    dom,
  };
}

const RANK: Record<string, number> = { pending: 0, running: 1, succeeded: 2, failed: 2, skipped: 2, cancelled: 2 };

/**
 * POST → DOM lag of each event that changes a box (started, progress,
 * succeeded): the first recorded change of its node's box at or after the send
 * that shows its state or a later one (a frame may show only the last of
 * several events). Events whose node has no box in the DOM are counted apart.
 */
function domLag(sent: Sent[], changes: ProbeReport['changes'], boxes: Set<string>): { lags: number[]; offscreen: number; unseen: number } {
  const byKey = new Map<string, [number, string, string][]>();
  for (const [at, key, status, percent] of changes) {
    let entries = byKey.get(key);
    if (!entries) byKey.set(key, (entries = []));
    entries.push([at, status, percent]);
  }
  const lags: number[] = [];
  let offscreen = 0;
  let unseen = 0;
  for (const s of sent) {
    if (!s.expect) continue;
    const target = RANK[s.expect.status]!;
    const hit = (byKey.get(s.expect.node) ?? []).find(([at, status, percent]) => {
      if (at < s.at) return false;
      const rank = RANK[status] ?? -1;
      return rank > target || (rank === target && (s.expect!.percent === undefined || Number(percent) >= s.expect!.percent));
    });
    if (hit) lags.push(hit[0] - s.at);
    else if (boxes.has(s.expect.node)) unseen++;
    else offscreen++;
  }
  return { lags, offscreen, unseen };
}

/** A socket.io-client on /live subscribed to the run: each run.event's receipt time by seq. */
async function streamViewer(url: string, token: string, runId: string): Promise<{ receipts: Map<number, number>; close(): void }> {
  const socket = io(`${url}/live`, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
  const receipts = new Map<number, number>();
  socket.on('run.event', (e: { seq: number }) => receipts.set(e.seq, now()));
  const ack = await new Promise<{ ok: boolean; error?: { code: string } }>((resolve, reject) => {
    socket.on('connect_error', reject);
    socket.on('connect', () => socket.emit('subscribe', { run: runId }, resolve));
  });
  if (!ack.ok) throw new Error(`subscribe: ${JSON.stringify(ack.error)}`);
  return { receipts, close: () => socket.close() };
}

/** Steps a node takes before it succeeds, so that no more than about half the run ends during a cell: its POSTs must not meet run_terminal. */
function stepsFor(nodes: number): number {
  const events = RATE * (SECONDS + 1);
  return Math.max(6, Math.ceil((2 * events) / nodes));
}

interface Row {
  figure: string;
  vitrine?: number;
  baseline?: number;
  unit: 'ms' | 'MB' | 'count' | '%';
  baselineName: string;
}

function cellText(v: number | undefined, unit: Row['unit']): string {
  if (v === undefined || Number.isNaN(v)) return '—';
  if (unit === 'ms') return ms(v);
  if (unit === 'MB') return `${v.toFixed(1)} MB`;
  if (unit === '%') return `${v.toFixed(1)}%`;
  return fmt(v);
}

function printTable(rows: Row[]): void {
  const lines = rows.map((r) => [r.figure, cellText(r.vitrine, r.unit), `${cellText(r.baseline, r.unit)} (${r.baselineName})`, Number.isFinite(r.vitrine) && r.baseline ? `${(r.vitrine! / r.baseline).toFixed(2)}×` : '—']);
  const widths = [0, 1, 2, 3].map((i) => Math.max(...[['figure', 'Vitrine', 'baseline', 'ratio'], ...lines].map((l) => l[i]!.length)));
  const fmtLine = (l: string[]) => `| ${l.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(fmtLine(['figure', 'Vitrine', 'baseline', 'ratio']));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const l of lines) console.log(fmtLine(l));
}

async function main() {
  const load1 = () => loadavg().map((l) => l.toFixed(2)).join(' ');
  console.log(`page bench: Node ${process.version}, ${process.platform}/${process.arch}, ${cpus().length} cores, nodes ${NODES.join(',')}, ${RATE} events/s for ${SECONDS} s, ${REPEAT} repetitions; load average ${load1()}`);
  const bench = await benchDatabase(4);
  let service: Awaited<ReturnType<typeof startServiceProcess>> | undefined;
  let browser: Browser | undefined;
  let baselines: Awaited<ReturnType<typeof serveBaselines>> | undefined;
  let setup: Client | undefined;
  const children: ChildProcess[] = [];
  const summary: { nodes: number; rows: Row[]; goals: string[] }[] = [];
  try {
    const [{ server_version: version }] = await bench.dataSource.query('SHOW server_version');
    console.log(`PostgreSQL ${version} (${process.env.DATABASE_URL ? 'DATABASE_URL' : 'embedded'})`);
    service = await startServiceProcess(bench.url);
    children.push(service.child);
    const graphs = NODES.map((n) => benchGraph(n));
    const built = performance.now();
    const flowDir = await buildReactFlowPage();
    baselines = await serveBaselines(flowDir, graphs);
    console.log(`baselines: Vite built the bare React Flow page in ${fmt(performance.now() - built)} ms; served at ${baselines.url}`);
    browser = await launch();
    console.log(`Chromium ${browser.version()} (${CHROMIUM}), viewport ${VIEWPORT.width}×${VIEWPORT.height}; Vitrine: dist/src/main.js, pid ${service.child.pid}, ${service.url}`);

    setup = new Client(service.port, 2);
    const { token } = await setup.expect<{ token: string }>(201, 'POST', '/api/v1/auth/token', { email: ADMIN_EMAIL, password: ADMIN_PASSWORD, name: 'page bench' });
    await setup.expect(201, 'POST', '/api/v1/tools', { name: 'bench-tool', description: 'bench', risk: 'low' }, token);
    await setup.expect(201, 'POST', '/api/v1/skills', { name: 'bench-skill', version: '1.0.0', description: 'bench', tools: ['bench-tool'] }, token);
    const login = await fetch(`${service.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD }) });
    const [cookieName, cookieValue] = (login.headers.getSetCookie()[0] ?? '').split(';')[0]!.split('=') as [string, string];
    if (login.status !== 200 || !cookieValue) throw new Error(`login: ${login.status} ${await login.text()}`);
    const cookie = { name: cookieName, value: cookieValue, url: service.url };

    const newRun = (graph: BenchGraph, title: string) =>
      setup!.expect<{ id: string; reporterToken: string }>(201, 'POST', '/api/v1/runs', {
        title,
        staleAfterSeconds: 7 * 24 * 3600,
        nodes: graph.nodes.map((n) => ({ key: n.key, skill: 'bench-skill', dependsOn: n.dependsOn })),
      }, token);

    for (const graph of graphs) {
      const n = graph.nodes.length;
      const rows: Row[] = [];
      const goals: string[] = [];
      console.log(`\n${fmt(n)} nodes: ${graph.layers} layers, ${fmt(graph.edges)} edges (${graph.longEdges} skip 2+ layers)`);
      const run = await newRun(graph, `page bench ${n}`);
      const runUrl = `${service.url}/runs/${run.id}`;

      // First view: cold (a fresh context) then warm (the same context again), --repeat times.
      const cold: View[] = [];
      const warm: View[] = [];
      let pageErrors: string[] = [];
      for (let r = 0; r < REPEAT; r++) {
        const c = await newContext(browser, VITRINE_WATCH, cookie);
        cold.push(await view(c.page, runUrl, VITRINE_WATCH));
        if (cold.at(-1)!.marks.fast === undefined) {
          pageErrors = c.errors;
          await c.context.close();
          break;
        }
        warm.push(await view(c.page, runUrl, VITRINE_WATCH));
        pageErrors.push(...c.errors);
        await c.context.close();
      }
      const step = (views: View[], name: keyof View['steps']) => views.map((v) => v.steps[name]).filter((m): m is number => m !== undefined);
      const marks = (views: View[], name: string) => views.map((v) => v.marks[name]).filter((m): m is number => m !== undefined);
      const shown = marks(cold, 'fast').length > 0;
      for (const [label, views] of [['cold', cold], ['warm', warm]] as const) {
        const fast = marks(views, 'fast');
        const full = marks(views, 'full');
        console.log(
          `   first view, ${label}: run graph painted p50 ${ms(p(fast, 50))} max ${ms(max(fast))} (${fast.length} of ${views.length}); full layout p50 ${ms(p(full, 50))} max ${ms(max(full))} (${full.length} of ${views.length}); JS heap p50 ${mb(p(views.map((v) => v.heap), 50))}; ` +
            `p50 of the steps before: scripts ran (DOMContentLoaded) ${ms(p(step(views, 'scripts'), 50))}, the run's GET answered ${ms(p(step(views, 'run'), 50))}, first contentful paint ${ms(p(step(views, 'paint'), 50))}`,
        );
      }
      if (!shown) console.log(`   the run page showed no ${GRAPH}[data-layout] with a visible ${BOX} within ${VIEW_TIMEOUT_MS / 1000} s${pageErrors.length ? `; page errors: ${pageErrors.slice(0, 3).join(' | ')}` : ''}`);

      const staticViews: View[] = [];
      const flowViews: View[] = [];
      for (let r = 0; r < REPEAT; r++) {
        const s = await newContext(browser, STATIC_WATCH);
        staticViews.push(await view(s.page, `${baselines.url}/static-${n}.html`, STATIC_WATCH));
        await s.context.close();
        const f = await newContext(browser, FLOW_WATCH);
        flowViews.push(await view(f.page, `${baselines.url}/flow/index.html?n=${n}`, FLOW_WATCH));
        if (f.errors.length) console.log(`   React Flow page errors: ${f.errors.slice(0, 3).join(' | ')}`);
        await f.context.close();
      }
      const staticFirst = marks(staticViews, 'view');
      const flowFirst = marks(flowViews, 'view');
      console.log(`   baseline first view: static ${fmt(n)} divs p50 ${ms(p(staticFirst, 50))} max ${ms(max(staticFirst))}; bare React Flow p50 ${ms(p(flowFirst, 50))} max ${ms(max(flowFirst))}, JS heap p50 ${mb(p(flowViews.map((v) => v.heap), 50))}`);
      const coldFast = marks(cold, 'fast');
      const coldFull = marks(cold, 'full');
      const warmFast = marks(warm, 'fast');
      const warmFull = marks(warm, 'full');
      rows.push(
        { figure: 'first view, cold, p50', vitrine: p(coldFast, 50), baseline: p(staticFirst, 50), unit: 'ms', baselineName: 'static divs' },
        { figure: 'first view, cold, max', vitrine: max(coldFast), baseline: max(flowFirst), unit: 'ms', baselineName: 'bare React Flow' },
        { figure: 'first view, warm, p50', vitrine: p(warmFast, 50), baseline: p(flowFirst, 50), unit: 'ms', baselineName: 'bare React Flow' },
        { figure: 'full layout, cold, p50', vitrine: p(coldFull, 50), baseline: p(flowFirst, 50), unit: 'ms', baselineName: 'bare React Flow' },
        { figure: 'full layout, warm, p50', vitrine: p(warmFull, 50), baseline: p(flowFirst, 50), unit: 'ms', baselineName: 'bare React Flow' },
        { figure: 'JS heap after first view', vitrine: p(cold.map((v) => v.heap), 50) / 2 ** 20, baseline: p(flowViews.map((v) => v.heap), 50) / 2 ** 20, unit: 'MB', baselineName: 'bare React Flow' },
      );
      if (n === 2000) goals.push(`first view of 2,000 nodes within 2 s (cold, every repetition): max ${ms(max(coldFast))} → ${shown && max(coldFast) <= 2000 && coldFast.length === cold.length ? 'MET' : 'NOT MET'}`);

      // Under load: the run page, subscribed, then the bare React Flow page (not subscribed) under the same load on a twin run.
      const steps = stepsFor(n);
      const running = Math.min(150, Math.ceil(n / 4));
      let vitrine: LoadResult | undefined;
      let lag: ReturnType<typeof domLag> | undefined;
      const streamLags: number[] = [];
      if (shown) {
        const c = await newContext(browser, VITRINE_WATCH, cookie);
        const loaded = await view(c.page, runUrl, VITRINE_WATCH);
        if (loaded.marks.full === undefined) console.log(`   (the load starts without the full layout: it did not come within ${VIEW_TIMEOUT_MS / 1000} s)`);
        const viewer = await streamViewer(service.url, token, run.id);
        vitrine = await underLoad(c.page, { box: BOX, keyAttribute: 'data-node-key', panel: PANEL, close: PANEL_CLOSE }, { path: `/api/v1/runs/${run.id}/events`, reporterToken: run.reporterToken }, new RunDriver(graph, steps, running), service.port, service.child.pid!);
        viewer.close();
        for (const s of vitrine.sent) {
          const at = s.seq === undefined ? undefined : viewer.receipts.get(s.seq);
          if (at !== undefined) streamLags.push(at - s.at);
        }
        lag = domLag(vitrine.sent, vitrine.report.changes, new Set(vitrine.dom.keys));
        // What the page showed when the load ended, to look at beside its figures.
        const shot = path.resolve('test-artifacts', 'screenshots', `bench-page-${n}.png`);
        await mkdir(path.dirname(shot), { recursive: true });
        await c.page.screenshot({ path: shot });
        console.log(`   the run page when the load ended: ${path.relative(process.cwd(), shot)}`);
        if (c.errors.length) console.log(`   run page errors under load: ${c.errors.slice(0, 3).join(' | ')}`);
        await c.context.close();
      }
      // The same load on runs of their own, with no page subscribed: what the machine leaves a page that does nothing, and stock React Flow's answer to a click.
      const twin = await newRun(graph, `page bench ${n}, idle page`);
      const s = await newContext(browser, STATIC_WATCH);
      await view(s.page, `${baselines.url}/static-${n}.html`, STATIC_WATCH);
      const idle = await underLoad(s.page, { box: '.box', keyAttribute: 'data-id' }, { path: `/api/v1/runs/${twin.id}/events`, reporterToken: twin.reporterToken }, new RunDriver(graph, steps, running), service.port, service.child.pid!);
      await s.context.close();
      const flowTwin = await newRun(graph, `page bench ${n}, React Flow page`);
      const f = await newContext(browser, FLOW_WATCH);
      await view(f.page, `${baselines.url}/flow/index.html?n=${n}`, FLOW_WATCH);
      const flow = await underLoad(f.page, { box: '.react-flow__node', keyAttribute: 'data-id', panel: '.react-flow__node.selected' }, { path: `/api/v1/runs/${flowTwin.id}/events`, reporterToken: flowTwin.reporterToken }, new RunDriver(graph, steps, running), service.port, service.child.pid!);
      await f.context.close();

      const loadLine = (label: string, r: LoadResult) => {
        const frames = r.report.frames;
        const long = r.report.longTasks.map((t) => t.duration);
        // As INP counts them: an interaction's longest entry.
        const byInteraction = new Map<number, number>();
        for (const e of r.report.inputs) byInteraction.set(e.interaction, Math.max(byInteraction.get(e.interaction) ?? 0, e.duration));
        const inputs = [...byInteraction.values()];
        console.log(
          `   ${label}: sent ${fmt(r.sentPerSecond)} events/s${r.sentPerSecond < RATE * 0.95 ? ' (rate NOT held)' : ''}${r.errors ? `, ${r.errors} POSTs failed (first: ${r.firstError})` : ''}${r.idleTicks ? `, ${r.idleTicks} ticks found every node busy` : ''}; service cpu ${fmt(r.serviceCpu)}%, machine ${fmt(r.machine)}%\n` +
            `      frames: ${fmt(frames.length / r.report.seconds)}/s, rAF interval p50 ${ms(p(frames, 50))} p99 ${ms(p(frames, 99))} max ${ms(max(frames))}; long tasks ${long.length}, ${fmt(long.reduce((a, b) => a + b, 0))} ms in all, longest ${ms(max(long))}; ` +
            `frames with box changes ${fmt(r.report.framesWithCommits)}, with more than one DOM commit ${fmt(r.report.framesWithSeveralCommits)}\n` +
            (r.clicks.length || r.unanswered || r.noTarget ? `      clicks: ${r.clicks.length} answered p50 ${ms(p(r.clicks, 50))} max ${ms(max(r.clicks))}${r.unanswered ? `, ${r.unanswered} unanswered in ${CLICK_TIMEOUT_MS / 1000} s` : ''}${r.noTarget ? `, ${r.noTarget} found no node to click` : ''}${r.byKeyboard ? `, ${r.byKeyboard} by Enter on a focused box (no box took the pointer at its centre)` : ''}; input → next paint (Event Timing) p50 ${ms(p(inputs, 50))} max ${ms(max(inputs))} over ${inputs.length} interactions ≥ 16 ms; ` : '      ') +
            `JS heap peak ${mb(r.heapPeak)}, after ${mb(r.heapAfter)}; node boxes in the DOM ${fmt(r.dom.boxes)} (${fmt(r.dom.inView)} in view), elements ${fmt(r.dom.elements)}`,
        );
      };
      if (vitrine && lag) {
        loadLine('run page', vitrine);
        console.log(
          `      POST → box shows it: p50 ${ms(p(lag.lags, 50))} p99 ${ms(p(lag.lags, 99))} max ${ms(max(lag.lags))} over ${fmt(lag.lags.length)} events` +
            `${lag.offscreen ? `, ${fmt(lag.offscreen)} on nodes with no box in the DOM` : ''}${lag.unseen ? `, ${fmt(lag.unseen)} never shown on a box in the DOM` : ''}; POST → run.event at a socket.io-client: p50 ${ms(p(streamLags, 50))} p99 ${ms(p(streamLags, 99))} over ${fmt(streamLags.length)}`,
        );
      }
      loadLine('idle page (static divs, not subscribed)', idle);
      loadLine('bare React Flow (not subscribed)', flow);

      const v = vitrine;
      const frames = v?.report.frames ?? [];
      const longSum = (r?: LoadResult) => (r ? r.report.longTasks.reduce((a, t) => a + t.duration, 0) : undefined);
      rows.push(
        { figure: `rAF interval p50 at ${RATE} events/s`, vitrine: v && p(frames, 50), baseline: p(idle.report.frames, 50), unit: 'ms', baselineName: 'idle page' },
        { figure: `rAF interval p99`, vitrine: v && p(frames, 99), baseline: p(idle.report.frames, 99), unit: 'ms', baselineName: 'idle page' },
        { figure: `rAF interval max`, vitrine: v && max(frames), baseline: max(idle.report.frames), unit: 'ms', baselineName: 'idle page' },
        { figure: 'long tasks, ms in all', vitrine: longSum(v), baseline: longSum(idle), unit: 'ms', baselineName: 'idle page' },
        { figure: 'click → panel (selected), p50', vitrine: v && p(v.clicks, 50), baseline: p(flow.clicks, 50), unit: 'ms', baselineName: 'bare React Flow' },
        { figure: 'click → panel (selected), max', vitrine: v && max(v.clicks), baseline: max(flow.clicks), unit: 'ms', baselineName: 'bare React Flow' },
        { figure: 'POST → box, p50', vitrine: lag && p(lag.lags, 50), baseline: p(streamLags, 50), unit: 'ms', baselineName: 'socket.io-client' },
        { figure: 'POST → box, p99', vitrine: lag && p(lag.lags, 99), baseline: p(streamLags, 99), unit: 'ms', baselineName: 'socket.io-client' },
        { figure: 'JS heap peak under load', vitrine: v && v.heapPeak / 2 ** 20, baseline: idle.heapPeak / 2 ** 20, unit: 'MB', baselineName: 'idle page' },
        { figure: 'node boxes in the DOM', vitrine: v?.dom.boxes, baseline: flow.dom.boxes, unit: 'count', baselineName: 'bare React Flow' },
      );
      if (v) {
        const answered = v.unanswered === 0 && v.noTarget === 0 && v.clicks.length > 0;
        goals.push(
          `${fmt(n)} nodes at ${RATE} events/s, responsive: every click opens the panel within 200 ms: ${v.clicks.length} answered, max ${ms(max(v.clicks))}${v.unanswered ? `, ${v.unanswered} unanswered` : ''}${v.noTarget ? `, ${v.noTarget} found no node to click` : ''} → ${answered && max(v.clicks) <= 200 ? 'MET' : 'NOT MET'}`,
        );
        // A box something covers (React Flow gives a node that is neither selectable nor draggable no pointer events) takes no click: a person could not open its panel.
        const inputs = v.clicks.length + v.unanswered;
        goals.push(`${fmt(n)} nodes, a click on a node box reaches it (nothing covers its centre): ${!inputs ? 'no input given → not measured' : v.byKeyboard ? `${v.byKeyboard} of ${inputs} inputs had to be Enter on a focused box → NOT MET` : `${inputs} of ${inputs} inputs clicks → MET`}`);
        const share = v.report.framesWithCommits ? (v.report.framesWithSeveralCommits / v.report.framesWithCommits) * 100 : NaN;
        goals.push(`${fmt(n)} nodes, updates batched per animation frame (at most 1% of frames with box changes take more than one DOM commit): ${v.report.framesWithCommits < 20 ? `${v.report.framesWithCommits} frames changed a box, too few to judge → not measured` : `${share.toFixed(1)}% → ${share <= 1 ? 'MET' : 'NOT MET'}`}`);
        // A box for every node in view, and a few beyond it for panning; React Flow's default renders every node.
        const offscreen = v.dom.inView ? (v.dom.boxes <= v.dom.inView * 1.1 + 10 ? 'MET' : 'NOT MET') : 'not measured: no box in view';
        goals.push(`${fmt(n)} nodes, off-screen nodes cost nothing (boxes in the DOM at most 10% over those in view): ${fmt(v.dom.boxes)} in the DOM, ${fmt(v.dom.inView)} in view → ${offscreen}`);
      } else goals.push(`${fmt(n)} nodes at ${RATE} events/s: not measured (the run page showed no graph)`);
      console.log('');
      printTable(rows);
      summary.push({ nodes: n, rows, goals });
    }
    console.log(`\ngoals (load average now ${load1()}):`);
    for (const s of summary) for (const g of s.goals) console.log(`   ${g}`);
  } finally {
    await setup?.close();
    await browser?.close();
    baselines?.server.close();
    for (const child of children.reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    if (service) rmSync(service.dataDir, { recursive: true, force: true });
    await bench.close();
  }
}

await main();
