import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { RecomputeRequest } from './verify-worker.js';

export type Recomputed = { seqs: number[]; stored: string[]; computed: string[] };
type Waiting = Map<number, { resolve(value: Recomputed): void; reject(error: unknown): void }>;

/**
 * The compiled worker: beside this module when it runs from dist/, and in
 * dist/ when this module runs from source under Jest (`npm test` builds first).
 */
function workerUrl(): URL {
  const here = new URL(import.meta.url);
  return here.pathname.endsWith('.ts') ? new URL('../../dist/src/audit/verify-worker.js', here) : new URL('./verify-worker.js', here);
}

/**
 * Long-lived worker threads, started on first use, that read verify's chunks
 * on their own connections and recompute each event's hash. Chunks are dealt
 * out in turn, so two threads (and two database backends) work at once.
 */
export class VerifyWorkers {
  private readonly threads: ({ thread: Worker; waiting: Waiting } | undefined)[];
  private nextId = 0;

  /** `url`: the database the threads read from, each on a connection of its own. */
  constructor(
    private readonly url: string,
    size = Math.min(2, availableParallelism()),
  ) {
    this.threads = Array.from({ length: size }, () => undefined);
  }

  /** Runs `text` (one VERIFY_ROW column per row) and hashes what it reads. */
  recompute(text: string, values: unknown[]): Promise<Recomputed> {
    const id = this.nextId++;
    const { thread, waiting } = this.start(id % this.threads.length);
    return new Promise((resolve, reject) => {
      waiting.set(id, { resolve, reject });
      thread.postMessage({ id, text, values } satisfies RecomputeRequest);
    });
  }

  async close(): Promise<void> {
    const running = this.threads.splice(0, this.threads.length, ...this.threads.map(() => undefined));
    await Promise.all(
      running.map(async (worker) => {
        if (!worker) return;
        // Let the thread end its connection; terminate it if it does not go.
        const exited = new Promise((resolve) => worker.thread.once('exit', resolve));
        worker.thread.postMessage('close');
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
        await worker.thread.terminate();
      }),
    );
  }

  private start(slot: number) {
    const existing = this.threads[slot];
    if (existing) return existing;
    const thread = new Worker(workerUrl(), { workerData: { url: this.url } });
    // An idle worker must not keep the process alive.
    thread.unref();
    // Calls wait on the thread they were sent to: a dying thread fails only its own.
    const worker = { thread, waiting: new Map() as Waiting };
    thread.on('message', ({ id, error, code, ...recomputed }: Recomputed & { id: number; error?: string; code?: string }) => {
      const pending = worker.waiting.get(id);
      worker.waiting.delete(id);
      if (error === undefined) pending?.resolve(recomputed);
      else pending?.reject(Object.assign(new Error(error), code === undefined ? {} : { code }));
    });
    const fail = (error: unknown) => {
      for (const pending of worker.waiting.values()) pending.reject(error);
      worker.waiting.clear();
      if (this.threads[slot] === worker) this.threads[slot] = undefined;
    };
    thread.on('error', fail);
    thread.on('exit', (code) => fail(new Error(`the verify worker exited (${code})`)));
    this.threads[slot] = worker;
    return worker;
  }
}
