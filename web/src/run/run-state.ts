import { TERMINAL_NODE, TERMINAL_RUN, type NodeStatus, type Run, type RunEvent, type RunNode, type RunStatus } from '../api';

/** A node as the page shows it: the server's node plus when it was last heard from (for "silent for 2 m"). */
export interface NodeState extends RunNode {
  /** When its last event was stamped; null when unknown (a snapshot does not say). */
  lastEventAt: string | null;
}

/** Nodes a bucket of a NodeMap holds, about. */
const BUCKET = 32;

/**
 * A fold's nodes: a read-only map that shares all but the changed nodes' buckets with the map it was
 * made from, so a batch of events costs the nodes it changed, not a copy of every node (a 2,000-node
 * Map copied on each animation frame was 0.3 ms of it). Iterates bucket by bucket, the same order in
 * every map made from one another.
 */
export class NodeMap implements ReadonlyMap<string, NodeState> {
  private constructor(
    /** Which bucket holds each key: one for the run, shared by every map made from the first. */
    private readonly index: ReadonlyMap<string, number>,
    private readonly buckets: readonly ReadonlyMap<string, NodeState>[],
  ) {}

  static of(nodes: Iterable<NodeState>): NodeMap {
    const index = new Map<string, number>();
    const buckets: Map<string, NodeState>[] = [];
    for (const node of nodes) {
      const b = Math.floor(index.size / BUCKET);
      index.set(node.key, b);
      (buckets[b] ??= new Map()).set(node.key, node);
    }
    return new NodeMap(index, buckets);
  }

  get size(): number {
    return this.index.size;
  }

  get(key: string): NodeState | undefined {
    const b = this.index.get(key);
    return b === undefined ? undefined : this.buckets[b]!.get(key);
  }

  has(key: string): boolean {
    return this.index.has(key);
  }

  /** A map with `changed` (nodes this map has) in place of its own: only their buckets are copied. */
  with(changed: Iterable<NodeState>): NodeMap {
    const buckets = [...this.buckets];
    const copied = new Set<number>();
    for (const node of changed) {
      const b = this.index.get(node.key);
      if (b === undefined) continue;
      if (!copied.has(b)) {
        buckets[b] = new Map(buckets[b]);
        copied.add(b);
      }
      (buckets[b] as Map<string, NodeState>).set(node.key, node);
    }
    return new NodeMap(this.index, buckets);
  }

  *entries(): MapIterator<[string, NodeState]> {
    for (const bucket of this.buckets) yield* bucket.entries();
  }

  *keys(): MapIterator<string> {
    for (const bucket of this.buckets) yield* bucket.keys();
  }

  *values(): MapIterator<NodeState> {
    for (const bucket of this.buckets) yield* bucket.values();
  }

  [Symbol.iterator](): MapIterator<[string, NodeState]> {
    return this.entries();
  }

  forEach(callback: (value: NodeState, key: string, map: ReadonlyMap<string, NodeState>) => void, thisArg?: unknown): void {
    for (const [key, value] of this.entries()) callback.call(thisArg, value, key, this);
  }

  get [Symbol.toStringTag](): string {
    return 'NodeMap';
  }
}

/** A run's state after the events up to `seq`. Immutable: a change makes new objects for what changed only. */
export interface RunFold {
  seq: number;
  status: RunStatus;
  /** When the run ended, as far as its events say (the last node's end). */
  endedAt: string | null;
  nodes: NodeMap;
}

/** How a skip's or cancel's reason reads: `upstream_failed` → "upstream failed". */
export const reasonText = (reason: string | null) => (reason ? reason.replace(/_/g, ' ') : null);

function pendingNode(node: RunNode): NodeState {
  return { key: node.key, title: node.title, skill: node.skill, dependsOn: node.dependsOn, status: 'pending', reason: null, percent: null, message: null, stalled: false, startedAt: null, endedAt: null, lastEventAt: null };
}

/** The run as it was created: every node pending, seq 0. */
export function initialFold(nodes: readonly RunNode[]): RunFold {
  return { seq: 0, status: 'pending', endedAt: null, nodes: NodeMap.of(nodes.map(pendingNode)) };
}

/** The run as the server answered it (`GET /runs/{id}` or a live snapshot), at its `lastSeq`. */
export function foldFromRun(run: Run): RunFold {
  return { seq: run.lastSeq, status: run.status, endedAt: run.endedAt, nodes: NodeMap.of(run.nodes.map((n) => ({ ...n, lastEventAt: null }))) };
}

/** The server's rule (src/runs/run-state.ts derive): pending while nothing started, failed/succeeded once every node ended, else running; a cancel is final. */
function deriveStatus(previous: RunStatus, nodes: ReadonlyMap<string, NodeState>): RunStatus {
  if (previous === 'cancelled') return previous;
  let allPending = true;
  let allEnded = true;
  let anyFailed = false;
  for (const node of nodes.values()) {
    if (node.status !== 'pending') allPending = false;
    if (!TERMINAL_NODE.has(node.status)) allEnded = false;
    if (node.status === 'failed') anyFailed = true;
  }
  if (allPending) return 'pending';
  if (allEnded) return anyFailed ? 'failed' : 'succeeded';
  return 'running';
}

/**
 * Folds events (in seq order) into the state, as the server's ingest changed its rows: any event of a
 * reporter clears `stalled`, and the first sign of work on a pending node starts it. What Vitrine
 * decides itself (downstream `skipped` with its reason, `cancelled`, `stalled`) is stored as events
 * of its own, so they are folded like any other. Events at or below the state's seq are ignored.
 */
export function applyEvents(state: RunFold, events: readonly RunEvent[]): RunFold {
  // Nodes copied in this call, by key: later events on them change the copy in place.
  const fresh = new Map<string, NodeState>();
  let seq = state.seq;
  let status = state.status;
  let lastChangeAt: string | null = null;
  let statusesChanged = false;
  let cancelled = false;
  for (const event of events) {
    if (event.seq <= seq) continue;
    seq = event.seq;
    let node = fresh.get(event.node);
    if (!node) {
      const held = state.nodes.get(event.node);
      if (!held) continue;
      node = { ...held };
      fresh.set(event.node, node);
    }
    const previous = node.status;
    const at = event.at;
    switch (event.type) {
      case 'stalled':
        node.stalled = true;
        // Loaded from a snapshot, its last event's time is unknown: it was at least the run's limit before this mark.
        if (node.lastEventAt === null && event.staleAfterSeconds !== undefined) node.lastEventAt = new Date(Date.parse(at) - event.staleAfterSeconds * 1000).toISOString();
        break;
      case 'cancelled':
        node.status = 'cancelled';
        node.reason = event.reason !== undefined ? event.reason : 'cancelled';
        node.stalled = false;
        node.endedAt = at;
        cancelled = true;
        break;
      case 'skipped':
        node.status = 'skipped';
        // Vitrine's own (upstream) skip says why in `reason`; a reporter's says it in `message`.
        node.reason = event.reason !== undefined ? event.reason : (event.message ?? 'skipped');
        node.endedAt = at;
        node.stalled = false;
        node.lastEventAt = at;
        break;
      default:
        node.stalled = false;
        node.lastEventAt = at;
        if (previous === 'pending') {
          node.status = 'running';
          node.startedAt = at;
        }
        switch (event.type) {
          case 'started':
            if (event.message !== undefined) node.message = event.message;
            break;
          case 'progress':
            if (event.percent !== undefined) node.percent = event.percent;
            if (event.message !== undefined) node.message = event.message;
            break;
          case 'succeeded':
            node.status = 'succeeded';
            node.percent = 100;
            node.endedAt = at;
            node.output = event.output ?? null;
            if (event.message !== undefined) node.message = event.message;
            break;
          case 'failed':
            node.status = 'failed';
            node.endedAt = at;
            node.error = event.error;
            break;
        }
    }
    if (node.status !== previous) {
      statusesChanged = true;
      lastChangeAt = at;
    }
  }
  if (!fresh.size) return seq === state.seq ? state : { ...state, seq };
  const nodes = state.nodes.with(fresh.values());
  if (cancelled) status = 'cancelled';
  else if (statusesChanged) status = deriveStatus(status, nodes);
  // The run ended with the node status change that ended it; a run that had ended keeps its end.
  const endedAt = TERMINAL_RUN.has(state.status) ? state.endedAt : TERMINAL_RUN.has(status) ? lastChangeAt : null;
  return { seq, status, endedAt, nodes };
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** One line of a node's log tail: its `log` events, and what happened to it (started, failed, …) in between. */
export interface LogLine {
  seq: number;
  at: string;
  level: LogLevel;
  /** `log`, or the event type that made the line. */
  kind: string;
  message: string;
}

/** The log line an event makes, or null (heartbeats, progress without a message). */
export function logLineOf(event: RunEvent): LogLine | null {
  const line = (level: LogLevel, message: string): LogLine => ({ seq: event.seq, at: event.at, level, kind: event.type, message });
  switch (event.type) {
    case 'log':
      return line(event.level ?? 'info', event.message ?? '');
    case 'started':
      return line('info', event.message ? `started: ${event.message}` : 'started');
    case 'progress':
      if (event.message === undefined) return null;
      return line('info', event.percent !== undefined ? `${event.percent}% ${event.message}` : event.message);
    case 'succeeded':
      return line('info', event.message ? `succeeded: ${event.message}` : 'succeeded');
    case 'failed':
      return line('error', `failed: ${event.error?.message ?? 'no message'}${event.error?.code ? ` (${event.error.code})` : ''}`);
    case 'skipped':
      return line('warn', `skipped: ${event.reason !== undefined ? reasonText(event.reason) : (event.message ?? 'no reason given')}`);
    case 'cancelled':
      return line('warn', 'cancelled');
    case 'stalled':
      return line('warn', `stalled: silent for ${event.staleAfterSeconds !== undefined ? `${event.staleAfterSeconds}s` : 'too long'}`);
    default:
      return null;
  }
}

/** How many of `lines` (in seq order) have a seq at or below `seq`. */
function countUpTo(lines: readonly { seq: number }[], seq: number): number {
  let lo = 0;
  let hi = lines.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (lines[mid]!.seq <= seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A state kept every CHECKPOINT_EVERY events, so a state at any seq is at most that many events away. */
export const CHECKPOINT_EVERY = 256;

/**
 * A run's history from seq 1: the events as they arrive (history pages and live ones, in any order,
 * each seq once), folded forward as far as they are contiguous. It keeps a checkpoint every
 * CHECKPOINT_EVERY events and each node's log lines, so the state and logs at any seq it holds cost
 * at most CHECKPOINT_EVERY event applications and a binary search.
 */
export class RunTimeline {
  private readonly events: (RunEvent | undefined)[] = [];
  private readonly checkpoints: RunFold[];
  private readonly logs = new Map<string, LogLine[]>();
  private head: RunFold;
  /** Moves whenever `contiguous` does: for React to know that what the timeline answers changed. */
  version = 0;

  constructor(nodes: readonly RunNode[]) {
    this.head = initialFold(nodes);
    this.checkpoints = [this.head];
  }

  /** Every seq from 1 to this one is held. */
  get contiguous(): number {
    return this.head.seq;
  }

  add(events: readonly RunEvent[]): void {
    for (const event of events) if (event.seq > this.head.seq && !this.events[event.seq]) this.events[event.seq] = event;
    const from = this.head.seq;
    let to = from;
    while (this.events[to + 1]) to++;
    if (to === from) return;
    for (let seq = from + 1; seq <= to; seq++) {
      const event = this.events[seq]!;
      const line = logLineOf(event);
      if (!line) continue;
      let lines = this.logs.get(event.node);
      if (!lines) this.logs.set(event.node, (lines = []));
      lines.push(line);
    }
    // Folded in slices that end on checkpoint seqs, so each checkpoint is the state exactly there.
    let at = from;
    while (at < to) {
      const end = Math.min(to, (Math.floor(at / CHECKPOINT_EVERY) + 1) * CHECKPOINT_EVERY);
      this.head = applyEvents(this.head, this.slice(at, end));
      if (end % CHECKPOINT_EVERY === 0) this.checkpoints[end / CHECKPOINT_EVERY] = this.head;
      at = end;
    }
    this.version++;
  }

  /** The state after events 1..seq (clamped to what is held). */
  stateAt(seq: number): RunFold {
    const target = Math.max(0, Math.min(seq, this.head.seq));
    if (target === this.head.seq) return this.head;
    const checkpoint = this.checkpoints[Math.floor(target / CHECKPOINT_EVERY)]!;
    return applyEvents(checkpoint, this.slice(checkpoint.seq, target));
  }

  /** A node's log lines up to `seq` (all it holds by default). At the head it is the array the timeline appends to, not a copy. */
  logsOf(node: string, seq = Number.POSITIVE_INFINITY): readonly LogLine[] {
    const lines = this.logs.get(node) ?? [];
    if (seq >= this.head.seq) return lines;
    return lines.slice(0, countUpTo(lines, seq));
  }

  /** When the event at `seq` was stamped, if held. */
  atOf(seq: number): string | undefined {
    return this.events[seq]?.at;
  }

  /** Events after `after` up to `to`, both seqs held. */
  private slice(after: number, to: number): RunEvent[] {
    return this.events.slice(after + 1, to + 1) as RunEvent[];
  }
}

export type StatusCounts = Record<NodeStatus, number> & { stalled: number };

export function countStatuses(nodes: ReadonlyMap<string, NodeState>): StatusCounts {
  const counts: StatusCounts = { pending: 0, running: 0, succeeded: 0, failed: 0, skipped: 0, cancelled: 0, stalled: 0 };
  for (const node of nodes.values()) {
    counts[node.status]++;
    if (node.stalled) counts.stalled++;
  }
  return counts;
}

/** When the run started: its first node's start, if any did. */
export function startedAt(nodes: ReadonlyMap<string, NodeState>): string | null {
  let first: string | null = null;
  for (const node of nodes.values()) if (node.startedAt && (!first || node.startedAt < first)) first = node.startedAt;
  return first;
}
