/**
 * Drives one demo run against a Vitrine at `url`, as an orchestrator and its agents would:
 * the orchestrator (an admin's token) creates the run, its walkthrough artifact and a share
 * link; each agent reports through its own `vitrine/reporter` client with the run's
 * reporter token, and rewrites the walkthrough when it ends. Only the public API is used.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Reporter, type ReporterError } from '../src/reporter/reporter.js';
import { ARTIFACT_TITLE, NODES, RUN_LABELS, RUN_TITLE, SKILLS, TOOLS, type ScenarioNode } from './scenario.js';
import { renderWalkthrough, type NodeStatus, type WalkthroughNode, type WalkthroughState } from './walkthrough-page.js';

/** An answer the demo did not expect, with the problem's code and detail. */
export class DemoApiError extends Error {
  override name = 'DemoApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
  ) {
    super(detail);
  }
}

/** A small JSON client of the API: answers outside `ok` throw DemoApiError. */
export class DemoApi {
  constructor(
    readonly url: string,
    readonly token?: string,
  ) {}

  withToken(token: string): DemoApi {
    return new DemoApi(this.url, token);
  }

  async call<T>(method: string, path: string, body?: unknown, ok: number[] = [200, 201], timeoutMs = 30_000): Promise<{ status: number; body: T }> {
    const response = await fetch(`${this.url}${path}`, {
      method,
      signal: AbortSignal.timeout(timeoutMs),
      headers: { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(this.token ? { authorization: `Bearer ${this.token}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    let parsed: (T & { code?: string; detail?: string }) | undefined;
    try {
      parsed = text ? (JSON.parse(text) as T & { code?: string; detail?: string }) : undefined;
    } catch {
      // Not JSON (a proxy's error page, say): the status and the text's start say what happened.
    }
    if (!ok.includes(response.status)) {
      throw new DemoApiError(response.status, parsed?.code ?? `http_${response.status}`, `${method} ${path}: ${response.status} ${parsed?.code ?? ''}: ${parsed?.detail ?? text.slice(0, 200)}`);
    }
    return { status: response.status, body: parsed as T };
  }
}

/** A personal access token of `email` (for a day: each demo start makes a new one). */
export async function signIn(url: string, email: string, password: string): Promise<DemoApi> {
  const api = new DemoApi(url);
  const { body } = await api.call<{ token: string }>('POST', '/api/v1/auth/token', { email, password, name: 'demo', expiresInSeconds: 86_400 }, [201]);
  return api.withToken(body.token);
}

/** Registers the scenario's tools and skills; those a previous demo registered (409) are kept. */
export async function registerSkills(api: DemoApi): Promise<{ created: number; existing: number }> {
  let created = 0;
  for (const tool of TOOLS) created += (await api.call('POST', '/api/v1/tools', tool, [201, 409])).status === 201 ? 1 : 0;
  for (const skill of SKILLS) created += (await api.call('POST', '/api/v1/skills', skill, [201, 409])).status === 201 ? 1 : 0;
  return { created, existing: TOOLS.length + SKILLS.length - created };
}

export interface DemoLinks {
  runId: string;
  /** The run's page, `{url}/runs/{id}`. */
  runUrl: string;
  artifactId: string;
  shareUrl: string;
}

export interface DemoResult extends DemoLinks {
  status: string;
  counts: Partial<Record<NodeStatus, number>>;
  revisions: number;
  seconds: number;
}

export interface DemoRunOptions {
  /** Signed in as a member allowed to create runs, artifacts and links (the demo's admin). */
  api: DemoApi;
  /** Speed-up factor: 1 takes about 70 s, 20 about 4 s. */
  pace: number;
  /** Aborting stops the agents and cancels the run. */
  signal: AbortSignal;
  say: (line: string) => void;
  /** Called once the run, its artifact and its link exist, before any agent starts. */
  onReady: (links: DemoLinks) => void;
}

interface RunView {
  id: string;
  status: string;
  reporterToken: string;
  nodes: { key: string; status: NodeStatus; reason: string | null; percent: number | null; message: string | null }[];
}

/** Seconds before the first agent starts, at pace 1: time to open the run page. */
const HEAD_START_SECONDS = 5;

export async function runDemo(options: DemoRunOptions): Promise<DemoResult> {
  const { api, pace, say } = options;
  const ms = (seconds: number) => Math.round((seconds * 1000) / pace);

  const { body: run } = await api.call<RunView>('POST', '/api/v1/runs', {
    title: RUN_TITLE,
    labels: RUN_LABELS,
    nodes: NODES.map((n) => ({ key: n.key, title: n.title, skill: `${n.skill}@${SKILLS.find((s) => s.name === n.skill)!.version}`, dependsOn: n.dependsOn })),
  });
  say(`Run created: "${RUN_TITLE}", ${NODES.length} steps (${run.id})`);

  const state: WalkthroughState = {
    title: ARTIFACT_TITLE,
    runStatus: run.status,
    nodes: NODES.map((n): WalkthroughNode => ({ key: n.key, title: n.title, status: 'pending', reason: null, percent: null, message: null, section: undefined })),
  };
  const nodeState = (key: string) => state.nodes.find((n) => n.key === key)!;
  const { body: artifact } = await api.call<{ id: string }>('POST', '/api/v1/artifacts', {
    title: ARTIFACT_TITLE,
    kind: 'pr-walkthrough',
    runId: run.id,
    labels: ['demo'],
    content: { format: 'html', body: renderWalkthrough(state, new Date()) },
  });
  const { body: share } = await api.call<{ url: string }>('POST', `/api/v1/artifacts/${artifact.id}/shares`, { audience: 'link', expiresInSeconds: 7 * 86_400 });
  say('Walkthrough artifact created and shared by link');
  const links: DemoLinks = { runId: run.id, runUrl: `${api.url}/runs/${run.id}`, artifactId: artifact.id, shareUrl: share.url };

  // The agents hold the run's reporter token only, as agents started by an orchestrator would.
  const agentApi = api.withToken(run.reporterToken);
  const internal = new AbortController();
  const stop = AbortSignal.any([options.signal, internal.signal]);
  let firstError: unknown;
  const fail = (error: unknown) => {
    firstError ??= error;
    internal.abort(error);
  };

  // Writes go one at a time, each the page as it was when asked for: revisions never go back in time.
  let revisions = 1;
  let writes: Promise<void> = Promise.resolve();
  const revise = (message: string) => {
    const body = renderWalkthrough(state, new Date());
    writes = writes
      .then(() => agentApi.call<{ revision: number }>('PUT', `/api/v1/artifacts/${artifact.id}/content`, { format: 'html', body, message }))
      .then(({ body: answer }) => void (revisions = answer.revision))
      .catch(fail);
  };

  const started = Date.now();
  const clock = () => `[${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s]`;
  // What the server decided for nodes no agent ran (skipped downstream of a failure).
  const syncSkipped = async () => {
    const { body: now } = await agentApi.call<RunView>('GET', `/api/v1/runs/${run.id}`);
    for (const node of now.nodes) {
      const mine = nodeState(node.key);
      if (node.status === 'skipped' && mine.status !== 'skipped') {
        Object.assign(mine, { status: node.status, reason: node.reason });
        say(`${clock()} ${node.key}: skipped (${node.reason?.replaceAll('_', ' ') ?? 'no reason given'})`);
      }
    }
    return now;
  };

  const agent = async (node: ScenarioNode): Promise<NodeStatus> => {
    const reporter = new Reporter({ url: api.url, token: run.reporterToken, runId: run.id, flushIntervalMs: Math.max(10, ms(0.25)), onError: (error: ReporterError) => fail(error) });
    const mine = nodeState(node.key);
    // Stopped half-way, an agent just stops: what it still has queued would be refused once the run is cancelled.
    reporter.started(node.key);
    // The server's run turns running with its first started node; the page says so from the next revision on.
    state.runStatus = 'running';
    Object.assign(mine, { status: 'running', percent: 0, message: null });
    say(`${clock()} ${node.key}: started`);
    let at = 0;
    for (const beat of node.beats) {
      await sleep(ms((beat.at - at) * node.seconds), undefined, { signal: stop });
      at = beat.at;
      if ('progress' in beat) {
        reporter.progress(node.key, beat.progress, beat.message);
        Object.assign(mine, { percent: beat.progress, message: beat.message });
      } else {
        reporter.log(node.key, beat.message, beat.log);
      }
    }
    await sleep(ms((1 - at) * node.seconds), undefined, { signal: stop });
    const outcome = node.outcome;
    if ('failed' in outcome) reporter.failed(node.key, outcome.failed);
    else reporter.succeeded(node.key, outcome.succeeded);
    // Acknowledged before any dependent starts: the server refuses a start before its dependencies succeeded.
    await reporter.close();
    const status = 'failed' in outcome ? 'failed' : 'succeeded';
    Object.assign(mine, { status, percent: status === 'succeeded' ? 100 : mine.percent, message: 'failed' in outcome ? outcome.failed.message : mine.message, section: node.section });
    say(`${clock()} ${node.key}: ${status}${'failed' in outcome ? `: ${outcome.failed.message}` : ''}`);
    if (status === 'failed') await syncSkipped();
    revise(`${node.key} ${status}`);
    return status;
  };

  options.onReady(links);
  say(`Agents start in ${(ms(HEAD_START_SECONDS) / 1000).toFixed(1)} s`);

  // Every node waits for its dependencies; one whose dependency did not succeed is the server's to skip.
  const outcomes = new Map<string, Promise<NodeStatus>>();
  const head = sleep(ms(HEAD_START_SECONDS), undefined, { signal: stop });
  for (const node of NODES) {
    const ready = Promise.all([head, ...node.dependsOn.map((d) => outcomes.get(d)!)]);
    const task = ready.then((deps) => (deps.slice(1).every((d) => d === 'succeeded') ? agent(node) : ('skipped' as const)));
    task.catch(fail);
    outcomes.set(node.key, task);
  }
  await Promise.allSettled(outcomes.values());
  await writes;

  if (stop.aborted) {
    // Stopped half-way (Ctrl-C, or an answer the demo did not expect): leave no run running forever.
    // Briefly: on Ctrl-C in a terminal the database is stopping too (the next demo start cancels the run then).
    await api.call('POST', `/api/v1/runs/${run.id}/cancel`, undefined, [200], 3_000).catch(() => undefined);
    throw options.signal.aborted ? options.signal.reason : firstError;
  }

  const final = await syncSkipped();
  state.runStatus = final.status;
  revise(`run ${final.status}`);
  await writes;
  if (firstError) throw firstError;
  const counts: Partial<Record<NodeStatus, number>> = {};
  for (const node of final.nodes) counts[node.status] = (counts[node.status] ?? 0) + 1;
  return { ...links, status: final.status, counts, revisions, seconds: (Date.now() - started) / 1000 };
}
