import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { io } from 'socket.io-client';
import { ROOT, serviceEnv } from '../helpers/service-process.js';

// `npm run demo`, as a newcomer runs it (sped up 40 times): what it prints must work.
const DEMO = path.join(ROOT, 'dist/demo/demo.js');

interface Demo {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** In a process group of its own, as a terminal's foreground job: Ctrl-C reaches its PostgreSQL too. */
function startDemo(dataDir: string): Demo {
  const child = spawn(process.execPath, [DEMO, '--pace', '40', '--port', '0', '--data-dir', dataDir], { cwd: ROOT, env: serviceEnv({}), stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/** Waits until the output holds `count` matches of `pattern`. */
async function printed(demo: Demo, pattern: RegExp, count = 1, timeoutMs = 45_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const matches = () => demo.output().match(new RegExp(pattern.source, 'g'))?.length ?? 0;
  while (matches() < count) {
    if (demo.child.exitCode !== null) throw new Error(`the demo exited early:\n${demo.output()}`);
    if (Date.now() > deadline) throw new Error(`not printed within ${timeoutMs} ms: ${pattern}\n${demo.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** What the demo printed last: the run page, the login and the share link. */
function lastLinks(output: string) {
  const last = (pattern: RegExp) => [...output.matchAll(new RegExp(pattern.source, 'g'))].at(-1)?.[1];
  return {
    url: last(/Vitrine is running at (\S+)/)!,
    runUrl: last(/Watch the run:\s+(\S+)/)!,
    email: last(/Sign in as:\s+(\S+)/)!,
    password: last(/Password:\s+(\S+)/)!,
    shareUrl: last(/Shared by link:\s+(\S+)/)!,
  };
}

/** SIGINT to the demo alone (`kill -INT`), or to its whole group as Ctrl-C in a terminal sends it. */
async function stop(demo: Demo, how: 'process' | 'group' = 'process'): Promise<number | null> {
  if (demo.child.exitCode !== null) return demo.child.exitCode;
  if (how === 'group') process.kill(-demo.child.pid!, 'SIGINT');
  else demo.child.kill('SIGINT');
  return demo.exited;
}

async function api<T = Record<string, unknown>>(url: string, token: string | undefined, method: string, route: string, body?: unknown): Promise<{ status: number; body: T }> {
  const response = await fetch(`${url}${route}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as T };
}

interface Node {
  key: string;
  status: string;
  reason: string | null;
  dependsOn: string[];
}

/** Every node downstream of `key`. */
function downstream(nodes: Node[], key: string): Set<string> {
  const found = new Set<string>();
  const visit = (k: string) => {
    for (const n of nodes) {
      if (n.dependsOn.includes(k) && !found.has(n.key)) {
        found.add(n.key);
        visit(n.key);
      }
    }
  };
  visit(key);
  return found;
}

/** PostgreSQL processes serving a cluster of this data directory. */
async function postgresOn(dataDir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes('postgres') && cmdline.includes(dataDir)) pids.push(Number(entry));
  }
  return pids;
}

let dataDir: string;
beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'vitrine-demo-'));
  // As root the cluster runs as `postgres`, which must reach it (mkdtemp makes it 0700).
  await chmod(dataDir, 0o755);
});
afterAll(async () => {
  for (const pid of await postgresOn(dataDir)) process.kill(pid, 'SIGKILL');
  await rm(dataDir, { recursive: true, force: true });
});

describe('npm run demo', () => {
  let first: ReturnType<typeof lastLinks>;
  let firstRunId: string;
  let interruptedRunId: string;

  it('plays a run of agents live and prints a login, the run page and a share link that work; Enter plays another, Ctrl-C stops it', async () => {
    const demo = startDemo(dataDir);
    try {
      await printed(demo, /Press Enter for another run/);
      const printedLinks = lastLinks(demo.output());
      first = printedLinks;
      const { url, runUrl, email, password, shareUrl } = printedLinks;
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

      // The login signs in.
      expect((await api(url, undefined, 'POST', '/api/v1/auth/login', { email, password })).status).toBe(200);
      const { body: pat } = await api<{ token: string }>(url, undefined, 'POST', '/api/v1/auth/token', { email, password, name: 'demo-test' });
      const token = pat.token;

      // The run page names a run of 10–12 nodes with parallel branches: one failed, what is downstream skipped, the rest succeeded.
      expect(runUrl).toMatch(new RegExp(`^${url}/runs/[0-9a-f-]{36}$`));
      const runPage = await fetch(runUrl);
      expect({ status: runPage.status, type: runPage.headers.get('content-type') }).toEqual({ status: 200, type: expect.stringMatching(/^text\/html/) });
      firstRunId = runUrl.split('/runs/')[1]!;
      const { status, body: run } = await api<{ status: string; nodes: Node[] }>(url, token, 'GET', `/api/v1/runs/${firstRunId}`);
      expect(status).toBe(200);
      expect(run.nodes.length).toBeGreaterThanOrEqual(10);
      expect(run.nodes.length).toBeLessThanOrEqual(12);
      const siblings = (n: Node) => run.nodes.filter((m) => m !== n && m.dependsOn.join() === n.dependsOn.join() && n.dependsOn.length > 0);
      expect(run.nodes.some((n) => siblings(n).length >= 2)).toBe(true);
      const failed = run.nodes.filter((n) => n.status === 'failed');
      expect(failed).toHaveLength(1);
      const skipped = downstream(run.nodes, failed[0]!.key);
      expect(skipped.size).toBeGreaterThan(0);
      const expected = (n: Node) => (n === failed[0] ? 'failed' : skipped.has(n.key) ? 'skipped' : 'succeeded');
      expect(run.nodes.map((n) => ({ key: n.key, status: n.status, reason: n.reason }))).toEqual(
        run.nodes.map((n) => ({ key: n.key, status: expected(n), reason: skipped.has(n.key) ? 'upstream_failed' : null })),
      );
      expect(run.status).toBe('failed');

      // Reported as agents do: progress of every node that ran, log lines at every level.
      type Event = { node: string; type: string; level?: string; percent?: number };
      const events: Event[] = [];
      for (let after: string | null = '0'; after !== null; ) {
        const { body: page }: { body: { items: Event[]; nextCursor: string | null } } = await api(url, token, 'GET', `/api/v1/runs/${firstRunId}/events?after=${after}&limit=500`);
        events.push(...page.items);
        after = page.nextCursor;
      }
      expect(new Set(events.filter((e) => e.type === 'log').map((e) => e.level))).toEqual(new Set(['debug', 'info', 'warn', 'error']));
      const ran = run.nodes.filter((n) => n.status !== 'skipped').map((n) => n.key);
      expect(new Set(events.filter((e) => e.type === 'progress').map((e) => e.node))).toEqual(new Set(ran));

      // The share link answers, and is the run's artifact, rewritten as the run went.
      const shared = await fetch(shareUrl);
      expect(shared.status).toBe(200);
      expect(shared.headers.get('content-type')).toMatch(/^text\/html/);
      const shareToken = shareUrl.split('/s/')[1]!;
      expect(shareUrl).toBe(`${url}/s/${shareToken}`);
      const socket = io(`${url}/live`, { auth: { token: shareToken }, transports: ['websocket'], reconnection: false, forceNew: true });
      const ack = await new Promise<{ ok: boolean; snapshot: { artifact: { id: string; revision: number } } }>((resolve) => socket.emit('subscribe', { share: shareToken }, resolve));
      socket.close();
      expect(ack.ok).toBe(true);
      const { body: artifact } = await api<{ id: string; runId: string; revision: number; containsSecrets: boolean }>(url, token, 'GET', `/api/v1/artifacts/${ack.snapshot.artifact.id}`);
      expect({ runId: artifact.runId, containsSecrets: artifact.containsSecrets }).toEqual({ runId: firstRunId, containsSecrets: false });
      expect(ack.snapshot.artifact.revision).toBe(artifact.revision);
      expect(artifact.revision).toBeGreaterThanOrEqual(5);
      expect(demo.output()).toContain(`the walkthrough has ${artifact.revision} revisions`);
      const revision = async (n: number) => (await api<{ body: string }>(url, token, 'GET', `/api/v1/artifacts/${artifact.id}/revisions/${n}`)).body.body;
      expect(await revision(1)).toContain('Run <strong>pending</strong>');
      // Written when the first node ended, while the others ran.
      expect(await revision(2)).toContain('Run <strong>running</strong>');
      const last = await revision(artifact.revision);
      expect(last).toContain('Run <strong>failed</strong>');
      expect(last).toContain(`✗ failed`);
      expect(last).toContain('upstream failed');

      // Enter plays another run on the same service; Ctrl-C in the middle of it stops the demo and its database.
      demo.child.stdin!.write('\n');
      await printed(demo, /\] plan: started/, 2);
      interruptedRunId = lastLinks(demo.output()).runUrl.split('/runs/')[1]!;
      expect(interruptedRunId).not.toBe(firstRunId);
    } finally {
      expect(await stop(demo, 'group')).toBe(0);
    }
    expect(demo.output().match(/Press Enter for another run/g)).toHaveLength(1);
    expect(demo.output()).toContain('Vitrine demo stopped.');
    expect(await postgresOn(dataDir)).toEqual([]);
  });

  it('starts again on the same data: the same login works, the earlier run is kept and the interrupted one cancelled', async () => {
    const demo = startDemo(dataDir);
    try {
      await printed(demo, /Watch the run:/);
      expect(demo.output()).toContain('Cancelled 1 run(s) an interrupted demo left unfinished');
      const { url, email, password } = lastLinks(demo.output());
      expect({ email, password }).toEqual({ email: first.email, password: first.password });
      const { status, body: pat } = await api<{ token: string }>(url, undefined, 'POST', '/api/v1/auth/token', { email, password, name: 'demo-test' });
      expect(status).toBe(201);
      const statusOf = async (id: string) => (await api<{ status: string }>(url, pat.token, 'GET', `/api/v1/runs/${id}`)).body.status;
      expect({ first: await statusOf(firstRunId), interrupted: await statusOf(interruptedRunId) }).toEqual({ first: 'failed', interrupted: 'cancelled' });
    } finally {
      expect(await stop(demo)).toBe(0);
    }
    expect(demo.output()).toContain('Vitrine demo stopped.');
  });
});
