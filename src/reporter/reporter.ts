/**
 * Client for `POST /api/v1/runs/{id}/events`, for agents that report on the nodes of a run.
 * Calls queue events and return at once; a timer sends them in batches, one request at a
 * time and in order. Framework-free (Node built-ins and `uuid`) so agents can import it
 * as `vitrine/reporter` without pulling in the server.
 *
 * The timer never keeps a process alive, and queued events are sent when the event loop
 * drains (`beforeExit`). That event does not fire on `process.exit()` or on a signal:
 * there, `await reporter.close()` first.
 */
import { v7 as uuidv7 } from 'uuid';

export type EventType = 'started' | 'progress' | 'log' | 'heartbeat' | 'succeeded' | 'failed' | 'skipped';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface RunEvent {
  /** Idempotency key: the server applies an id once, so a retried batch is safe. */
  id: string;
  node: string;
  type: EventType;
  percent?: number;
  message?: string;
  level?: LogLevel;
  output?: unknown;
  error?: { message: string; code?: string };
  /** ISO 8601 UTC: when it happened, not when it was sent. */
  at: string;
}

/** The API's RFC 9457 problem body. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  errors?: { path: string; message: string }[];
  requestId?: string;
}

/** Acknowledged so far by this reporter; `lastSeq` is the run's sequence after the last batch. */
export interface ReportTotals {
  accepted: number;
  duplicates: number;
  lastSeq: number | null;
}

export class ReporterError extends Error {
  /** HTTP status; undefined when no response came (network error, timeout). */
  readonly status: number | undefined;
  readonly code: string;
  readonly detail: string;
  readonly problem: Problem | undefined;
  /** How long the server asked to wait before sending again (its Retry-After header), if it did. */
  readonly retryAfterMs: number | undefined;

  constructor(init: { status?: number; code: string; detail: string; problem?: Problem; retryAfterMs?: number; cause?: unknown }) {
    super(`${init.code}: ${init.detail}`, { cause: init.cause });
    this.name = 'ReporterError';
    this.status = init.status;
    this.code = init.code;
    this.detail = init.detail;
    this.problem = init.problem;
    this.retryAfterMs = init.retryAfterMs;
  }

  /** Worth sending again unchanged: no answer, a timeout, rate limiting or a server fault. */
  get retriable(): boolean {
    return this.status === undefined || this.status === 408 || this.status === 429 || this.status >= 500;
  }
}

export interface ReporterOptions {
  /** Base URL of Vitrine, e.g. http://localhost:3000. */
  url: string;
  /** The run's reporter token (`vtr_run_…`) or a personal token (`vtr_pat_…`). */
  token: string;
  runId: string;
  /** Events per request, 1 to 1,000 (default 100). */
  batchSize?: number;
  /** How long an event may wait for others to share its request (default 250 ms). */
  flushIntervalMs?: number;
  /** Retries of a batch after a network error, 408, 429 or 5xx (default 8). */
  maxRetries?: number;
  fetch?: typeof fetch;
  /**
   * Errors of sends the reporter starts itself (timer, full batch, beforeExit), which have
   * no caller to reject. Default: console.error. flush() and close() reject instead.
   */
  onError?: (error: ReporterError) => void;
  /**
   * Told before each retry: the error that failed the attempt, which retry comes next
   * (1 to maxRetries) and how long until it is sent. For progress output (the CLI prints
   * it); by default nothing is said until the retries succeed or run out.
   */
  onRetry?: (retry: RetryNotice) => void;
}

export interface RetryNotice {
  error: ReporterError;
  /** 1 for the first retry. */
  retry: number;
  maxRetries: number;
  delayMs: number;
}

const MAX_BATCH_SIZE = 1000;
/** The server's default body limit is 6 MB; 100 outputs of 64 KiB would pass it and the whole batch would be refused. */
const MAX_BATCH_BYTES = 1024 * 1024;
const MAX_OUTPUT_BYTES = 64 * 1024;
const REQUEST_TIMEOUT_MS = 30_000;
const BACKOFF_START_MS = 100;
const BACKOFF_CAP_MS = 5_000;
/** The most a server's Retry-After can make a retry wait: a longer one is taken as this. */
const RETRY_AFTER_CAP_MS = 60_000;

/** An event serialized when queued: later changes to `output` cannot alter it, and bad JSON throws at the call. */
interface Queued {
  json: string;
  bytes: number;
}

export class Reporter {
  private readonly endpoint: string;
  private readonly token: string;
  private readonly batchSize: number;
  private readonly flushIntervalMs: number;
  private readonly maxRetries: number;
  private readonly fetch: typeof fetch;
  private readonly onError: (error: ReporterError) => void;
  private readonly onRetry: ((retry: RetryNotice) => void) | undefined;

  private readonly queue: Queued[] = [];
  /** Every send runs after the previous one settles: never two requests in flight, so order holds. */
  private chain: Promise<void> = Promise.resolve();
  private autoFlushQueued = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly totals: ReportTotals = { accepted: 0, duplicates: 0, lastSeq: null };
  private readonly onBeforeExit = () => this.autoFlush();

  constructor(options: ReporterOptions) {
    const batchSize = options.batchSize ?? 100;
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH_SIZE) {
      throw new RangeError(`batchSize must be an integer from 1 to ${MAX_BATCH_SIZE}`);
    }
    this.endpoint = `${options.url.replace(/\/+$/, '')}/api/v1/runs/${encodeURIComponent(options.runId)}/events`;
    this.token = options.token;
    this.batchSize = batchSize;
    this.flushIntervalMs = options.flushIntervalMs ?? 250;
    this.maxRetries = options.maxRetries ?? 8;
    this.fetch = options.fetch ?? globalThis.fetch;
    this.onError = options.onError ?? ((error) => console.error(`vitrine reporter: ${error.message}`));
    this.onRetry = options.onRetry;
    process.once('beforeExit', this.onBeforeExit);
  }

  started(node: string): void {
    this.enqueue({ node, type: 'started' });
  }

  /** Throws RangeError outside 0–100: one refused event would sink its whole batch. */
  progress(node: string, percent: number, message?: string): void {
    if (!(percent >= 0 && percent <= 100)) throw new RangeError(`percent must be from 0 to 100, got ${percent}`);
    this.enqueue({ node, type: 'progress', percent, message });
  }

  log(node: string, message: string, level: LogLevel = 'info'): void {
    this.enqueue({ node, type: 'log', message, level });
  }

  heartbeat(node: string): void {
    this.enqueue({ node, type: 'heartbeat' });
  }

  /** Throws RangeError when the output's JSON is over 64 KiB, as the server would refuse it. */
  succeeded(node: string, output?: unknown): void {
    const json = output === undefined ? undefined : JSON.stringify(output);
    if (json !== undefined && Buffer.byteLength(json) > MAX_OUTPUT_BYTES) {
      throw new RangeError(`output must be at most ${MAX_OUTPUT_BYTES} bytes of JSON`);
    }
    this.enqueue({ node, type: 'succeeded', output });
  }

  failed(node: string, error: { message: string; code?: string } | Error): void {
    // A Node system error carries its code (ECONNREFUSED, …) as a string property.
    const code = (error as { code?: unknown }).code;
    this.enqueue({ node, type: 'failed', error: { message: error.message, ...(typeof code === 'string' ? { code } : {}) } });
  }

  skipped(node: string, message?: string): void {
    this.enqueue({ node, type: 'skipped', message });
  }

  /**
   * Sends everything queued, after any send in progress. Resolves with the totals once all
   * of it is acknowledged; rejects with the first batch that failed (see ReporterError).
   */
  flush(): Promise<ReportTotals> {
    this.clearTimer();
    return this.schedule();
  }

  /** Stops the timer and the beforeExit hook, then flushes. Events queued afterwards throw. */
  async close(): Promise<ReportTotals> {
    this.closed = true;
    this.clearTimer();
    process.removeListener('beforeExit', this.onBeforeExit);
    return this.flush();
  }

  private enqueue(event: Omit<RunEvent, 'id' | 'at'>): void {
    if (this.closed) throw new Error('Reporter is closed');
    const json = JSON.stringify({ id: uuidv7(), ...event, at: new Date().toISOString() });
    this.queue.push({ json, bytes: Buffer.byteLength(json) });
    if (this.queue.length >= this.batchSize) {
      this.clearTimer();
      this.autoFlush();
    } else if (!this.timer) {
      // unref: a pending report must not keep the agent's process alive (beforeExit sends it).
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.autoFlush();
      }, this.flushIntervalMs).unref();
    }
  }

  private autoFlush(): void {
    // One queued auto-flush sends everything queued by the time it runs; more would be no-ops.
    if (this.autoFlushQueued || this.queue.length === 0) return;
    this.autoFlushQueued = true;
    const onStart = () => {
      this.autoFlushQueued = false;
    };
    this.schedule(onStart).catch((error: unknown) => this.onError(toReporterError(error)));
  }

  private schedule(onStart?: () => void): Promise<ReportTotals> {
    const sent = this.chain.then(async () => {
      onStart?.();
      await this.sendQueued();
      return { ...this.totals };
    });
    this.chain = sent.then(
      () => undefined,
      () => undefined,
    );
    return sent;
  }

  private async sendQueued(): Promise<void> {
    while (this.queue.length > 0) {
      const count = this.nextBatchLength();
      const body = `{"events":[${this.queue
        .slice(0, count)
        .map((e) => e.json)
        .join(',')}]}`;
      try {
        const ack = await this.post(body);
        this.totals.accepted += ack.accepted;
        this.totals.duplicates += ack.duplicates;
        this.totals.lastSeq = ack.lastSeq;
      } catch (error) {
        // A refused batch would be refused again: drop it. One that ran out of retries stays
        // first in the queue; the next flush resends the same ids, which the server dedupes.
        if (error instanceof ReporterError && !error.retriable) this.queue.splice(0, count);
        throw error;
      }
      this.queue.splice(0, count);
    }
  }

  /** Up to batchSize events, and no more bytes than a body the server takes (at least one event). */
  private nextBatchLength(): number {
    let count = 0;
    let bytes = 0;
    for (const event of this.queue) {
      if (count === this.batchSize || (count > 0 && bytes + event.bytes > MAX_BATCH_BYTES)) break;
      count += 1;
      bytes += event.bytes + 1;
    }
    return count;
  }

  private async post(body: string): Promise<{ accepted: number; duplicates: number; lastSeq: number }> {
    for (let attempt = 0; ; attempt += 1) {
      let error: ReporterError;
      try {
        const response = await this.fetch(this.endpoint, {
          method: 'POST',
          headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json', accept: 'application/json' },
          body,
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
        if (response.ok) return (await response.json()) as { accepted: number; duplicates: number; lastSeq: number };
        error = await problemError(response);
      } catch (thrown) {
        error = toReporterError(thrown);
      }
      if (!error.retriable || attempt >= this.maxRetries) throw error;
      const delayMs = retryDelayMs(attempt, error.retryAfterMs);
      this.onRetry?.({ error, retry: attempt + 1, maxRetries: this.maxRetries, delayMs });
      // This timer is not unref'd: a retry under way at beforeExit must still finish.
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }

  private clearTimer(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}

async function problemError(response: Response): Promise<ReporterError> {
  const text = await response.text().catch(() => '');
  let problem: Problem | undefined;
  try {
    const parsed = JSON.parse(text) as Partial<Problem>;
    if (typeof parsed.code === 'string') problem = parsed as Problem;
  } catch {
    // Not problem+json (a proxy's error page, say): fall back to the status below.
  }
  return new ReporterError({
    status: response.status,
    code: problem?.code ?? `http_${response.status}`,
    detail: problem?.detail ?? (text.slice(0, 200) || response.statusText),
    problem,
    retryAfterMs: retryAfterMs(response.headers.get('retry-after')),
  });
}

/**
 * How long to wait before retry `attempt + 1`: exponential backoff with jitter
 * (half to all of 100 ms, 200 ms, … up to 5 s) so many agents recovering at
 * once do not retry in step, and never sooner than the server asked
 * (`askedMs`, from Retry-After; Vitrine's 503 says 1 s), up to 60 s.
 */
export function retryDelayMs(attempt: number, askedMs: number | undefined, random = Math.random()): number {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_START_MS * 2 ** attempt);
  return Math.max(ceiling / 2 + (random * ceiling) / 2, Math.min(askedMs ?? 0, RETRY_AFTER_CAP_MS));
}

/** A Retry-After header (RFC 9110: delay-seconds or an HTTP date) as milliseconds from now; undefined if absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (header === null) return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  // Every HTTP date names its month; Date.parse would read "-1" as a year.
  if (!/[a-z]/i.test(value)) return undefined;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function toReporterError(error: unknown): ReporterError {
  if (error instanceof ReporterError) return error;
  // fetch rejects with TypeError('fetch failed') and puts the reason (ECONNREFUSED, …) in cause.
  const reason = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  return new ReporterError({ code: 'network_error', detail: reason instanceof Error ? reason.message : String(reason), cause: error });
}
