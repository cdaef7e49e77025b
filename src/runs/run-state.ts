import { AppError, ConflictError } from '../common/problem.js';
import { newId } from '../common/ids.js';
import { downstreamOf } from './dag.js';
import type { NodeStatus } from './run-node.entity.js';
import type { RunStatus } from './run.entity.js';
import type { IncomingEvent } from './runs.schemas.js';

export interface NodeState {
  key: string;
  dependsOn: string[];
  status: NodeStatus;
  reason: string | null;
  percent: number | null;
  message: string | null;
  stalled: boolean;
  startedAt: string | null;
  endedAt: string | null;
  output: unknown;
  error: { message: string; code?: string } | null;
  /** An event touched the node (its silence clock restarts). */
  touched?: boolean;
}

/** An event ready to store; its seq is given at commit. */
export interface NewEvent {
  id: string;
  at: string;
  node: string;
  type: string;
  data: Record<string, unknown>;
}

const TERMINAL_NODE = new Set<NodeStatus>(['succeeded', 'failed', 'skipped', 'cancelled']);
export const TERMINAL_RUN = new Set<RunStatus>(['succeeded', 'failed', 'cancelled']);

/**
 * A run's state machine, in memory, for one group commit: requests are tried
 * one after another; a request that breaks a rule leaves no trace (its changes
 * live in an overlay until it is kept).
 */
export class RunState {
  private overlay = new Map<string, NodeState>();
  private overlayStatus: RunStatus | undefined;
  private pending: NewEvent[] = [];
  readonly events: NewEvent[] = [];
  readonly changed = new Set<string>();

  /** `nodes` is updated in place as requests are kept: after applying, it holds the run's new node states. */
  constructor(
    private status: RunStatus,
    readonly nodes: Map<string, NodeState>,
  ) {}

  get runStatus(): RunStatus {
    return this.overlayStatus ?? this.status;
  }

  node(key: string): NodeState | undefined {
    return this.overlay.get(key) ?? this.nodes.get(key);
  }

  /** Applies one request's events in order, all or none; `seen` holds event ids already stored. */
  apply(events: readonly IncomingEvent[], seen: Set<string>, now: string): { accepted: number; duplicates: number } {
    let accepted = 0;
    let duplicates = 0;
    const ids = new Set<string>();
    try {
      events.forEach((event, i) => {
        if (event.id !== undefined && (seen.has(event.id) || ids.has(event.id))) {
          duplicates++;
          return;
        }
        this.applyOne(event, i, now);
        if (event.id !== undefined) ids.add(event.id);
        accepted++;
      });
    } catch (error) {
      this.rollback();
      throw error;
    }
    for (const id of ids) seen.add(id);
    this.keep();
    return { accepted, duplicates };
  }

  /** Marks running nodes stalled (the caller checked their silence under the run's lock). */
  stall(keys: readonly string[], staleAfterSeconds: number, now: string): number {
    let marked = 0;
    for (const key of keys) {
      const node = this.node(key);
      if (!node || node.status !== 'running' || node.stalled) continue;
      this.write({ ...node, stalled: true });
      this.emit(key, 'stalled', now, { staleAfterSeconds });
      marked++;
    }
    this.keep();
    return marked;
  }

  /** Cancels the run: every unfinished node ends `cancelled`. */
  cancel(now: string): void {
    if (TERMINAL_RUN.has(this.runStatus)) throw new ConflictError(`The run has ended (${this.runStatus}); it cannot be cancelled`, 'run_terminal');
    for (const key of this.nodes.keys()) {
      const node = this.node(key)!;
      if (TERMINAL_NODE.has(node.status)) continue;
      this.write({ ...node, status: 'cancelled', reason: 'cancelled', stalled: false, endedAt: now });
      this.emit(key, 'cancelled', now, { reason: 'cancelled' });
    }
    this.overlayStatus = 'cancelled';
    this.keep();
  }

  private applyOne(event: IncomingEvent, index: number, now: string): void {
    const node = this.node(event.node);
    if (!node) {
      throw new AppError(400, 'unknown_node', 'Unknown node', `events[${index}] names node "${event.node}", which is not in this run`, [
        { path: `events.${index}.node`, message: `no node "${event.node}" in this run` },
      ]);
    }
    if (TERMINAL_RUN.has(this.runStatus)) {
      throw new ConflictError(`events[${index}]: the run has ended (${this.runStatus}); it takes no more events`, 'run_terminal');
    }
    if (TERMINAL_NODE.has(node.status)) {
      throw new ConflictError(`events[${index}]: node "${node.key}" has ended (${node.status}); it takes no more events`, 'node_terminal');
    }
    const at = event.at ? new Date(event.at).toISOString() : now;
    const previous = node.status;
    // Any sign of work starts the node, and work needs every dependency done.
    const starts = previous === 'pending' && event.type !== 'skipped';
    if (starts) {
      const waiting = node.dependsOn.filter((dep) => this.node(dep)!.status !== 'succeeded');
      if (waiting.length) {
        throw new ConflictError(
          `events[${index}]: node "${node.key}" cannot start before ${waiting.map((d) => `"${d}"`).join(', ')} succeeded`,
          'dependencies_not_met',
        );
      }
    }
    // The first event of a request on a node copies it into the overlay; later
    // ones change that copy (a batch of 100 on one node copies it once).
    const next: NodeState = this.overlay.get(node.key) ?? { ...node };
    next.stalled = false;
    next.touched = true;
    if (starts) {
      next.status = 'running';
      next.startedAt = at;
    }
    const data: Record<string, unknown> = {};
    switch (event.type) {
      case 'started':
        if (event.message !== undefined) next.message = data.message = event.message;
        break;
      case 'progress':
        if (event.percent !== undefined) next.percent = data.percent = event.percent;
        if (event.message !== undefined) next.message = data.message = event.message;
        break;
      case 'log':
        data.message = event.message;
        data.level = event.level ?? 'info';
        break;
      case 'heartbeat':
        break;
      case 'succeeded':
        next.status = 'succeeded';
        next.percent = 100;
        next.endedAt = at;
        next.output = event.output ?? null;
        if (event.output !== undefined) data.output = event.output;
        if (event.message !== undefined) next.message = data.message = event.message;
        break;
      case 'failed':
        next.status = 'failed';
        next.endedAt = at;
        next.error = event.error!;
        data.error = event.error;
        break;
      case 'skipped':
        next.status = 'skipped';
        next.reason = event.message ?? 'skipped';
        next.endedAt = at;
        if (event.message !== undefined) data.message = event.message;
        break;
    }
    this.write(next);
    this.pending.push({ id: event.id ?? newId(), at, node: node.key, type: event.type, data });
    // The run's status follows its nodes' statuses; most events (progress, log, heartbeat) change none.
    if (next.status === previous) return;
    if (next.status === 'failed' || next.status === 'skipped') this.skipDownstream(node.key, next.status === 'failed' ? 'upstream_failed' : 'upstream_skipped', now);
    this.derive();
  }

  /** Nodes that can never start now end `skipped`, saying why. */
  private skipDownstream(key: string, reason: string, now: string): void {
    const graph = new Map([...this.nodes.keys()].map((k) => [k, this.node(k)!]));
    for (const downstream of downstreamOf(key, graph)) {
      const node = this.node(downstream)!;
      if (node.status !== 'pending') continue;
      this.write({ ...node, status: 'skipped', reason, endedAt: now });
      this.emit(downstream, 'skipped', now, { reason, upstream: key });
    }
  }

  /** pending: nothing started; failed/succeeded once every node ended; else running. */
  private derive(): void {
    if (this.runStatus === 'cancelled') return;
    const statuses = [...this.nodes.keys()].map((k) => this.node(k)!.status);
    let status: RunStatus = 'running';
    if (statuses.every((s) => s === 'pending')) status = 'pending';
    else if (statuses.every((s) => TERMINAL_NODE.has(s))) status = statuses.includes('failed') ? 'failed' : 'succeeded';
    this.overlayStatus = status;
  }

  private write(node: NodeState): void {
    this.overlay.set(node.key, node);
  }

  private emit(node: string, type: string, at: string, data: Record<string, unknown>): void {
    this.pending.push({ id: newId(), at, node, type, data });
  }

  private keep(): void {
    for (const [key, node] of this.overlay) {
      this.nodes.set(key, node);
      this.changed.add(key);
    }
    if (this.overlayStatus) this.status = this.overlayStatus;
    this.events.push(...this.pending);
    this.rollback();
  }

  private rollback(): void {
    this.overlay = new Map();
    this.overlayStatus = undefined;
    this.pending = [];
  }
}
