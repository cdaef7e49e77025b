import { io, type Socket } from 'socket.io-client';
import type { TestApp } from './test-app.js';

/** Everything a socket received, in arrival order, acks included: what a test asserts order on. */
export type Received = { event: string; payload: Record<string, unknown>; at: number };

export interface LiveClient {
  socket: Socket;
  received: Received[];
  /** Emits `subscribe` and resolves with its ack, logged in `received` as event `ack` where it arrived. */
  subscribe(body: unknown): Promise<Record<string, unknown>>;
  unsubscribe(body: unknown): Promise<Record<string, unknown>>;
  /** Resolves when the socket is closed, with Socket.IO's reason. */
  closed: Promise<string>;
  /** Socket.IO's reason for the close, which must come within `timeoutMs`. */
  closedWithin(timeoutMs?: number): Promise<string>;
  /** Resolves once `received` holds an entry matching `match`; rejects after `timeoutMs`. */
  waitFor(match: (r: Received) => boolean, timeoutMs?: number): Promise<Received>;
  close(): void;
}

const SERVER_EVENTS = ['run.event', 'run.updated', 'run.created', 'artifact.revised', 'share.revoked', 'closing', 'unsubscribed'];

/** A real socket.io-client on `/live`, connected (or rejected with the server's connect error). */
export function connectLive(t: TestApp, auth: { token?: string } = {}, extraHeaders: Record<string, string> = {}): Promise<LiveClient> {
  const socket = io(`${t.url}/live`, { auth, extraHeaders, transports: ['websocket'], reconnection: false, forceNew: true });
  const received: Received[] = [];
  const waiters: { match: (r: Received) => boolean; resolve: (r: Received) => void }[] = [];
  const record = (entry: Received) => {
    received.push(entry);
    for (const waiter of [...waiters]) {
      if (waiter.match(entry)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(entry);
      }
    }
  };
  for (const event of SERVER_EVENTS) socket.on(event, (payload: Record<string, unknown>) => record({ event, payload, at: Date.now() }));
  const closed = new Promise<string>((resolve) => socket.on('disconnect', (reason) => resolve(reason)));
  const ask = (name: string, body: unknown) =>
    new Promise<Record<string, unknown>>((resolve) =>
      socket.emit(name, body, (answer: Record<string, unknown>) => {
        record({ event: 'ack', payload: answer, at: Date.now() });
        resolve(answer);
      }),
    );
  const client: LiveClient = {
    socket,
    received,
    subscribe: (body) => ask('subscribe', body),
    unsubscribe: (body) => ask('unsubscribe', body),
    closed,
    closedWithin: (timeoutMs = 1_000) => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<string>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the socket was still open after ${timeoutMs} ms`)), timeoutMs);
      });
      return Promise.race([closed, late]).finally(() => clearTimeout(timer));
    },
    waitFor: (match, timeoutMs = 5_000) => {
      const found = received.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`nothing matching arrived within ${timeoutMs} ms; received ${received.length}, the last ${JSON.stringify(received.slice(-3))}`)), timeoutMs);
        waiters.push({ match, resolve: (r) => (clearTimeout(timer), resolve(r)) });
      });
    },
    close: () => void socket.disconnect(),
  };
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(client));
    socket.once('connect_error', (error: Error & { data?: unknown }) => {
      socket.disconnect();
      reject(error);
    });
  });
}

/** The `run.event` seqs a client received, in arrival order. */
export function seqsOf(client: LiveClient, runId: string): number[] {
  return client.received.filter((r) => r.event === 'run.event' && r.payload.runId === runId).map((r) => r.payload.seq as number);
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
