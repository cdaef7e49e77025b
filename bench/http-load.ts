import http from 'node:http';
import { Worker } from 'node:worker_threads';
import { newId } from '../src/common/ids.js';
import type { IncomingEvent } from '../src/runs/runs.schemas.js';
import { counted, paced, perReporter, type Counted } from './harness.js';

/** A minimal JSON client on node:http: keep-alive sockets, no parsing on the hot path beyond the status. */
export class Client {
  readonly agent: http.Agent;
  constructor(
    private readonly port: number,
    maxSockets: number,
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets });
  }

  request(method: string, urlPath: string, body: unknown, token?: string): Promise<{ status: number; text: string }> {
    const payload = Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: this.port,
          method,
          path: urlPath,
          agent: this.agent,
          headers: {
            'content-type': 'application/json',
            'content-length': payload.length,
            ...(token ? { authorization: `Bearer ${token}` } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  async expect<T>(status: number, method: string, urlPath: string, body: unknown, token?: string): Promise<T> {
    const res = await this.request(method, urlPath, body, token);
    if (res.status !== status) throw new Error(`${method} ${urlPath}: ${res.status} ${res.text.slice(0, 300)}`);
    return JSON.parse(res.text) as T;
  }

  close() {
    this.agent.destroy();
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
  concurrency: number;
  seconds: number;
  batch: number;
  reporters: { path: string; token: string; node: string }[];
  /** Requests a second in all, open loop (see paced()); without it, each reporter sends its next request when the last is answered. */
  rate?: number;
}

export async function httpLoad(spec: HttpLoad): Promise<Counted> {
  const client = new Client(spec.port, spec.concurrency);
  const counter = { n: 0 };
  try {
    const post = async (r: HttpLoad['reporters'][number]) => {
      const res = await client.request('POST', r.path, { events: progressEvents(r.node, spec.batch, counter) }, r.token);
      if (res.status !== 200) throw new Error(`${res.status} ${res.text.slice(0, 300)}`);
    };
    if (spec.rate) return await paced(spec.concurrency, spec.rate, spec.seconds, (i) => post(spec.reporters[i]!));
    return await counted(spec.concurrency, spec.seconds, perReporter(spec.reporters, post));
  } finally {
    client.close();
  }
}

/** httpLoad on a worker thread of its own, so the load is not made on the event loop that serves it. */
export function loadFromWorker(spec: HttpLoad): Promise<Counted> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./http-load-worker.js', import.meta.url), { workerData: spec });
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the load worker exited (${code})`)));
  });
}
