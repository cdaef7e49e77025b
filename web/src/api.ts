/** The service's own API, same origin, session cookie. Errors carry the problem document. */
export interface Problem {
  type?: string;
  title: string;
  status: number;
  detail?: string;
  code?: string;
  errors?: { path: string; message: string }[];
  policy?: { version: number; ruleId: string | null };
  requestId?: string;
}

export class ProblemError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail ?? problem.title);
  }
  get status(): number {
    return this.problem.status;
  }
  get code(): string | undefined {
    return this.problem.code;
  }
}

export async function api<T>(path: string, init: RequestInit & { json?: unknown } = {}): Promise<T> {
  const { json, ...rest } = init;
  const headers = new Headers(rest.headers);
  if (json !== undefined) headers.set('content-type', 'application/json');
  let response: Response;
  try {
    response = await fetch(`/api/v1${path}`, { ...rest, headers, body: json === undefined ? rest.body : JSON.stringify(json), credentials: 'same-origin' });
  } catch {
    throw new ProblemError({ title: 'Network error', status: 0, detail: 'Vitrine cannot be reached. Check your connection and try again.', code: 'network_error' });
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  const body: unknown = text ? JSON.parse(text) : undefined;
  if (!response.ok) {
    const problem = (body as Problem | undefined) ?? { title: response.statusText, status: response.status };
    throw new ProblemError({ ...problem, status: response.status });
  }
  return body as T;
}

export interface Me {
  id: string;
  email: string;
  name: string;
  role: 'admin' | 'member' | 'auditor' | 'viewer';
  orgId: string;
  teamIds: string[];
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export type RunStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export type NodeStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped' | 'cancelled';
/** Statuses nothing changes any more (API.md, Runs). */
export const TERMINAL_RUN: ReadonlySet<RunStatus> = new Set<RunStatus>(['succeeded', 'failed', 'cancelled']);
export const TERMINAL_NODE: ReadonlySet<NodeStatus> = new Set<NodeStatus>(['succeeded', 'failed', 'skipped', 'cancelled']);

export interface RunNode {
  key: string;
  title: string;
  skill: string;
  dependsOn: string[];
  status: NodeStatus;
  reason: string | null;
  percent: number | null;
  message: string | null;
  stalled: boolean;
  startedAt: string | null;
  endedAt: string | null;
  output?: unknown;
  error?: { message: string; code?: string };
}

export interface Run {
  id: string;
  title: string;
  status: RunStatus;
  teamId: string | null;
  labels: Record<string, string>;
  staleAfterSeconds: number;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  endedAt: string | null;
  lastSeq: number;
  nodes: RunNode[];
  /** What the policy lets the caller do to the run: only `GET /runs/{id}` says. */
  can?: { cancel: Allowed };
}

/** A policy decision as the API offers it before the action is tried. */
export interface Allowed {
  allowed: boolean;
  reason: string;
}

/** A run event as `GET /runs/{id}/events` and `run.event` carry it (Vitrine itself writes `skipped`, `cancelled` and `stalled`). */
export interface RunEvent {
  runId?: string;
  seq: number;
  id: string;
  at: string;
  node: string;
  type: 'started' | 'progress' | 'log' | 'heartbeat' | 'succeeded' | 'failed' | 'skipped' | 'stalled' | 'cancelled' | (string & {});
  percent?: number;
  message?: string;
  level?: 'debug' | 'info' | 'warn' | 'error';
  output?: unknown;
  error?: { message: string; code?: string };
  /** Vitrine's own `skipped` (`upstream_failed`, `upstream_skipped`) and `cancelled` say why. */
  reason?: string;
  /** The failed or skipped node an upstream skip came from. */
  upstream?: string;
  /** A `stalled` event: the run's silence limit. */
  staleAfterSeconds?: number;
}
