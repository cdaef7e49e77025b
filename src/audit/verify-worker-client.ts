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
  private worker: Worker | undefined;
  private readonly waiting = new Map<number, { resolve(value: Hashed): void; reject(error: unknown): void }>();
  private nextId = 0;

  hash(rows: string[]): Promise<Hashed> {
    const worker = this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      worker.postMessage({ id, rows });
    });
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    if (worker) await worker.terminate();
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(workerUrl());
    // An idle worker must not keep the process alive.
    worker.unref();
    worker.on('message', ({ id, ...hashed }: Hashed & { id: number }) => {
      this.waiting.get(id)?.resolve(hashed);
      this.waiting.delete(id);
    });
    const fail = (error: unknown) => {
      for (const pending of this.waiting.values()) pending.reject(error);
      this.waiting.clear();
      if (this.worker === worker) this.worker = undefined;
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the verify worker exited (${code})`)));
    this.worker = worker;
    return worker;
  }
}
