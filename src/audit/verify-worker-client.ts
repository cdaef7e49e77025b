import { Worker } from 'node:worker_threads';

type Hashed = { seqs: number[]; stored: string[]; computed: string[] };

/**
 * The compiled worker: beside this module when it runs from dist/, and in
 * dist/ when this module runs from source under Jest (`npm test` builds first).
 */
function workerUrl(): URL {
  const here = new URL(import.meta.url);
  return here.pathname.endsWith('.ts') ? new URL('../../dist/src/audit/verify-worker.js', here) : new URL('./verify-worker.js', here);
}

/** One long-lived worker thread, started on first use, that recomputes event hashes for verify. */
export class VerifyWorker {
  private worker: { thread: Worker; waiting: Map<number, { resolve(value: Hashed): void; reject(error: unknown): void }> } | undefined;
  private nextId = 0;

  hash(rows: string[]): Promise<Hashed> {
    const { thread, waiting } = this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      waiting.set(id, { resolve, reject });
      thread.postMessage({ id, rows });
    });
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    if (worker) await worker.thread.terminate();
  }

  private start() {
    if (this.worker) return this.worker;
    const thread = new Worker(workerUrl());
    // An idle worker must not keep the process alive.
    thread.unref();
    // Calls wait on the thread they were sent to: a dying thread fails only its own.
    const worker = { thread, waiting: new Map<number, { resolve(value: Hashed): void; reject(error: unknown): void }>() };
    thread.on('message', ({ id, ...hashed }: Hashed & { id: number }) => {
      worker.waiting.get(id)?.resolve(hashed);
      worker.waiting.delete(id);
    });
    const fail = (error: unknown) => {
      for (const pending of worker.waiting.values()) pending.reject(error);
      worker.waiting.clear();
      if (this.worker === worker) this.worker = undefined;
    };
    thread.on('error', fail);
    thread.on('exit', (code) => fail(new Error(`the verify worker exited (${code})`)));
    this.worker = worker;
    return worker;
  }
}
