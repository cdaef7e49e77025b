import { Worker } from 'node:worker_threads';
import { Pool } from 'undici';
import { newId } from '../src/common/ids.js';
import type { IncomingEvent } from '../src/runs/runs.schemas.js';
import { counted, paced, perReporter, type Counted } from './harness.js';

/**
 * A minimal JSON client: `connections` keep-alive connections (undici's pool,
 * one request at a time on each), the body read as text, no parsing beyond the
 * status. It stands in for reporters that run on other machines, and on this
 * one it shares the 2 cores with the service and the database, so it should
 * cost as little as it can: per request it takes about 40% less CPU than
 * node:http's client (52-54 against 85-89 µs on its thread, single events).
 */
export class Client {
  private readonly pool: Pool;
  constructor(port: number, connections: number) {
    this.pool = new Pool(`http://127.0.0.1:${port}`, { connections, pipelining: 1 });
  }

  async request(method: 'GET' | 'POST', urlPath: string, body: unknown, token?: string): Promise<{ status: number; text: string }> {
    const res = await this.pool.request({
      method,
      path: urlPath,
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    });
    return { status: res.statusCode, text: await res.body.text() };
  }

  async expect<T>(status: number, method: 'GET' | 'POST', urlPath: string, body: unknown, token?: string): Promise<T> {
    const res = await this.request(method, urlPath, body, token);
    if (res.status !== status) throw new Error(`${method} ${urlPath}: ${res.status} ${res.text.slice(0, 300)}`);
    return JSON.parse(res.text) as T;
  }

  close(): Promise<void> {
    return this.pool.destroy();
  }
}

/** Progress events for one node, shaped as a reporter sends them (client-side v7 ids as idempotency keys). */
export function progressEvents(node: string, count: number, counter: { n: number }): IncomingEvent[] {
  return Array.from({ length: count }, () => {
    const i = counter.n++;
    return { id: newId(), node, type: 'progress' as const, percent: i % 101, message: `step ${i}` };
  });
}

/** One cell of HTTP load: each reporter POSTs its batches to its run, one request in flight at a time. */
export interface HttpLoad {
  port: number;
  seconds: number;
  batch: number;
  /** One connection each, and one request in flight each: as many reporters as concurrent requests. */
  reporters: { path: string; token: string; node: string }[];
  /** Requests a second in all, open loop (see paced()); without it, each reporter sends its next request when the last is answered. */
  rate?: number;
}

/**
 * One cell of load from this thread. Before any clock starts, every reporter
 * opens its connection and has its first call answered: 32 connections opened
 * at once to runs the service has not cached yet took 50-100 ms each, and at
 * half the peak that backlog outlasted paced()'s warm-up (see LoadWorker for
 * the rest of that start). Reporters that run all day open their connection
 * once; a cell measures them after that. `counting`: see paced().
 */
export async function httpLoad(spec: HttpLoad, counting?: (epochMs: number) => void): Promise<Counted> {
  // A connection of its own for each reporter, as reporters are processes of their own: none waits for
  // another's connection, and none is closed while idle and opened again under a burst (which, from one
  // shared pool, put 40-100 ms on the calls around each reopening in the steady-rate cells).
  const reporters = spec.reporters.map((r) => ({ ...r, client: new Client(spec.port, 1) }));
  const counter = { n: 0 };
  try {
    const post = async (r: (typeof reporters)[number]) => {
      const res = await r.client.request('POST', r.path, { events: progressEvents(r.node, spec.batch, counter) }, r.token);
      if (res.status !== 200) throw new Error(`${res.status} ${res.text.slice(0, 300)}`);
    };
    await Promise.all(reporters.map(post));
    if (spec.rate) return await paced(reporters.length, spec.rate, spec.seconds, (i) => post(reporters[i]!), { counting });
    return await counted(reporters.length, spec.seconds, perReporter(reporters, post));
  } finally {
    await Promise.all(reporters.map((r) => r.client.close()));
  }
}

/**
 * The nice value of the load's thread: above the service's and the
 * database's (0). The load stands in for reporters on other machines, whose
 * calls go out when they are due and whose answers are read when they arrive,
 * whatever this machine is doing. At the same priority it waited for a core
 * behind the service and the database, then sent the calls it owed in a burst
 * that queued in the service, and the lateness counted as commit latency. At
 * half the peak, five interleaved pairs of --peaks runs gave a p99 (median,
 * single events / batches) of 26.5 / 29.0 ms at the same priority and
 * 12.8 / 12.7 ms at this one; inside the service, batches 17.8 / 9.8 ms. It
 * still takes its CPU from them, about 50 µs a request.
 *
 * Tried and left out: the load's thread under SCHED_BATCH as well (its weight
 * kept, but its wakeups no longer preempt the running thread, as an answer
 * read on another machine takes nothing from the service). Bare Express's
 * thread then took 69 µs a call at 2,560 single-event calls/s instead of 154
 * (the load no longer took its core mid-writev), but the service's 276 µs
 * stayed, and the p99 at half the peak did not improve: three interleaved
 * pairs of `--peaks 5119,661 --repeat 2` runs gave single events 7.5, 6.7,
 * 12.5 ms with it and 7.1, 6.1, 6.5 without; batches 8.4, 31.4, 29.7 with it
 * and 10.7, 8.4, 10.0 without.
 */
export const LOAD_NICE = -10;

/** A cell's figures from the load's worker, and whether its thread ran at LOAD_NICE (raising a priority needs root or CAP_SYS_NICE). */
export type LoadResult = Counted & { raised: boolean };

/** What the load's worker posts for a cell: when its counted calls start to fall due (see paced()), then its result or why it failed. */
export type LoadMessage = { counting: number } | LoadResult | { error: string };

/**
 * A worker thread that makes the HTTP load, one cell at a time, so the load is
 * not made on the event loop that serves it. One for the whole bench, as
 * reporters that run all day are compiled and warm: a new worker for each
 * cell ran its first half second of calls in code V8 had not compiled yet, at
 * the load's raised priority, taking the cores from the service. At half the
 * peak that made the service answer in about 13 ms instead of 2 for that
 * half second, and the backlog (up to 117 ms late) ran into the counted calls.
 */
export class LoadWorker {
  private readonly worker = new Worker(new URL('./http-load-worker.js', import.meta.url));

  /** httpLoad(spec) on the worker; `counting`: see paced(). */
  run(spec: HttpLoad, counting?: (epochMs: number) => void): Promise<LoadResult> {
    return new Promise((resolve, reject) => {
      const done = () => {
        this.worker.off('message', onMessage).off('error', onError).off('exit', onExit);
      };
      const onMessage = (message: LoadMessage) => {
        if ('counting' in message) return counting?.(message.counting);
        done();
        if ('error' in message) reject(new Error(message.error));
        else resolve(message);
      };
      const onError = (error: Error) => {
        done();
        reject(error);
      };
      const onExit = (code: number) => {
        done();
        reject(new Error(`the load worker exited (${code})`));
      };
      this.worker.on('message', onMessage).on('error', onError).on('exit', onExit);
      this.worker.postMessage(spec);
    });
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}
