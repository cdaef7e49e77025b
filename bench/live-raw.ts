/**
 * bench:live's baseline, in a process of its own as the service is: the
 * least a live stream of run events can do. node:http takes a reporter's
 * POST, one pg INSERT per event into a scratch table on the service's own
 * database commits it, and a stock Socket.IO server (no Nest, no auth, no
 * policy, no replay, no order kept) emits it to the run's room, which a
 * viewer joins with the same `subscribe {run}` the service takes.
 *
 *   node dist/bench/live-raw.js <database url>   (forked by bench/live.ts; says its port over IPC, stops on SIGTERM)
 */
import { createServer, type IncomingMessage } from 'node:http';
import pg from 'pg';
import { Server } from 'socket.io';

interface Posted {
  events: { id: string; node: string; type: string; percent?: number; message?: string }[];
}

const pool = new pg.Pool({ connectionString: process.argv[2], max: 10 });
await pool.query(`CREATE TABLE IF NOT EXISTS bench_live_raw (run_id uuid NOT NULL, seq bigint NOT NULL, id uuid NOT NULL, at timestamptz NOT NULL, node text NOT NULL, type text NOT NULL, data jsonb NOT NULL, PRIMARY KEY (run_id, seq))`);

/** Each run's last seq, in memory: nothing else needs it here. */
const seqs = new Map<string, number>();

function body(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (text += chunk));
    request.on('end', () => resolve(text));
    request.on('error', reject);
  });
}

const http = createServer((request, response) => {
  const match = /^\/runs\/([^/]+)\/events$/.exec(request.url ?? '');
  if (request.method !== 'POST' || !match) {
    response.writeHead(404).end();
    return;
  }
  const runId = match[1]!;
  body(request)
    .then(async (text) => {
      const { events } = JSON.parse(text) as Posted;
      const at = new Date().toISOString();
      for (const event of events) {
        const seq = (seqs.get(runId) ?? 0) + 1;
        seqs.set(runId, seq);
        await pool.query({
          name: 'bench_live_raw_insert',
          text: `INSERT INTO bench_live_raw (run_id, seq, id, at, node, type, data) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
          values: [runId, seq, event.id, at, event.node, event.type, JSON.stringify({ percent: event.percent, message: event.message })],
        });
        live.to(`run:${runId}`).emit('run.event', { runId, seq, id: event.id, at, node: event.node, type: event.type, percent: event.percent ?? null, message: event.message ?? null });
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ accepted: events.length }));
    })
    .catch((error: unknown) => {
      response.writeHead(500, { 'content-type': 'text/plain' }).end(error instanceof Error ? error.message : String(error));
    });
});

const io = new Server(http, { serveClient: false });
const live = io.of('/live');
live.on('connection', (socket) => {
  socket.on('subscribe', (subscription: { run: string }, ack: (answer: { ok: true }) => void) => {
    void socket.join(`run:${subscription.run}`);
    ack({ ok: true });
  });
});

http.listen(0, '127.0.0.1', () => {
  const address = http.address() as { port: number };
  process.send!({ port: address.port });
});
// Its database connections closed before it exits, so the bench can drop the database.
process.on('SIGTERM', () => {
  void io.close();
  void pool.end().finally(() => process.exit(0));
});
