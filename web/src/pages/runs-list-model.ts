import { TERMINAL_NODE, TERMINAL_RUN, type NodeStatus, type Run, type RunEvent, type RunStatus } from '../api';

/** The runs list's pure state: filters as they live in the URL, and rows kept current from `/live`. */

export const RUN_STATUSES: readonly RunStatus[] = ['pending', 'running', 'succeeded', 'failed', 'cancelled'];

export interface RunFilters {
  status?: RunStatus;
  /** A team's id (`?team=`), sent as `teamId`. */
  team?: string;
  /** `key:value` each; a run must carry all of them. */
  labels: string[];
}

const isStatus = (value: string | null): value is RunStatus => value !== null && (RUN_STATUSES as readonly string[]).includes(value);

/** `?status=failed&team=…&label=k:v&label=…` as filters; an unknown status is dropped, the rest is for the API to judge. */
export function filtersFromSearch(search: string): RunFilters {
  const params = new URLSearchParams(search);
  const status = params.get('status');
  const team = params.get('team');
  const labels = [...new Set(params.getAll('label').filter((label) => label !== ''))];
  return { ...(isStatus(status) ? { status } : {}), ...(team ? { team } : {}), labels };
}

/** The filters as the page's query string, without `?`, in a stable order so equal filters make equal URLs. */
export function searchFromFilters(filters: RunFilters): string {
  const params = new URLSearchParams();
  if (filters.status) params.set('status', filters.status);
  if (filters.team) params.set('team', filters.team);
  for (const label of filters.labels) params.append('label', label);
  return params.toString();
}

export function hasFilters(filters: RunFilters): boolean {
  return Boolean(filters.status || filters.team || filters.labels.length);
}

/** `GET /api/v1/runs` for these filters (API.md: `status`, `teamId`, `label=k:v` repeated). */
export function runsPath(filters: RunFilters, cursor?: string | null, limit = 50): string {
  const params = new URLSearchParams();
  if (filters.status) params.set('status', filters.status);
  if (filters.team) params.set('teamId', filters.team);
  for (const label of filters.labels) params.append('label', label);
  params.set('limit', String(limit));
  if (cursor) params.set('cursor', cursor);
  return `/runs?${params.toString()}`;
}

/** A label filter typed by a person: `key:value`, as the API takes it (key 1–64 characters without `:`, value up to 256). */
export function parseLabel(text: string): { label: string } | { error: string } {
  const trimmed = text.trim();
  const at = trimmed.indexOf(':');
  if (at < 1) return { error: 'Write a label as key:value, for example env:prod' };
  const key = trimmed.slice(0, at).trim();
  const value = trimmed.slice(at + 1).trim();
  if (key.length > 64) return { error: 'A label key is at most 64 characters' };
  if (value.length > 256) return { error: 'A label value is at most 256 characters' };
  return { label: `${key}:${value}` };
}

/** What a row needs of each node: enough to count them by status and show progress. */
export interface NodeLite {
  status: NodeStatus;
  stalled: boolean;
}

export interface RunRow {
  id: string;
  title: string;
  status: RunStatus;
  teamId: string | null;
  labels: Record<string, string>;
  createdAt: string;
  endedAt: string | null;
  /** The last event folded into `nodes`. */
  lastSeq: number;
  nodes: Record<string, NodeLite>;
}

export function rowOf(run: Run): RunRow {
  const nodes: Record<string, NodeLite> = {};
  for (const node of run.nodes) nodes[node.key] = { status: node.status, stalled: node.stalled };
  return { id: run.id, title: run.title, status: run.status, teamId: run.teamId, labels: run.labels, createdAt: run.createdAt, endedAt: run.endedAt, lastSeq: run.lastSeq, nodes };
}

/** A node after one event, as the service folds it (src/runs/run-state.ts): any sign of work starts it, any event but `stalled` clears the stall. */
function foldNode(node: NodeLite, event: RunEvent): NodeLite {
  switch (event.type) {
    case 'stalled':
      return node.status === 'running' ? { ...node, stalled: true } : node;
    case 'succeeded':
    case 'failed':
    case 'skipped':
    case 'cancelled':
      return { status: event.type as NodeStatus, stalled: false };
    default:
      return { status: node.status === 'pending' ? 'running' : node.status, stalled: false };
  }
}

/**
 * The row with `events` folded in, in seq order; events it already holds (seq <= lastSeq, a replay
 * after a snapshot) are skipped. The same row comes back when nothing changed, so React can skip it.
 */
export function applyEvents(row: RunRow, events: readonly RunEvent[]): RunRow {
  let nodes = row.nodes;
  let lastSeq = row.lastSeq;
  for (const event of events) {
    if (event.seq <= lastSeq) continue;
    lastSeq = event.seq;
    const node = nodes[event.node];
    if (!node) continue;
    const next = foldNode(node, event);
    if (next.status === node.status && next.stalled === node.stalled) continue;
    if (nodes === row.nodes) nodes = { ...nodes };
    nodes[event.node] = next;
  }
  if (lastSeq === row.lastSeq) return row;
  // The run's own status is not derived here: the service says it in run.updated.
  return { ...row, nodes, lastSeq };
}

/**
 * A fresh read of the run (a subscribe's snapshot, or `GET /runs/{id}` once it ended) replaces the
 * row unless the row has already seen later events.
 */
export function applySnapshot(row: RunRow, run: Run): RunRow {
  return run.lastSeq >= row.lastSeq ? rowOf(run) : row;
}

export function applyStatus(row: RunRow, status: RunStatus): RunRow {
  return row.status === status ? row : { ...row, status };
}

export type NodeCounts = Record<NodeStatus, number> & { stalled: number; total: number; done: number };

export function countNodes(row: RunRow): NodeCounts {
  const counts: NodeCounts = { pending: 0, running: 0, succeeded: 0, failed: 0, skipped: 0, cancelled: 0, stalled: 0, total: 0, done: 0 };
  for (const node of Object.values(row.nodes)) {
    counts[node.status]++;
    counts.total++;
    if (node.stalled) counts.stalled++;
    if (TERMINAL_NODE.has(node.status)) counts.done++;
  }
  return counts;
}

/** Why a run needs a person now (PAGE.md, on-call): it failed, or one of its nodes went silent. */
export function attentionOf(row: RunRow): 'failed' | 'stalled' | null {
  if (row.status === 'failed') return 'failed';
  if (!TERMINAL_RUN.has(row.status) && Object.values(row.nodes).some((node) => node.stalled)) return 'stalled';
  return null;
}

/** Rows of a later page, or newer runs found since, merged in: newest first (UUIDv7 ids sort by time), each run once, the row already held kept. */
export function mergeRows(held: readonly RunRow[], incoming: readonly RunRow[]): RunRow[] {
  const byId = new Map(held.map((row) => [row.id, row]));
  for (const row of incoming) if (!byId.has(row.id)) byId.set(row.id, row);
  return [...byId.values()].sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
}

/** What `/live` (or a re-read) said about one run, queued until the next frame. */
export type RowUpdate = { runId: string } & ({ kind: 'events'; events: RunEvent[] } | { kind: 'status'; status: RunStatus } | { kind: 'snapshot'; run: Run });

/** A frame's worth of updates applied in arrival order; rows nothing touched stay the same objects. */
export function applyUpdates(rows: readonly RunRow[], updates: readonly RowUpdate[]): RunRow[] {
  const byRun = new Map<string, RowUpdate[]>();
  for (const update of updates) {
    const list = byRun.get(update.runId);
    if (list) list.push(update);
    else byRun.set(update.runId, [update]);
  }
  return rows.map((row) => {
    let next = row;
    for (const update of byRun.get(row.id) ?? []) {
      if (update.kind === 'events') next = applyEvents(next, update.events);
      else if (update.kind === 'status') next = applyStatus(next, update.status);
      else next = applySnapshot(next, update.run);
    }
    return next;
  });
}
