/**
 * One process of bench:live's viewers (bench/live.ts forks several, so their
 * CPU is their own and shows apart from the service's): it holds its share of
 * the viewers as real socket.io-client sockets, each subscribed to one run,
 * and records for every `run.event` how long after its sender stamped it the
 * event arrived, in a histogram (the counts of a cell's millions of
 * deliveries cannot cross the IPC channel one by one).
 */
import { io, type Socket } from 'socket.io-client';

/** Histogram buckets: 50 µs wide up to 10 s; later arrivals go into the last. */
export const BUCKET_MS = 0.05;
export const BUCKETS = 200_000;

export type ViewerCommand =
  | { type: 'connect'; url: string; token?: string; run: string; count: number }
  | { type: 'start'; from: number }
  | { type: 'count' }
  | { type: 'stop' }
  | { type: 'disconnect' };

export type ViewerReply =
  | { type: 'connected'; sockets: number }
  | { type: 'started' }
  | { type: 'counted'; deliveries: number }
  | {
      type: 'stopped';
      /** Counted deliveries (stamped at or after `from`), by latency bucket. */
      histogram: Uint32Array;
      deliveries: number;
      /** Receipt time (epoch ms) of the last counted delivery. */
      lastReceipt: number;
      /** Seqs that came out of order or twice, and seqs skipped, over every socket. */
      outOfOrder: number;
      skipped: number;
      /** Sockets the server closed during the cell, by reason. */
      closed: Record<string, number>;
      /** This process's CPU over the cell (ms). */
      cpuMs: number;
    }
  | { type: 'disconnected' }
  | { type: 'error'; message: string };

const send = (reply: ViewerReply) => process.send!(reply);
const now = () => performance.timeOrigin + performance.now();

let sockets: Socket[] = [];
let from = Infinity;
let histogram = new Uint32Array(BUCKETS);
let deliveries = 0;
let lastReceipt = 0;
let outOfOrder = 0;
let skipped = 0;
let closed: Record<string, number> = {};
let cpu = process.cpuUsage();

function record(stamp: number, at: number): void {
  if (stamp < from) return;
  const bucket = Math.min(BUCKETS - 1, Math.max(0, Math.floor((at - stamp) / BUCKET_MS)));
  histogram[bucket]!++;
  deliveries++;
  lastReceipt = at;
}

/** One viewer: connects, subscribes and resolves once the subscription's ack says ok. */
function viewer(url: string, token: string | undefined, run: string): Promise<Socket> {
  const socket = io(`${url}/live`, { auth: token ? { token } : {}, transports: ['websocket'], reconnection: false, forceNew: true });
  // Subscribed with after 0 to a run with no events yet (or replayed from its first): seqs run 1, 2, 3, …
  let last = 0;
  socket.on('run.event', (event: { seq: number; message: string }) => {
    const at = now();
    if (event.seq <= last) outOfOrder++;
    else if (event.seq > last + 1) skipped += event.seq - last - 1;
    last = Math.max(last, event.seq);
    record(Number(event.message), at);
  });
  socket.on('disconnect', (reason) => {
    if (reason !== 'io client disconnect') closed[reason] = (closed[reason] ?? 0) + 1;
  });
  return new Promise((resolve, reject) => {
    socket.once('connect_error', (error) => reject(new Error(`connect: ${error.message}`)));
    socket.once('connect', () =>
      socket.emit('subscribe', { run, after: 0 }, (ack: { ok: boolean; error?: { code: string; message: string } }) => {
        if (!ack.ok) return reject(new Error(`subscribe: ${ack.error?.code} ${ack.error?.message}`));
        resolve(socket);
      }),
    );
  });
}

async function handle(command: ViewerCommand): Promise<ViewerReply> {
  switch (command.type) {
    case 'connect': {
      // 25 handshakes at a time: a thousand at once is a burst no operations page makes.
      for (let i = 0; i < command.count; i += 25) {
        const batch = Math.min(25, command.count - i);
        sockets.push(...(await Promise.all(Array.from({ length: batch }, () => viewer(command.url, command.token, command.run)))));
      }
      return { type: 'connected', sockets: sockets.length };
    }
    case 'start':
      from = command.from;
      histogram = new Uint32Array(BUCKETS);
      deliveries = 0;
      lastReceipt = 0;
      outOfOrder = 0;
      skipped = 0;
      closed = {};
      cpu = process.cpuUsage();
      return { type: 'started' };
    case 'count':
      return { type: 'counted', deliveries };
    case 'stop': {
      const used = process.cpuUsage(cpu);
      return { type: 'stopped', histogram, deliveries, lastReceipt, outOfOrder, skipped, closed, cpuMs: (used.user + used.system) / 1000 };
    }
    case 'disconnect':
      for (const socket of sockets) socket.disconnect();
      sockets = [];
      from = Infinity;
      return { type: 'disconnected' };
  }
}

process.on('message', (command: ViewerCommand) => {
  handle(command).then(send, (error: unknown) => send({ type: 'error', message: error instanceof Error ? error.message : String(error) }));
});
