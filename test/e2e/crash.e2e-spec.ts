import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { killService, startService, type Started } from '../helpers/service-process.js';
import { createTestDatabase } from '../setup/test-database.js';

// The built service as its own process, so that it can really die: SIGKILL
// runs no shutdown hook, flushes nothing, answers nothing more. What survives
// is what PostgreSQL committed.

const ADMIN_EMAIL = 'admin@test.local';
const ADMIN_PASSWORD = 'admin-password-123';
const REPORTERS = 8;
const MIN_LOAD_MS = 1_500;
const MIN_ACKNOWLEDGED = 300;

type SentEvent = { id: string; node: string; type: 'progress'; percent: number } | { id: string; node: string; type: 'log'; message: string };

/** One POST of a batch; `status` is set only once the whole answer arrived. */
interface Post {
  events: SentEvent[];
  status?: number;
  result?: { accepted: number; duplicates: number; lastSeq: number };
}

interface ReplayedEvent {
  seq: number;
  id: string;
  node: string;
  type: string;
  percent?: number;
  message?: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function call<T>(base: string, token: string, method: 'GET' | 'POST', route: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${base}${route}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T };
}

async function adminToken(base: string): Promise<string> {
  const res = await fetch(`${base}/api/v1/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD, name: 'crash-test' }),
  });
  if (res.status !== 201) throw new Error(`admin login: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}

/** Every event of the run, paging `after = nextCursor` until it is null. */
async function replay(base: string, token: string, runId: string): Promise<ReplayedEvent[]> {
  const items: ReplayedEvent[] = [];
  let cursor: string | null = '0';
  while (cursor !== null) {
    const page: { status: number; body: { items: ReplayedEvent[]; nextCursor: string | null } } = await call(base, token, 'GET', `/api/v1/runs/${runId}/events?after=${cursor}&limit=1000`);
    if (page.status !== 200) throw new Error(`replay after ${cursor}: ${page.status} ${JSON.stringify(page.body)}`);
    items.push(...page.body.items);
    cursor = page.body.nextCursor;
  }
  return items;
}

function batch(node: string, counter: { n: number }): SentEvent[] {
  const size = 1 + Math.floor(Math.random() * 20);
  return Array.from({ length: size }, (): SentEvent => {
    const n = counter.n++;
    return n % 3 === 0 ? { id: randomUUID(), node, type: 'log', message: `${node} line ${n}` } : { id: randomUUID(), node, type: 'progress', percent: n % 101 };
  });
}

/**
 * An agent reporting on its own node as fast as it is answered, until the
 * first POST that gets no answer (the service is gone): that batch stays in
 * `posts` without a status, its fate unknown.
 */
async function reporter(base: string, runId: string, token: string, node: string, posts: Post[]): Promise<void> {
  const counter = { n: 0 };
  for (;;) {
    const post: Post = { events: batch(node, counter) };
    posts.push(post);
    try {
      const res = await fetch(`${base}/api/v1/runs/${runId}/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ events: post.events }),
        signal: AbortSignal.timeout(15_000),
      });
      const result = (await res.json()) as Post['result'];
      post.result = result;
      post.status = res.status;
    } catch {
      return;
    }
  }
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
function duplicatesIn(ids: string[]): string[] {
  const seen = new Set<string>();
  return ids.filter((id) => seen.size === seen.add(id).size);
}

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let dataDir: string;
const children: Started['child'][] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'vitrine-crash-'));
});
afterAll(async () => {
  for (const child of children) await killService(child);
  await database?.drop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('run event ingest across a crash', () => {
  it('keeps every acknowledged event across a SIGKILL mid-ingest, seqs contiguous', async () => {
    const first = await startService({ DATABASE_URL: database.url, PORT: '0', VITRINE_ADMIN_EMAIL: ADMIN_EMAIL, VITRINE_ADMIN_PASSWORD: ADMIN_PASSWORD, VITRINE_DATA_DIR: dataDir });
    children.push(first.child);
    const admin = await adminToken(first.url);
    const tool = await call(first.url, admin, 'POST', '/api/v1/tools', { name: 'crash-tool', description: 'a tool', risk: 'low' });
    expect(tool.status).toBe(201);
    const skill = await call(first.url, admin, 'POST', '/api/v1/skills', { name: 'crash-skill', version: '1.0.0', description: 'a skill', tools: ['crash-tool'] });
    expect(skill.status).toBe(201);
    const nodes = range(REPORTERS).map((i) => `node-${i}`);
    // No dependencies: progress and log are legal on every node from the first event on.
    // A long stall limit keeps the sweeper from adding `stalled` events of its own.
    const created = await call<{ id: string; reporterToken: string }>(first.url, admin, 'POST', '/api/v1/runs', {
      title: 'crash test',
      staleAfterSeconds: 3600,
      nodes: nodes.map((key) => ({ key, skill: 'crash-skill' })),
    });
    expect(created.status).toBe(201);
    const { id: runId, reporterToken } = created.body;

    // Load: one reporter per node, each always with a POST in flight.
    const posts: Post[] = [];
    const acknowledged = () => posts.filter((p) => p.status === 200).reduce((sum, p) => sum + p.events.length, 0);
    const loops = nodes.map((node) => reporter(first.url, runId, reporterToken, node, posts));
    const began = Date.now();
    while ((Date.now() - began < MIN_LOAD_MS || acknowledged() < MIN_ACKNOWLEDGED) && Date.now() - began < 20_000) await sleep(20);

    // Kill while every reporter keeps posting; each loop ends at its first POST without an answer
    // (in flight at the kill, or sent just after it): its events' fate is unknown.
    await killService(first.child);
    await Promise.all(loops);

    const answered = posts.filter((p) => p.status !== undefined);
    const unanswered = posts.filter((p) => p.status === undefined);
    // Answers other than 200 would mean the load itself was wrong, not the crash.
    expect(answered.filter((p) => p.status !== 200).map((p) => [p.status, p.result])).toEqual([]);
    const acked = answered.flatMap((p) => p.events.map((e) => e.id));
    expect(acked.length).toBeGreaterThanOrEqual(MIN_ACKNOWLEDGED);
    // Every reporter was still posting when the service died.
    expect(unanswered.length).toBe(REPORTERS);

    const second = await startService({ DATABASE_URL: database.url, PORT: '0', VITRINE_ADMIN_EMAIL: ADMIN_EMAIL, VITRINE_ADMIN_PASSWORD: ADMIN_PASSWORD, VITRINE_DATA_DIR: dataDir });
    children.push(second.child);
    const token = await adminToken(second.url);
    const sent = new Map(posts.flatMap((p) => p.events.map((e) => [e.id, e] as const)));

    const events = await replay(second.url, token, runId);
    const ids = events.map((e) => e.id);
    const stored = new Set(ids);
    // Seqs exactly 1..N, each event once, and the run's lastSeq agrees.
    expect(events.map((e) => e.seq)).toEqual(range(events.length));
    expect(duplicatesIn(ids)).toEqual([]);
    expect((await call<{ lastSeq: number }>(second.url, token, 'GET', `/api/v1/runs/${runId}`)).body.lastSeq).toBe(events.length);
    // Every acknowledged event survived; nothing appeared that no reporter sent.
    expect(acked.filter((id) => !stored.has(id))).toEqual([]);
    expect(ids.filter((id) => !sent.has(id))).toEqual([]);
    // And what survived is what was sent, not just its id.
    expect(events.map(({ id, node, type, percent, message }) => ({ id, node, type, ...(percent === undefined ? {} : { percent }), ...(message === undefined ? {} : { message }) }))).toEqual(
      ids.map((id) => sent.get(id)),
    );

    // What an agent does next: retry the unanswered batches with the same ids.
    // Each is answered, counting events stored before the kill as duplicates.
    const retried: Post['result'][] = [];
    for (const post of unanswered) {
      const retry = await call<Post['result']>(second.url, reporterToken, 'POST', `/api/v1/runs/${runId}/events`, { events: post.events });
      expect(retry.status).toBe(200);
      expect(retry.body!.accepted + retry.body!.duplicates).toBe(post.events.length);
      retried.push(retry.body);
    }
    const after = await replay(second.url, token, runId);
    expect(after.map((e) => e.seq)).toEqual(range(after.length));
    expect(after.slice(0, events.length)).toEqual(events);
    expect(after.length - events.length).toBe(retried.reduce((sum, r) => sum + r!.accepted, 0));
    // Now every event any reporter sent is stored exactly once.
    expect(duplicatesIn(after.map((e) => e.id))).toEqual([]);
    expect(after.map((e) => e.id).sort()).toEqual([...sent.keys()].sort());

    // An answer lost on the way back looks the same to an agent: re-sending an
    // acknowledged batch after the restart stores nothing twice.
    const acknowledgedBatch = answered[answered.length - 1]!;
    const resent = await call(second.url, reporterToken, 'POST', `/api/v1/runs/${runId}/events`, { events: acknowledgedBatch.events });
    expect(resent).toEqual({ status: 200, body: { accepted: 0, duplicates: acknowledgedBatch.events.length, lastSeq: after.length } });
    expect((await call<{ lastSeq: number }>(second.url, token, 'GET', `/api/v1/runs/${runId}`)).body.lastSeq).toBe(after.length);
  }, 60_000);
});
