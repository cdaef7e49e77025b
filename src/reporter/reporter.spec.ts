import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { validate as isUuid, version as uuidVersion } from 'uuid';
import { parseReportArgs, type ReportArgs, UsageError } from './cli.js';
import { Reporter, ReporterError, retryAfterMs, retryDelayMs, type ReporterOptions, type RetryNotice, type RunEvent } from './reporter.js';

/**
 * A real HTTP peer that answers POST /api/v1/runs/{id}/events as the contract says. It only
 * stands in for the server to test the client's behaviour (batching, retries); the
 * end-to-end test against the service itself lives with the runs API.
 */
class RunsPeer {
  readonly requests: { url: string; authorization?: string; events: RunEvent[] }[] = [];
  /** Answers for the next requests, in order; after them, the contract's 200. */
  answers: ((res: ServerResponse, events: RunEvent[]) => void)[] = [];
  delayMs = 0;
  maxInFlight = 0;
  url = '';
  private inFlight = 0;
  private seq = 0;
  private readonly seen = new Set<string>();
  private readonly server: Server = createServer((req, res) => void this.handle(req, res));

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  reset(): void {
    this.requests.length = 0;
    this.answers = [];
    this.delayMs = 0;
    this.maxInFlight = 0;
  }

  /** Applies events as the server does: an id seen before counts as a duplicate. */
  apply(events: RunEvent[]): { accepted: number; duplicates: number; lastSeq: number } {
    let accepted = 0;
    for (const e of events) {
      if (this.seen.has(e.id)) continue;
      this.seen.add(e.id);
      this.seq += 1;
      accepted += 1;
    }
    return { accepted, duplicates: events.length - accepted, lastSeq: this.seq };
  }

  get events(): RunEvent[] {
    return this.requests.flatMap((r) => r.events);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const { events } = JSON.parse(Buffer.concat(chunks).toString()) as { events: RunEvent[] };
    this.requests.push({ url: req.url!, authorization: req.headers.authorization, events });
    if (this.delayMs) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    this.inFlight -= 1;
    const answer = this.answers.shift();
    if (answer) return answer(res, events);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(this.apply(events)));
  }
}

function problem(status: number, code: string, detail: string, headers: Record<string, string> = {}) {
  return (res: ServerResponse) => {
    res
      .writeHead(status, { 'content-type': 'application/problem+json', ...headers })
      .end(JSON.stringify({ type: `https://vitrine.dev/problems/${code}`, title: code, status, detail, code, requestId: 'req-1' }));
  };
}

async function until(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('Reporter', () => {
  const peer = new RunsPeer();
  const errors: ReporterError[] = [];
  // A long interval so only what a test does sends, unless it sets its own.
  const reporter = (options: Partial<ReporterOptions> = {}) =>
    new Reporter({ url: peer.url, token: 'vtr_run_test', runId: 'run-1', flushIntervalMs: 60_000, onError: (e) => errors.push(e), ...options });

  beforeAll(() => peer.start());
  afterAll(() => peer.stop());
  beforeEach(() => {
    peer.reset();
    errors.length = 0;
  });

  it('sends events in order, in batches of batchSize, one request at a time', async () => {
    peer.delayMs = 20;
    const r = reporter({ batchSize: 2 });
    r.started('plan');
    r.progress('plan', 50, 'halfway');
    r.log('plan', 'thinking', 'debug');
    r.heartbeat('plan');
    r.succeeded('plan', { steps: 3 });
    r.started('build');
    r.failed('build', Object.assign(new Error('connect refused'), { code: 'ECONNREFUSED' }));
    r.skipped('test', 'build failed');
    await r.close();

    expect(peer.requests.map((q) => q.events.length)).toEqual([2, 2, 2, 2]);
    expect(peer.maxInFlight).toBe(1);
    expect(peer.requests[0]).toEqual(expect.objectContaining({ url: '/api/v1/runs/run-1/events', authorization: 'Bearer vtr_run_test' }));
    expect(peer.events.map(({ id: _id, at: _at, ...rest }) => rest)).toEqual([
      { node: 'plan', type: 'started' },
      { node: 'plan', type: 'progress', percent: 50, message: 'halfway' },
      { node: 'plan', type: 'log', message: 'thinking', level: 'debug' },
      { node: 'plan', type: 'heartbeat' },
      { node: 'plan', type: 'succeeded', output: { steps: 3 } },
      { node: 'build', type: 'started' },
      { node: 'build', type: 'failed', error: { message: 'connect refused', code: 'ECONNREFUSED' } },
      { node: 'test', type: 'skipped', message: 'build failed' },
    ]);
    const ids = peer.events.map((e) => e.id);
    expect(ids.every((id) => isUuid(id) && uuidVersion(id) === 7)).toBe(true);
    expect([...ids].sort()).toEqual(ids); // v7 ids sort by time: the server can see the order too
    expect(peer.events.every((e) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(e.at))).toBe(true);
  });

  it('sends a full batch at once, and a partial one when the timer fires', async () => {
    const full = reporter({ batchSize: 3 });
    for (let i = 0; i < 3; i += 1) full.log('n', `line ${i}`);
    await until(() => peer.requests.length === 1);
    await full.close();

    const timed = reporter({ flushIntervalMs: 20 });
    timed.heartbeat('n');
    await until(() => peer.requests.length === 2);
    await timed.close();
    expect(peer.requests.map((q) => q.events.length)).toEqual([3, 1]);
  });

  it('retries a 503 and a dropped connection with the same event ids, then succeeds', async () => {
    peer.answers = [problem(503, 'unavailable', 'restarting'), (res) => res.socket!.destroy()];
    const r = reporter({ batchSize: 2 });
    r.started('n');
    r.progress('n', 10);
    r.heartbeat('n');

    await expect(r.flush()).resolves.toEqual({ accepted: 3, duplicates: 0, lastSeq: expect.any(Number) });
    const ids = peer.requests.map((q) => q.events.map((e) => e.id));
    expect(ids).toHaveLength(4);
    expect(ids[1]).toEqual(ids[0]);
    expect(ids[2]).toEqual(ids[0]);
    expect(ids[3]).not.toEqual(ids[0]);
    expect(errors).toEqual([]);
    await r.close();
  });

  it("waits as long as a 503's Retry-After asks before retrying, and tells onRetry first", async () => {
    peer.answers = [problem(503, 'unavailable', 'The database does not answer', { 'retry-after': '1' })];
    const retries: RetryNotice[] = [];
    const sentAt: number[] = [];
    const timedFetch: typeof fetch = (input, init) => {
      sentAt.push(performance.now());
      return fetch(input, init);
    };
    const r = reporter({ onRetry: (notice) => retries.push(notice), fetch: timedFetch });
    r.started('n');
    await expect(r.flush()).resolves.toEqual(expect.objectContaining({ accepted: 1 }));

    expect(retries).toEqual([{ error: expect.objectContaining({ status: 503, code: 'unavailable', retryAfterMs: 1000 }), retry: 1, maxRetries: 8, delayMs: 1000 }]);
    expect(sentAt).toHaveLength(2);
    // Not before the second the server asked for (timers may fire up to a millisecond early).
    expect(sentAt[1]! - sentAt[0]!).toBeGreaterThanOrEqual(999);
    await r.close();
  });

  it('backs off from 50-100 ms to 2.5-5 s, never sooner than Retry-After asks, and waits at most 60 s for it', () => {
    expect([retryDelayMs(0, undefined, 0), retryDelayMs(0, undefined, 1)]).toEqual([50, 100]);
    expect([retryDelayMs(3, undefined, 0), retryDelayMs(3, undefined, 1)]).toEqual([400, 800]);
    expect([retryDelayMs(10, undefined, 0), retryDelayMs(10, undefined, 1)]).toEqual([2_500, 5_000]);
    expect(retryDelayMs(0, 1_000, 1)).toBe(1_000);
    expect(retryDelayMs(10, 1_000, 1)).toBe(5_000);
    expect(retryDelayMs(0, 3_600_000, 0)).toBe(60_000);
  });

  it('reads Retry-After as seconds or as an HTTP date, and ignores what it cannot read', () => {
    const now = Date.parse('2026-12-06T12:00:00Z');
    expect(retryAfterMs('1', now)).toBe(1000);
    expect(retryAfterMs(' 120 ', now)).toBe(120_000);
    expect(retryAfterMs('Sun, 06 Dec 2026 12:00:05 GMT', now)).toBe(5000);
    expect(retryAfterMs('Sun, 06 Dec 2026 11:59:00 GMT', now)).toBe(0);
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs('-1', now)).toBeUndefined();
    expect(retryAfterMs(null, now)).toBeUndefined();
  });

  it('counts a batch applied before its answer was lost as duplicates when retried', async () => {
    peer.answers = [
      (res, events) => {
        peer.apply(events);
        res.socket!.destroy();
      },
    ];
    const r = reporter();
    r.started('n');
    r.heartbeat('n');
    await expect(r.close()).resolves.toEqual({ accepted: 0, duplicates: 2, lastSeq: expect.any(Number) });
    expect(peer.requests).toHaveLength(2);
  });

  it('does not retry a 409: flush rejects with its code and detail, and the batch is dropped', async () => {
    peer.answers = [problem(409, 'node_terminal', 'Node "n" has already succeeded')];
    const r = reporter();
    r.succeeded('n');

    const error = await r.flush().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ReporterError);
    expect(error).toEqual(expect.objectContaining({ status: 409, code: 'node_terminal', detail: 'Node "n" has already succeeded', retriable: false }));
    expect((error as ReporterError).problem).toEqual(expect.objectContaining({ requestId: 'req-1' }));
    expect(peer.requests).toHaveLength(1);

    r.heartbeat('m');
    await r.close();
    expect(peer.requests.map((q) => q.events.map((e) => e.type))).toEqual([['succeeded'], ['heartbeat']]);
  });

  it('surfaces the error after maxRetries and resends the same ids on the next flush', async () => {
    peer.answers = [problem(503, 'unavailable', 'down'), problem(429, 'rate_limited', 'slow down'), problem(500, 'internal_error', 'boom')];
    const r = reporter({ maxRetries: 2 });
    r.started('n');

    await expect(r.flush()).rejects.toEqual(expect.objectContaining({ status: 500, code: 'internal_error' }));
    expect(peer.requests).toHaveLength(3);
    await expect(r.close()).resolves.toEqual(expect.objectContaining({ accepted: 1 }));
    expect(new Set(peer.requests.map((q) => q.events[0]!.id)).size).toBe(1);
  });

  it('reports errors of sends it started itself through onError', async () => {
    peer.answers = [problem(400, 'unknown_node', 'No node "x" in this run')];
    const r = reporter({ flushIntervalMs: 10 });
    r.started('x');
    await until(() => errors.length === 1);
    expect(errors[0]).toEqual(expect.objectContaining({ status: 400, code: 'unknown_node' }));
    await r.close();
  });

  it('turns a response that is not problem+json into a ReporterError named by its status', async () => {
    peer.answers = [(res) => res.writeHead(403, { 'content-type': 'text/html' }).end('<h1>Forbidden</h1>')];
    const r = reporter();
    r.heartbeat('n');
    await expect(r.close()).rejects.toEqual(expect.objectContaining({ status: 403, code: 'http_403', detail: '<h1>Forbidden</h1>' }));
  });

  it('resolves flush with running totals', async () => {
    const r = reporter();
    await expect(r.flush()).resolves.toEqual({ accepted: 0, duplicates: 0, lastSeq: null });
    r.started('n');
    r.progress('n', 100);
    const first = await r.flush();
    r.succeeded('n', 'done');
    const second = await r.close();
    expect(first.accepted).toBe(2);
    expect(second).toEqual({ accepted: 3, duplicates: 0, lastSeq: first.lastSeq! + 1 });
  });

  it('close sends what is queued, stops the timer and the beforeExit hook, and refuses events after it', async () => {
    const listeners = process.listenerCount('beforeExit');
    const r = reporter({ flushIntervalMs: 20 });
    expect(process.listenerCount('beforeExit')).toBe(listeners + 1);
    r.started('n');
    await r.close();
    expect(process.listenerCount('beforeExit')).toBe(listeners);
    expect(() => r.heartbeat('n')).toThrow('Reporter is closed');
    await sleep(60);
    expect(peer.requests).toHaveLength(1);
  });

  it('refuses events the server would refuse, so they cannot sink a batch', () => {
    const r = reporter();
    expect(() => r.progress('n', 101)).toThrow(RangeError);
    expect(() => r.progress('n', Number.NaN)).toThrow(RangeError);
    expect(() => r.succeeded('n', 'x'.repeat(64 * 1024))).toThrow(RangeError);
    expect(() => reporter({ batchSize: 1001 })).toThrow(RangeError);
    void r.close();
  });
});

describe('parseReportArgs', () => {
  const env = { VITRINE_TOKEN: 'vtr_pat_env' };
  const parse = (args: string) => parseReportArgs(['report', '--run', 'r1', '--node', 'plan', ...args.split(' ').filter(Boolean)], env) as ReportArgs;

  it('builds each type of event', () => {
    expect(parse('--started')).toEqual({ url: 'http://localhost:3000', token: 'vtr_pat_env', runId: 'r1', event: { type: 'started', node: 'plan' } });
    expect(parse('--progress 42.5 --message halfway').event).toEqual({ type: 'progress', node: 'plan', percent: 42.5, message: 'halfway' });
    expect(parse('--log --message hi').event).toEqual({ type: 'log', node: 'plan', message: 'hi', level: 'info' });
    expect(parse('--log --message hi --level warn').event).toEqual(expect.objectContaining({ level: 'warn' }));
    expect(parse('--heartbeat').event).toEqual({ type: 'heartbeat', node: 'plan' });
    expect(parse('--succeeded').event).toEqual({ type: 'succeeded', node: 'plan' });
    expect(parse('--succeeded --output {"files":["a.md"]}').event).toEqual({ type: 'succeeded', node: 'plan', output: { files: ['a.md'] } });
    expect(parse('--failed --message boom --error-code E42').event).toEqual({ type: 'failed', node: 'plan', error: { message: 'boom', code: 'E42' } });
    expect(parse('--skipped').event).toEqual({ type: 'skipped', node: 'plan' });
  });

  it('takes the URL and token from the environment, flags overriding', () => {
    const argv = ['report', '--run', 'r1', '--node', 'n', '--started'];
    expect(parseReportArgs(argv, { VITRINE_TOKEN: 't', VITRINE_URL: 'https://vitrine.example' })).toEqual(
      expect.objectContaining({ url: 'https://vitrine.example', token: 't' }),
    );
    expect(parseReportArgs([...argv, '--url', 'http://h:1', '--token', 'flag'], { VITRINE_TOKEN: 't' })).toEqual(
      expect.objectContaining({ url: 'http://h:1', token: 'flag' }),
    );
  });

  it('answers --help', () => {
    expect(parseReportArgs(['--help'], {})).toEqual({ help: true });
  });

  it('rejects bad usage', () => {
    const base = ['report', '--run', 'r1', '--node', 'n'];
    const cases: [string[], RegExp, Record<string, string>?][] = [
      [[], /missing command/],
      [['push', '--started'], /unknown command: push/],
      [[...base, '--started', '--bogus'], /bogus/],
      [['report', '--node', 'n', '--started'], /--run/],
      [['report', '--run', 'r1', '--started'], /--node/],
      [base, /type is required/],
      [[...base, '--started', '--heartbeat'], /--started and --heartbeat/],
      [[...base, '--progress', '101'], /from 0 to 100/],
      [[...base, '--progress', 'half'], /from 0 to 100/],
      [[...base, '--progress', ''], /from 0 to 100/],
      [[...base, '--progress'], /argument missing/],
      [[...base, '--started', '--message', 'x'], /--message does not apply to --started/],
      [[...base, '--log'], /--log needs --message/],
      [[...base, '--log', '--message', 'x', '--level', 'loud'], /--level must be one of/],
      [[...base, '--progress', '5', '--level', 'info'], /--level does not apply/],
      [[...base, '--succeeded', '--output', '{nope'], /not JSON/],
      [[...base, '--failed'], /--failed needs --message/],
      [[...base, '--skipped', '--error-code', 'E'], /--error-code does not apply/],
      [[...base, '--started'], /no token/, {}],
      [[...base, '--started', '--url', 'localhost'], /not a URL/],
    ];
    for (const [argv, message, environment = env] of cases) {
      const thrown = (() => {
        try {
          parseReportArgs(argv, environment);
        } catch (error) {
          return error;
        }
      })();
      expect(thrown).toBeInstanceOf(UsageError);
      expect({ argv, message: (thrown as Error).message }).toEqual({ argv, message: expect.stringMatching(message) });
    }
  });
});

describe('the built package', () => {
  const peer = new RunsPeer();
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
  const node = (args: string[], timeout = 20_000) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const env = { ...process.env, VITRINE_TOKEN: 'vtr_run_cli', VITRINE_URL: peer.url };
      execFile(process.execPath, args, { cwd: root, env, timeout }, (error, stdout, stderr) => resolve({ code: error ? Number(error.code) : 0, stdout, stderr }));
    });
  const run = (args: string[]) => node(['dist/src/reporter/cli.js', ...args]);

  beforeAll(() => peer.start());
  afterAll(() => peer.stop());

  it('exits 0 and prints what was accepted, 1 with the problem on a refusal, 2 on bad usage', async () => {
    await expect(run(['report', '--run', 'r1', '--node', 'plan', '--progress', '30', '--message', 'reading'])).resolves.toEqual({
      code: 0,
      stdout: 'accepted 1 (lastSeq 1)\n',
      stderr: '',
    });
    expect(peer.requests[0]).toEqual(expect.objectContaining({ authorization: 'Bearer vtr_run_cli' }));
    expect(peer.events[0]).toEqual(expect.objectContaining({ node: 'plan', type: 'progress', percent: 30, message: 'reading' }));

    peer.answers = [problem(409, 'dependencies_not_met', 'Node "plan" waits on "fetch"')];
    await expect(run(['report', '--run', 'r1', '--node', 'plan', '--started'])).resolves.toEqual({
      code: 1,
      stdout: '',
      stderr: 'error: dependencies_not_met: Node "plan" waits on "fetch"\n',
    });

    // Retries are reported as they happen, on stderr; the answer still goes to stdout.
    peer.answers = [problem(503, 'unavailable', 'The database does not answer')];
    const retried = await run(['report', '--run', 'r1', '--node', 'plan', '--progress', '40']);
    expect(retried).toEqual({ code: 0, stdout: 'accepted 1 (lastSeq 2)\n', stderr: expect.stringMatching(/^unavailable: The database does not answer; retry 1 of 8 in 0\.\d s\n$/) });

    const usage = await run(['report', '--run', 'r1']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/^error: --node <key> is required\n\nusage: vitrine report/);
  });

  it('imports as vitrine/reporter, never keeps an agent alive, and sends what is queued when its loop drains', async () => {
    peer.reset();
    // A minute's interval: only beforeExit can send in time, and only an unref'd timer lets the process end.
    const agent = `import { Reporter } from 'vitrine/reporter';
      const r = new Reporter({ url: process.env.VITRINE_URL, token: 't', runId: 'r1', flushIntervalMs: 60000 });
      r.started('n');
      r.log('n', 'done');`;
    await expect(node(['--input-type=module', '-e', agent], 10_000)).resolves.toEqual({ code: 0, stdout: '', stderr: '' });
    expect(peer.events.map((e) => e.type)).toEqual(['started', 'log']);
  });
});
