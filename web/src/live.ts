import { useSyncExternalStore } from 'react';
import { io, type Socket } from 'socket.io-client';
import type { Run, RunEvent, RunStatus } from './api';

/** What `/live` sends (API.md, Live). */
interface ServerEvents {
  'run.event': (event: RunEvent & { runId: string }) => void;
  'run.updated': (update: { runId: string; status: RunStatus; lastSeq: number }) => void;
  /** To `subscribe {runs}`: a new run the member may read. */
  'run.created': (created: { runId: string }) => void;
  /** A run-summary has no revisions of its own (revision 0): `lastSeq` tells one notice of its run's change from the next. */
  'artifact.revised': (revised: { artifactId: string; revision: number; lastSeq?: number }) => void;
  'share.revoked': (revoked: { shareId: string; reason?: 'revoked' | 'expired' }) => void;
  closing: (reason: { code: string; message: string }) => void;
  /** A subscription the server dropped: access to it was decided again (a role, team or policy changed) and refused. */
  unsubscribed: (notice: { run?: string; artifact?: string; share?: string; error: { code: string; message: string } }) => void;
}
type Ack<S> = { ok: true; snapshot: S; replayed: number } | { ok: false; error: { code: string; message: string } };
interface ClientEvents {
  subscribe: (body: Record<string, unknown>, ack: (answer: Ack<unknown>) => void) => void;
  unsubscribe: (body: Record<string, unknown>, ack: (answer: { ok: boolean }) => void) => void;
}

/** `connecting` before the first connect, `live` while connected, `reconnecting` while a lost connection is retried. */
export type Connection = 'connecting' | 'live' | 'reconnecting';

export class LiveError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface RunWatch {
  /** The run as the server had it when (re)subscribed; `replayed` events follow it. */
  onSnapshot?(run: Run, replayed: number): void;
  onEvent(event: RunEvent): void;
  onUpdated?(update: { status: RunStatus; lastSeq: number }): void;
  onError?(error: LiveError): void;
}

export interface ShareSnapshot {
  share: { id: string; artifactId: string; revision: number | null; expiresAt: string | null };
  artifact: { id: string; title: string; kind: string; revision: number };
}

/**
 * One Socket.IO connection to `/live` and what is watched on it. A watch survives reconnects: a run
 * is subscribed again with `after` = the last seq delivered, so the caller sees every event once,
 * in order, across a restart of the service.
 */
export class LiveClient {
  readonly socket: Socket<ServerEvents, ClientEvents>;
  private state: Connection = 'connecting';
  private readonly listeners = new Set<() => void>();
  private readonly resubscribers = new Set<() => void>();
  private closed = false;
  /** Why the server ended this connection for good (its credential expired): no reconnect then. */
  private ended: string | undefined;

  constructor(auth?: { token: string }) {
    this.socket = io('/live', { auth, transports: ['websocket', 'polling'], withCredentials: true });
    this.socket.on('connect', () => {
      this.set('live');
      for (const resubscribe of this.resubscribers) resubscribe();
    });
    this.socket.on('disconnect', (reason) => {
      this.set('reconnecting');
      // The server closed it (too slow, or a restart that ended the session cleanly): Socket.IO does not retry that by itself.
      if (reason !== 'io server disconnect' || this.ended) return;
      setTimeout(() => {
        if (!this.closed) this.socket.connect();
      }, 500);
    });
    this.socket.on('closing', ({ code }) => {
      if (code !== 'credential_expired') return;
      this.ended = code;
      // The signed-in page asks who is signed in again, and shows the sign-in form.
      window.dispatchEvent(new CustomEvent('vitrine:credential-expired'));
    });
    this.socket.on('connect_error', () => {
      if (this.state === 'live') this.set('reconnecting');
      else if (this.state === 'connecting' && !this.socket.active) this.set('reconnecting');
    });
  }

  get connection(): Connection {
    return this.state;
  }

  onConnection(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    // Also stops a reconnect planned for a server disconnect that came just before (a revoked link's viewer is cut off so).
    this.closed = true;
    this.socket.disconnect();
    this.resubscribers.clear();
  }

  watchRun(runId: string, after: number, watch: RunWatch): () => void {
    let last = after;
    let current = true;
    const onEvent = (event: RunEvent & { runId: string }) => {
      if (!current || event.runId !== runId || event.seq <= last) return;
      last = event.seq;
      watch.onEvent(event);
    };
    const onUpdated = (update: { runId: string; status: RunStatus; lastSeq: number }) => {
      if (current && update.runId === runId) watch.onUpdated?.(update);
    };
    const onDropped = (notice: { run?: string; error: { code: string; message: string } }) => {
      if (current && notice.run === runId) watch.onError?.(new LiveError(notice.error.code, notice.error.message));
    };
    const subscribe = () =>
      this.socket.emit('subscribe', { run: runId, after: last }, (answer) => {
        if (!current) return;
        if (answer.ok) watch.onSnapshot?.(answer.snapshot as Run, answer.replayed);
        else watch.onError?.(new LiveError(answer.error.code, answer.error.message));
      });
    return this.hold({ run: runId }, { 'run.event': onEvent, 'run.updated': onUpdated, unsubscribed: onDropped }, subscribe, () => (current = false));
  }

  /**
   * `subscribe {runs}`: each new run of the org the member may read. `onSubscribed` is told each time
   * the subscription is in place (first, and after every reconnect): runs created before then, since
   * the caller last read them, came with no notice.
   */
  watchRuns(watch: { onCreated(runId: string): void; onSubscribed(): void }): () => void {
    let current = true;
    const onCreated = ({ runId }: { runId: string }) => {
      if (current) watch.onCreated(runId);
    };
    const subscribe = () =>
      this.socket.emit('subscribe', { runs: {} }, (answer) => {
        if (current && answer.ok) watch.onSubscribed();
      });
    return this.hold({ runs: {} }, { 'run.created': onCreated }, subscribe, () => (current = false));
  }

  /** `subscribe {artifact}` or `{share}`: the snapshot on every (re)subscribe, then revisions and revocation. */
  watch<S>(
    target: { artifact: string } | { share: string },
    watch: { onSnapshot?(snapshot: S): void; onRevised?(revision: number, lastSeq?: number): void; onRevoked?(reason: 'revoked' | 'expired'): void; onError?(error: LiveError): void },
  ): () => void {
    let current = true;
    let artifactId = 'artifact' in target ? target.artifact : undefined;
    let shareId: string | undefined;
    const onRevised = (revised: { artifactId: string; revision: number; lastSeq?: number }) => {
      if (current && revised.artifactId === artifactId) watch.onRevised?.(revised.revision, revised.lastSeq);
    };
    const onDropped = (notice: { artifact?: string; share?: string; error: { code: string; message: string } }) => {
      const mine = 'artifact' in target ? notice.artifact === target.artifact : notice.share === target.share;
      if (current && mine) watch.onError?.(new LiveError(notice.error.code, notice.error.message));
    };
    const onRevoked = (revoked: { shareId: string; reason?: 'revoked' | 'expired' }) => {
      if (current && shareId !== undefined && revoked.shareId === shareId) watch.onRevoked?.(revoked.reason ?? 'revoked');
    };
    const subscribe = () =>
      this.socket.emit('subscribe', { ...target }, (answer) => {
        if (!current) return;
        if (!answer.ok) return watch.onError?.(new LiveError(answer.error.code, answer.error.message));
        const snapshot = answer.snapshot as S & Partial<ShareSnapshot>;
        if (snapshot.share) {
          shareId = snapshot.share.id;
          artifactId = snapshot.share.artifactId;
        }
        watch.onSnapshot?.(snapshot);
      });
    return this.hold({ ...target }, { 'artifact.revised': onRevised, 'share.revoked': onRevoked, unsubscribed: onDropped }, subscribe, () => (current = false));
  }

  /**
   * Holds a subscription across reconnects: `listeners` are on and `subscribe` is sent now (when
   * connected) and after every reconnect, until the returned function lets go of `target`.
   */
  private hold(target: Record<string, unknown>, listeners: Partial<ServerEvents>, subscribe: () => void, released: () => void): () => void {
    const entries = Object.entries(listeners) as [keyof ServerEvents, ServerEvents[keyof ServerEvents]][];
    for (const [event, listener] of entries) this.socket.on(event, listener as never);
    this.resubscribers.add(subscribe);
    if (this.socket.connected) subscribe();
    return () => {
      released();
      this.resubscribers.delete(subscribe);
      for (const [event, listener] of entries) this.socket.off(event, listener as never);
      if (this.socket.connected) this.socket.emit('unsubscribe', target, () => undefined);
    };
  }

  private set(state: Connection): void {
    if (state === this.state) return;
    this.state = state;
    for (const listener of this.listeners) listener();
  }
}

let shared: LiveClient | undefined;

/** The signed-in page's one connection (session cookie), made on first use. */
export function live(): LiveClient {
  return (shared ??= new LiveClient());
}

/** Ends the signed-in connection (sign-out). */
export function closeLive(): void {
  shared?.close();
  shared = undefined;
}

export function useConnection(client: LiveClient): Connection {
  return useSyncExternalStore(
    (listener) => client.onConnection(listener),
    () => client.connection,
  );
}
