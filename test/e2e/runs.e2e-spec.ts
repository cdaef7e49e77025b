import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { NotFoundError } from '../../src/common/problem.js';
import { Reporter } from '../../src/reporter/reporter.js';
import { RunIngestService } from '../../src/runs/run-ingest.service.js';
import { STALL_CANDIDATES, StallSweeperService } from '../../src/runs/stall-sweeper.service.js';
import { auditRows } from '../helpers/audit.js';
import { adminToken, createMember, createOrg, createRun, createSkill, createTeam, expectProblem, type TestMember } from '../helpers/factories.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
let admin: string;
let member: TestMember;
let skill: string;

beforeAll(async () => {
  t = await createTestApp({ VITRINE_STALL_SWEEP_INTERVAL_MS: '200' });
  admin = await adminToken(t);
  member = await createMember(t, admin, 'member');
  skill = (await createSkill(t, admin, 'build')).name;
});
afterAll(() => t.close());

const post = (token: string, runId: string, events: Record<string, unknown>[]) => t.http(token).post(`/api/v1/runs/${runId}/events`).send({ events });
const getRun = async (runId: string) => (await t.http(admin).get(`/api/v1/runs/${runId}`)).body;
const statuses = async (runId: string) => Object.fromEntries((await getRun(runId)).nodes.map((n: { key: string; status: string }) => [n.key, n.status]));
/** `count` more instances of the service on this file's database (`env` on top), closed once `use` is done. */
async function withInstances(count: number, env: Record<string, string>, use: (others: TestApp[]) => Promise<void>): Promise<void> {
  const others = await Promise.all(Array.from({ length: count }, () => createTestApp({ DATABASE_URL: t.config.databaseUrl!, ...env })));
  try {
    await use(others);
  } finally {
    await Promise.all(others.map((other) => other.close()));
  }
}
async function replay(runId: string, after = 0, limit = 1000) {
  const items: { seq: number; type: string; node: string; id: string; at: string }[] = [];
  let cursor: string | null = String(after);
  while (cursor !== null) {
    const res = await t.http(admin).get(`/api/v1/runs/${runId}/events`).query({ after: cursor, limit });
    expect(res.status).toBe(200);
    items.push(...res.body.items);
    cursor = res.body.nextCursor;
  }
  return items;
}

describe('creating a run', () => {
  it('validates the DAG, resolves skills to exact versions and issues a reporter token', async () => {
    await createSkill(t, admin, 'lint', '1.0.0');
    await createSkill(t, admin, 'lint', '1.1.0');
    const res = await t
      .http(member.token)
      .post('/api/v1/runs')
      .send({ title: 'release 4.2', labels: { repo: 'vitrine' }, nodes: [{ key: 'a', skill: 'lint' }, { key: 'b', skill: 'lint@1.0.0', dependsOn: ['a'], title: 'Lint again' }] });
    expect(res.status).toBe(201);
    expect(res.body).toEqual(
      expect.objectContaining({ title: 'release 4.2', status: 'pending', teamId: null, labels: { repo: 'vitrine' }, createdBy: member.id, lastSeq: 0, reporterToken: expect.stringMatching(/^vtr_run_/) }),
    );
    expect(res.body.nodes.map((n: { key: string; skill: string; title: string }) => [n.key, n.skill, n.title])).toEqual([
      ['a', 'lint@1.1.0', 'a'],
      ['b', 'lint@1.0.0', 'Lint again'],
    ]);
    expect((await t.http(member.token).get(`/api/v1/runs/${res.body.id}`)).body.reporterToken).toBeUndefined();
    const [event] = (await auditRows(t, (await t.http(admin).get('/api/v1/me')).body.orgId)).filter((r) => r.resource_id === res.body.id);
    expect(event).toEqual(expect.objectContaining({ action: 'run.create', actor_id: member.id }));
  });

  it.each([
    ['a cycle, naming it', [{ key: 'a', dependsOn: ['c'] }, { key: 'b', dependsOn: ['a'] }, { key: 'c', dependsOn: ['b'] }], 'dag_cycle', /a -> b -> c -> a|c -> a -> b -> c|b -> c -> a -> b/],
    ['a node that depends on itself', [{ key: 'a', dependsOn: ['a'] }], 'dag_cycle', /a -> a/],
    ['an unknown dependency', [{ key: 'a', dependsOn: ['zz'] }], 'unknown_dependency', /"zz"/],
    ['a duplicate key', [{ key: 'a' }, { key: 'a' }], 'duplicate_node', /"a"/],
  ])('refuses %s', async (_name, nodes, code, detail) => {
    const res = await t.http(member.token).post('/api/v1/runs').send({ title: 'bad', nodes: nodes.map((n) => ({ skill, ...n })) });
    expectProblem(res, 400, code);
    expect(res.body.detail).toMatch(detail);
  });

  it('refuses unknown skills and versions, too many nodes, and another org\'s team, creating nothing', async () => {
    const before = (await t.http(admin).get('/api/v1/runs').query({ limit: 500 })).body.items.length;
    const unknown = await t.http(member.token).post('/api/v1/runs').send({ title: 'x', nodes: [{ key: 'a', skill }, { key: 'b', skill: `${skill}@9.0.0` }] });
    expectProblem(unknown, 400, 'unknown_skill');
    expect(unknown.body.errors).toEqual([{ path: 'nodes.1.skill', message: `no skill "${skill}@9.0.0" in this org` }]);
    const huge = await t.http(member.token).post('/api/v1/runs').send({ title: 'x', nodes: Array.from({ length: 2001 }, (_, i) => ({ key: `n${i}`, skill })) });
    expectProblem(huge, 400, 'validation_failed');
    const other = await createOrg(t, admin);
    const foreign = await createTeam(t, other.adminToken);
    const otherTeam = await t.http(member.token).post('/api/v1/runs').send({ title: 'x', teamId: foreign.id, nodes: [{ key: 'a', skill }] });
    expectProblem(otherTeam, 400, 'validation_failed');
    expect(otherTeam.body.errors).toEqual([{ path: 'teamId', message: `no team ${foreign.id} in this org` }]);
    expect((await t.http(admin).get('/api/v1/runs').query({ limit: 500 })).body.items.length).toBe(before);
  });

  it('takes 2,000 nodes', async () => {
    const nodes = Array.from({ length: 2000 }, (_, i) => ({ key: `n${i}`, skill, dependsOn: i ? [`n${i - 1}`] : [] }));
    const res = await t.http(member.token).post('/api/v1/runs').send({ title: 'big', nodes });
    expect(res.status).toBe(201);
    expect(res.body.nodes).toHaveLength(2000);
  });
});

describe('reporting events', () => {
  it('runs a DAG to success, in order, with contiguous seqs', async () => {
    const run = await createRun(t, member.token, skill, { a: [], b: ['a'] });
    const res = await post(run.reporterToken, run.id, [
      { node: 'a', type: 'started' },
      { node: 'a', type: 'progress', percent: 50, message: 'halfway' },
      { node: 'a', type: 'log', message: 'compiled', level: 'info' },
      { node: 'a', type: 'succeeded', output: { artifact: 'dist.tgz' } },
      { node: 'b', type: 'started' },
      { node: 'b', type: 'succeeded' },
    ]);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ accepted: 6, duplicates: 0, lastSeq: 6 });
    const body = await getRun(run.id);
    expect(body.status).toBe('succeeded');
    expect(body.nodes[0]).toEqual(expect.objectContaining({ key: 'a', status: 'succeeded', percent: 100, message: 'halfway', output: { artifact: 'dist.tgz' } }));
    expect((await replay(run.id)).map((e) => `${e.seq}:${e.node}:${e.type}`)).toEqual(['1:a:started', '2:a:progress', '3:a:log', '4:a:succeeded', '5:b:started', '6:b:succeeded']);
  });

  it('stores text and outputs exactly as reported: quotes, backslashes, array and JSON punctuation, control characters, emoji, null', async () => {
    const run = await createRun(t, member.token, skill, { a: [], b: [] });
    const text = 'he said "done", \\o/ {a,b} NULL [1] \'q\'\n\ttab\r é ü 😀 \u2028 \\u0041';
    const events = [
      { node: 'a', type: 'started' },
      { node: 'a', type: 'progress', percent: 12.5, message: text },
      { node: 'a', type: 'log', message: text, level: 'warn' },
      { node: 'a', type: 'succeeded', output: null },
      { node: 'b', type: 'started' },
      { node: 'b', type: 'failed', error: { message: text, code: 'E"1,{}' } },
    ];
    const res = await post(run.reporterToken, run.id, events);
    expect(res.status).toBe(200);
    const body = await getRun(run.id);
    expect(body.nodes).toEqual([
      expect.objectContaining({ key: 'a', status: 'succeeded', percent: 100, message: text }),
      expect.objectContaining({ key: 'b', status: 'failed', error: { message: text, code: 'E"1,{}' } }),
    ]);
    expect(await replay(run.id)).toEqual(events.map((e, i) => ({ ...e, seq: i + 1, id: expect.any(String), at: expect.any(String) })));
  });

  it('applies none of a batch with one illegal event, naming its index', async () => {
    const run = await createRun(t, member.token, skill, { a: [], b: ['a'] });
    const early = await post(run.reporterToken, run.id, [{ node: 'a', type: 'started' }, { node: 'b', type: 'started' }]);
    expectProblem(early, 409, 'dependencies_not_met');
    expect(early.body.detail).toMatch(/^events\[1\]/);
    const unknown = await post(run.reporterToken, run.id, [{ node: 'a', type: 'started' }, { node: 'zz', type: 'started' }]);
    expectProblem(unknown, 400, 'unknown_node');
    expect(unknown.body.errors).toEqual([{ path: 'events.1.node', message: 'no node "zz" in this run' }]);
    const shape = await post(run.reporterToken, run.id, [{ node: 'a', type: 'failed' }, { node: 'a', type: 'progress', percent: 140, output: 1 }]);
    expectProblem(shape, 400, 'validation_failed');
    expect(shape.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['events.0.error', 'events.1.output', 'events.1.percent']);
    expect(shape.body.errors).toEqual(
      expect.arrayContaining([
        { path: 'events.0.error', message: 'a failed event needs an error' },
        { path: 'events.1.output', message: 'is not part of a "progress" event' },
      ]),
    );
    expect(await statuses(run.id)).toEqual({ a: 'pending', b: 'pending' });
    expect((await getRun(run.id)).lastSeq).toBe(0);
    expect(await replay(run.id)).toEqual([]);
  });

  it('refuses a body of the wrong shape, naming the field, and changes nothing', async () => {
    const run = await createRun(t, member.token, skill, { a: [] });
    const started = { node: 'a', type: 'started' };
    for (const [body, path] of [
      [{}, 'events'],
      [{ events: 'a' }, 'events'],
      [{ events: [] }, 'events'],
      [{ events: Array.from({ length: 1_001 }, () => started) }, 'events'],
      [{ events: [started], extra: 1 }, 'extra'],
      [{ events: [started, { node: 'a', type: 'progress', percent: '50' }] }, 'events.1.percent'],
      [{ events: [{ node: 5, type: 'started' }] }, 'events.0.node'],
      [{ events: [{ ...started, colour: 'red' }] }, 'events.0.colour'],
      [{ events: [{ node: 'a', type: 'finished' }] }, 'events.0.type'],
      [{ events: [{ ...started, id: 'not-a-uuid' }] }, 'events.0.id'],
      [{ events: [{ ...started, at: 'yesterday' }] }, 'events.0.at'],
      // Calendar dates PostgreSQL cannot store; before they were refused here, they failed the write, a 500.
      [{ events: [{ ...started, at: '0000-01-01T00:00:00Z' }] }, 'events.0.at'],
      [{ events: [{ ...started, at: '9999-12-31T23:59:59-05:00' }] }, 'events.0.at'],
      [{ events: [{ ...started, at: '0001-01-01T00:00:00+01:00' }] }, 'events.0.at'],
      [[started], 'body'],
    ] as const) {
      const res = await t.http(run.reporterToken).post(`/api/v1/runs/${run.id}/events`).send(body as object);
      expectProblem(res, 400, 'validation_failed');
      expect(res.body.errors).toEqual(expect.arrayContaining([expect.objectContaining({ path })]));
    }
    const text = await t.http(run.reporterToken).post(`/api/v1/runs/${run.id}/events`).set('content-type', 'application/json').send('{"events": [');
    expect(text.status).toBe(400);
    expect(text.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(await getRun(run.id)).toEqual(expect.objectContaining({ status: 'pending', lastSeq: 0 }));
  });

  it('takes event times from the years 0001 to 9999 with any offset, and replays them in UTC', async () => {
    const run = await createRun(t, member.token, skill, { a: [] });
    const res = await post(run.reporterToken, run.id, [
      { node: 'a', type: 'started', at: '0001-01-01T00:00:00Z' },
      { node: 'a', type: 'progress', percent: 1, at: '2026-12-06T10:00:00+05:30' },
      { node: 'a', type: 'succeeded', at: '9999-12-31T23:59:59.999Z' },
    ]);
    expect(res.status).toBe(200);
    expect((await replay(run.id)).map((e) => e.at)).toEqual(['0001-01-01T00:00:00.000Z', '2026-12-06T04:30:00.000Z', '9999-12-31T23:59:59.999Z']);
  });

  it('refuses event text the database cannot store, naming the event, and applies none of the batch', async () => {
    const run = await createRun(t, member.token, skill, { a: [] });
    const message = await post(run.reporterToken, run.id, [{ node: 'a', type: 'started' }, { node: 'a', type: 'log', message: 'tool said \u0000' }]);
    expectProblem(message, 400, 'validation_failed');
    expect(message.body.errors).toEqual([expect.objectContaining({ path: 'events.1.message' })]);
    const output = await post(run.reporterToken, run.id, [{ node: 'a', type: 'succeeded', output: { text: 'half a pair \ud83d' } }]);
    expect(output.body.errors).toEqual([expect.objectContaining({ path: 'events.0.output.text' })]);
    expect((await getRun(run.id)).lastSeq).toBe(0);
    expect((await post(run.reporterToken, run.id, [{ node: 'a', type: 'started' }])).body.lastSeq).toBe(1);
  });

  it('refuses events for an ended node, and for an ended run first', async () => {
    const run = await createRun(t, member.token, skill, { a: [], b: [] });
    await post(run.reporterToken, run.id, [{ node: 'a', type: 'succeeded' }]);
    expectProblem(await post(run.reporterToken, run.id, [{ node: 'a', type: 'progress', percent: 10 }]), 409, 'node_terminal');
    await post(run.reporterToken, run.id, [{ node: 'b', type: 'succeeded' }]);
    expectProblem(await post(run.reporterToken, run.id, [{ node: 'a', type: 'log', message: 'late' }]), 409, 'run_terminal');
  });

  it('skips everything downstream of a failure and fails the run', async () => {
    const run = await createRun(t, member.token, skill, { a: [], b: ['a'], c: ['b'], d: [] });
    await post(run.reporterToken, run.id, [{ node: 'a', type: 'failed', error: { message: 'compiler crashed', code: 'E_CRASH' } }]);
    const mid = await getRun(run.id);
    expect(await statuses(run.id)).toEqual({ a: 'failed', b: 'skipped', c: 'skipped', d: 'pending' });
    expect(mid.nodes.find((n: { key: string }) => n.key === 'c').reason).toBe('upstream_failed');
    expect(mid.status).toBe('running');
    await post(run.reporterToken, run.id, [{ node: 'd', type: 'succeeded' }]);
    expect((await getRun(run.id)).status).toBe('failed');
    expect((await replay(run.id)).map((e) => `${e.node}:${e.type}`)).toEqual(['a:failed', 'b:skipped', 'c:skipped', 'd:succeeded']);
  });

  it('applies the same events once when they are posted twice', async () => {
    const run = await createRun(t, member.token, skill, { a: [] });
    const events = [
      { id: '0195f0a0-7b7e-7000-8000-000000000001', node: 'a', type: 'started' },
      { id: '0195f0a0-7b7e-7000-8000-000000000002', node: 'a', type: 'progress', percent: 30 },
    ];
    expect((await post(run.reporterToken, run.id, events)).body).toEqual({ accepted: 2, duplicates: 0, lastSeq: 2 });
    expect((await post(run.reporterToken, run.id, events)).body).toEqual({ accepted: 0, duplicates: 2, lastSeq: 2 });
    const mixed = await post(run.reporterToken, run.id, [...events, { id: '0195f0a0-7b7e-7000-8000-000000000003', node: 'a', type: 'progress', percent: 60 }]);
    expect(mixed.body).toEqual({ accepted: 1, duplicates: 2, lastSeq: 3 });
    expect(await replay(run.id)).toHaveLength(3);
  });

  it('counts an id repeated within a batch, or in other letter case, as the same event', async () => {
    const run = await createRun(t, member.token, skill, { a: [] });
    const id = '0195f0a0-7b7e-7000-8000-00000000abcd';
    const first = await post(run.reporterToken, run.id, [
      { id, node: 'a', type: 'started' },
      { id: id.toUpperCase(), node: 'a', type: 'progress', percent: 10 },
    ]);
    expect(first.body).toEqual({ accepted: 1, duplicates: 1, lastSeq: 1 });
    expect((await post(run.reporterToken, run.id, [{ id: id.toUpperCase(), node: 'a', type: 'started' }])).body).toEqual({ accepted: 0, duplicates: 1, lastSeq: 1 });
    expect((await replay(run.id)).map((e) => [e.id, e.type])).toEqual([[id, 'started']]);
  });

  it("takes a run's id in any letter case as the same run: one seq, one state", async () => {
    const run = await createRun(t, member.token, skill, { a: [] });
    const upper = run.id.toUpperCase();
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) => t.http(i % 4 < 2 ? run.reporterToken : admin).post(`/api/v1/runs/${i % 2 ? upper : run.id}/events`).send({ events: [{ node: 'a', type: 'progress', percent: i }] })),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    expect((await t.http(admin).get(`/api/v1/runs/${upper}`)).body).toEqual(expect.objectContaining({ id: run.id, lastSeq: 10 }));
    expect((await replay(run.id)).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const page = await t.http(admin).get(`/api/v1/runs/${upper}/events`).query({ limit: 1000 });
    expect(page.body.items).toHaveLength(10);
  });

  it('gives 20 concurrent reporters contiguous seqs, losing nothing', async () => {
    const nodes = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`n${i}`, [] as string[]]));
    const run = await createRun(t, member.token, skill, nodes);
    const results = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const answers = [];
        for (let j = 0; j < 5; j++) answers.push(await post(run.reporterToken, run.id, [{ node: `n${i}`, type: 'progress', percent: j * 10 }, { node: `n${i}`, type: 'log', message: `step ${j}` }]));
        return answers;
      }),
    );
    expect(results.flat().every((r) => r.status === 200)).toBe(true);
    const events = await replay(run.id, 0, 37);
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    for (let i = 0; i < 20; i++) {
      const mine = events.filter((e) => e.node === `n${i}`).map((e) => e.type);
      expect(mine).toEqual(Array.from({ length: 5 }, () => ['progress', 'log']).flat());
    }
    expect((await getRun(run.id)).lastSeq).toBe(200);
  });

  it('lets two instances write one run in turns: contiguous seqs, and neither acts on its stale copy of the run', async () => {
    // Each instance keeps the state it last wrote and writes from it in one statement; the other's writes make that copy stale.
    await withInstances(1, {}, async ([second]) => {
      const post2 = (events: Record<string, unknown>[]) => second.http(run.reporterToken).post(`/api/v1/runs/${run.id}/events`).send({ events });
      const run = await createRun(t, member.token, skill, { a: [], b: ['a'] });
      expect((await post(run.reporterToken, run.id, [{ node: 'a', type: 'started' }])).body.lastSeq).toBe(1);
      expect((await post2([{ node: 'a', type: 'progress', percent: 50 }, { node: 'a', type: 'succeeded' }])).body.lastSeq).toBe(3);
      // The first instance's copy still has `a` running: acting on it would refuse this with dependencies_not_met.
      const started = await post(run.reporterToken, run.id, [{ node: 'b', type: 'started' }]);
      expect(started.status).toBe(200);
      expect(started.body.lastSeq).toBe(4);
      // A retry through the other instance is a duplicate there too.
      const id = randomUUID();
      expect((await post(run.reporterToken, run.id, [{ id, node: 'b', type: 'progress', percent: 10 }])).body).toEqual({ accepted: 1, duplicates: 0, lastSeq: 5 });
      expect((await post2([{ id, node: 'b', type: 'progress', percent: 10 }])).body).toEqual({ accepted: 0, duplicates: 1, lastSeq: 5 });
      // Both at once, 40 requests.
      const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? post2 : (e: Record<string, unknown>[]) => post(run.reporterToken, run.id, e))([{ node: 'b', type: 'log', message: `line ${i}` }])));
      expect(answers.every((r) => r.status === 200)).toBe(true);
      expect((await post2([{ node: 'b', type: 'succeeded' }])).body.lastSeq).toBe(46);
      // The first instance's copy has the run running; it must not take an event for the ended run.
      expectProblem(await post(run.reporterToken, run.id, [{ node: 'b', type: 'log', message: 'late' }]), 409, 'run_terminal');
      const events = await replay(run.id);
      expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 46 }, (_, i) => i + 1));
      expect(events.filter((e) => e.type === 'log')).toHaveLength(40);
      expect((await getRun(run.id)).status).toBe('succeeded');
    });
  });

  it('applies an event once when its retries race, five at once on each of two instances', async () => {
    await withInstances(1, {}, async ([second]) => {
      const run = await createRun(t, member.token, skill, { a: [] });
      await post(run.reporterToken, run.id, [{ node: 'a', type: 'started' }]);
      const ids: string[] = [];
      for (let round = 0; round < 5; round++) {
        const event = { id: randomUUID(), node: 'a', type: 'progress', percent: round };
        ids.push(event.id);
        const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? second : t).http(run.reporterToken).post(`/api/v1/runs/${run.id}/events`).send({ events: [event] })));
        expect(answers.map((r) => r.status)).toEqual(Array(10).fill(200));
        expect(answers.map((r) => r.body.accepted).sort()).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        expect(answers.every((r) => r.body.lastSeq === round + 2)).toBe(true);
      }
      const events = await replay(run.id);
      expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(events.map((e) => e.id)).toEqual([expect.any(String), ...ids]);
    });
  });

  it('keeps a reporter token to its own run, and out of account routes', async () => {
    const mine = await createRun(t, member.token, skill, { a: [] });
    const other = await createRun(t, member.token, skill, { a: [] });
    expectProblem(await post(mine.reporterToken, other.id, [{ node: 'a', type: 'started' }]), 403, 'policy_denied');
    expect((await t.http(mine.reporterToken).get(`/api/v1/runs/${mine.id}`)).status).toBe(200);
    expectProblem(await t.http(mine.reporterToken).get(`/api/v1/runs/${other.id}`), 403, 'policy_denied');
    expectProblem(await t.http(mine.reporterToken).get('/api/v1/me'), 403, 'policy_denied');
    expectProblem(await t.http(mine.reporterToken).post('/api/v1/runs').send({ title: 'x', nodes: [{ key: 'a', skill }] }), 403, 'policy_denied');
    const viewer = await createMember(t, admin, 'viewer');
    expectProblem(await post(viewer.token, mine.id, [{ node: 'a', type: 'started' }]), 403, 'policy_denied');
    expect((await post(member.token, mine.id, [{ node: 'a', type: 'started' }])).status).toBe(200);
  });

  it("has the writer itself refuse a run that is unknown or another org's", async () => {
    // The HTTP route checks first; the writer is also what the stall sweep calls, so it checks again.
    const ingest = t.app.get(RunIngestService);
    const orgId = (await t.http(admin).get('/api/v1/me')).body.orgId;
    const run = await createRun(t, member.token, skill, { a: [] });
    const other = await createOrg(t, admin);
    await expect(ingest.ingest(orgId, randomUUID(), [{ node: 'a', type: 'started' }])).rejects.toBeInstanceOf(NotFoundError);
    await expect(ingest.ingest(other.id, run.id, [{ node: 'a', type: 'started' }])).rejects.toBeInstanceOf(NotFoundError);
    expect((await getRun(run.id)).lastSeq).toBe(0);
    // Once written, the run is in the writer's cache: the other org is still refused.
    expect((await ingest.ingest(orgId, run.id, [{ node: 'a', type: 'started' }])).lastSeq).toBe(1);
    await expect(ingest.ingest(other.id, run.id, [{ node: 'a', type: 'progress', percent: 5 }])).rejects.toBeInstanceOf(NotFoundError);
    expect((await getRun(run.id)).lastSeq).toBe(1);
  });

  it("answers 404 for a run that is unknown or another org's, also once the run's attributes are cached for its own org", async () => {
    const run = await createRun(t, member.token, skill, { a: [] });
    const other = await createOrg(t, admin);
    // Reported to once: the run's policy attributes are now cached for its own org.
    expect((await post(run.reporterToken, run.id, [{ node: 'a', type: 'started' }])).status).toBe(200);
    expectProblem(await post(other.adminToken, run.id, [{ node: 'a', type: 'progress', percent: 5 }]), 404, 'not_found');
    expectProblem(await t.http(other.adminToken).post(`/api/v1/runs/${run.id}/cancel`), 404, 'not_found');
    expectProblem(await t.http(admin).post(`/api/v1/runs/${randomUUID()}/cancel`), 404, 'not_found');
    expect(await getRun(run.id)).toEqual(expect.objectContaining({ status: 'running', lastSeq: 1 }));
  });

  it('replays in pages that end with a null cursor, refuses a bad after or limit naming it, and hides another org\'s run', async () => {
    const run = await createRun(t, member.token, skill, { a: [] });
    expect((await post(run.reporterToken, run.id, [{ node: 'a', type: 'started' }, { node: 'a', type: 'progress', percent: 50 }, { node: 'a', type: 'succeeded' }])).status).toBe(200);
    const page = (query: Record<string, string>, token = admin) => t.http(token).get(`/api/v1/runs/${run.id}/events`).query(query);
    const first = await page({ limit: '2' });
    expect({ seqs: first.body.items.map((e: { seq: number }) => e.seq), nextCursor: first.body.nextCursor }).toEqual({ seqs: [1, 2], nextCursor: '2' });
    const last = await page({ after: first.body.nextCursor, limit: '2' });
    expect({ seqs: last.body.items.map((e: { seq: number }) => e.seq), nextCursor: last.body.nextCursor }).toEqual({ seqs: [3], nextCursor: null });
    expect((await page({ after: '3' })).body).toEqual({ items: [], nextCursor: null });
    for (const [query, field] of [
      [{ after: '-1' }, 'after'],
      [{ after: 'abc' }, 'after'],
      [{ after: '1.5' }, 'after'],
      [{ limit: '0' }, 'limit'],
      [{ limit: '1001' }, 'limit'],
      [{ cursor: '2' }, 'cursor'],
    ] as const) {
      const res = await page(query);
      expectProblem(res, 400, 'validation_failed');
      expect(res.body.errors).toEqual([expect.objectContaining({ path: field })]);
    }
    const other = await createOrg(t, admin);
    expectProblem(await page({}, other.adminToken), 404, 'not_found');
    expectProblem(await t.http(admin).get(`/api/v1/runs/${randomUUID()}/events`), 404, 'not_found');
  });

  it('fails a group whose write fails, and takes the next write in order', async () => {
    // The HTTP route refuses such text first; called directly, the writer's statement fails on it.
    const ingest = t.app.get(RunIngestService);
    const orgId = (await t.http(admin).get('/api/v1/me')).body.orgId;
    const run = await createRun(t, member.token, skill, { a: [] });
    expect((await ingest.ingest(orgId, run.id, [{ node: 'a', type: 'started' }])).lastSeq).toBe(1);
    await expect(ingest.ingest(orgId, run.id, [{ node: 'a', type: 'log', message: 'nul \u0000' }])).rejects.not.toBeInstanceOf(NotFoundError);
    expect((await ingest.ingest(orgId, run.id, [{ node: 'a', type: 'progress', percent: 10 }])).lastSeq).toBe(2);
    expect((await replay(run.id)).map((e) => e.type)).toEqual(['started', 'progress']);
  });

  it('writes many runs in one transaction, each in order, and fails an unknown or illegal one alone', async () => {
    const ingest = t.app.get(RunIngestService);
    const orgId = (await t.http(admin).get('/api/v1/me')).body.orgId;
    const runs = await Promise.all(Array.from({ length: 40 }, () => createRun(t, member.token, skill, { a: [], b: ['a'] })));
    // Everything is queued at once, so the writer folds runs together (up to 4 transactions in flight).
    const calls = runs.flatMap((run) => [
      ingest.ingest(orgId, run.id, [{ node: 'a', type: 'started' }]),
      ingest.ingest(orgId, run.id, [{ node: 'a', type: 'progress', percent: 50 }]),
      ingest.ingest(orgId, run.id, [{ node: 'b', type: 'started' }]),
      ingest.ingest(orgId, run.id, [{ node: 'a', type: 'succeeded' }]),
    ]);
    const unknown = ingest.ingest(orgId, randomUUID(), [{ node: 'a', type: 'started' }]);
    const settled = await Promise.allSettled(calls);
    await expect(unknown).rejects.toBeInstanceOf(NotFoundError);
    expect(settled.map((s) => s.status)).toEqual(runs.flatMap(() => ['fulfilled', 'fulfilled', 'rejected', 'fulfilled']));
    for (const run of runs) {
      const events = await replay(run.id);
      expect(events.map((e) => `${e.seq}:${e.node}:${e.type}`)).toEqual(['1:a:started', '2:a:progress', '3:a:succeeded']);
    }
  });

  it('refuses an output over 64 KiB of JSON, and takes one of exactly 64 KiB', async () => {
    const run = await createRun(t, member.token, skill, { a: [] });
    const res = await post(run.reporterToken, run.id, [{ node: 'a', type: 'succeeded', output: { blob: 'x'.repeat(70_000) } }]);
    expectProblem(res, 400, 'validation_failed');
    expect(res.body.errors).toEqual([{ path: 'events.0.output', message: 'must be at most 64 KiB of JSON' }]);
    // 64 KiB is 65,536 bytes of UTF-8 JSON: {"blob":"…"} is 11 bytes around the text, and "é" is 2 bytes.
    const atLimit = { blob: 'é'.repeat(32_762) + 'x' };
    expect(Buffer.byteLength(JSON.stringify(atLimit))).toBe(65_536);
    expectProblem(await post(run.reporterToken, run.id, [{ node: 'a', type: 'succeeded', output: { blob: atLimit.blob + 'x' } }]), 400, 'validation_failed');
    expect((await post(run.reporterToken, run.id, [{ node: 'a', type: 'succeeded', output: atLimit }])).status).toBe(200);
    expect((await replay(run.id))[0]).toEqual(expect.objectContaining({ type: 'succeeded', output: atLimit }));
  });
});

describe('cancel', () => {
  it('ends unfinished nodes cancelled and refuses later events', async () => {
    const run = await createRun(t, member.token, skill, { a: [], b: ['a'], c: [] });
    await post(run.reporterToken, run.id, [{ node: 'c', type: 'succeeded' }, { node: 'a', type: 'started' }]);
    const res = await t.http(member.token).post(`/api/v1/runs/${run.id}/cancel`);
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('cancelled');
    expect(await statuses(run.id)).toEqual({ a: 'cancelled', b: 'cancelled', c: 'succeeded' });
    expectProblem(await post(run.reporterToken, run.id, [{ node: 'a', type: 'progress', percent: 1 }]), 409, 'run_terminal');
    expectProblem(await t.http(member.token).post(`/api/v1/runs/${run.id}/cancel`), 409, 'run_terminal');
  });
  it('is offered by GET /runs/{id} as the cancel itself would decide it, and asking audits nothing', async () => {
    const run = await createRun(t, admin, skill, { a: [] });
    const other = await createMember(t, admin, 'member');
    const orgId = (await t.http(admin).get('/api/v1/me')).body.orgId as string;
    const before = (await auditRows(t, orgId)).length;
    const mine = await t.http(member.token).get(`/api/v1/runs/${(await createRun(t, member.token, skill, { a: [] })).id}`);
    expect(mine.body.can).toEqual({ cancel: { allowed: true, reason: expect.any(String) } });
    expect((await t.http(admin).get(`/api/v1/runs/${run.id}`)).body.can.cancel.allowed).toBe(true);
    const offered = await t.http(other.token).get(`/api/v1/runs/${run.id}`);
    expect(offered.status).toBe(200);
    expect(offered.body.can.cancel.allowed).toBe(false);
    const auditedBetween = (await auditRows(t, orgId)).slice(before).filter((r) => r.action !== 'run.create');
    expect(auditedBetween).toEqual([]);
    // The reason is the denial's, word for word.
    const refused = await t.http(other.token).post(`/api/v1/runs/${run.id}/cancel`);
    expectProblem(refused, 403, 'policy_denied');
    expect(offered.body.can.cancel.reason).toBe(refused.body.detail);
    // Lists do not carry it.
    const listed = await t.http(admin).get('/api/v1/runs?limit=1');
    expect(listed.body.items[0]).not.toHaveProperty('can');
  });

  it('orders a cancel among concurrent reports: every answered event comes before it, every later one is refused', async () => {
    const run = await createRun(t, member.token, skill, { a: [], b: [], c: [] });
    await post(run.reporterToken, run.id, ['a', 'b', 'c'].map((node) => ({ node, type: 'started' })));
    // Three reporters post until refused; the cancel goes out once 30 of their events were answered.
    const answers: Awaited<ReturnType<typeof post>>[] = [];
    let cancelled: Promise<Awaited<ReturnType<typeof post>>> | undefined;
    const reporter = async (node: string) => {
      for (let i = 0; i < 1_000; i++) {
        const res = await post(run.reporterToken, run.id, [{ node, type: 'progress', percent: i % 100 }]);
        answers.push(res);
        // then() sends it now (supertest sends a request when it is awaited).
        if (answers.length === 30) cancelled = t.http(member.token).post(`/api/v1/runs/${run.id}/cancel`).then((r) => r);
        if (res.status !== 200) return;
      }
      throw new Error(`node ${node}: still accepted 1,000 events after the cancel went out`);
    };
    await Promise.all(['a', 'b', 'c'].map(reporter));
    expect((await cancelled!).status).toBe(200);
    const accepted = answers.filter((r) => r.status === 200);
    const refused = answers.filter((r) => r.status !== 200);
    expect(refused).toHaveLength(3);
    for (const r of refused) expectProblem(r, 409, 'run_terminal');
    const events = await replay(run.id);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    const firstCancelled = events.find((e) => e.type === 'cancelled')!.seq;
    expect(events.slice(firstCancelled - 1).map((e) => e.type)).toEqual(['cancelled', 'cancelled', 'cancelled']);
    expect(Math.max(...accepted.map((r) => r.body.lastSeq as number))).toBe(firstCancelled - 1);
    expect(events.filter((e) => e.type === 'progress')).toHaveLength(accepted.length);
    expect(await statuses(run.id)).toEqual({ a: 'cancelled', b: 'cancelled', c: 'cancelled' });
  });

  it("keeps the run's reporter token for an hour after it ends, then refuses it", async () => {
    const late = await createRun(t, member.token, skill, { a: [] });
    const gone = await createRun(t, member.token, skill, { a: [] });
    for (const run of [late, gone]) expect((await t.http(member.token).post(`/api/v1/runs/${run.id}/cancel`)).status).toBe(200);
    const [{ left }] = await t.db.query(`SELECT extract(epoch FROM reporter_expires_at - now()) AS left FROM runs WHERE id = $1`, [late.id]);
    expect(Number(left)).toBeGreaterThan(3500);
    // Within the hour the token still authenticates (the run refuses the event itself).
    expectProblem(await post(late.reporterToken, late.id, [{ node: 'a', type: 'progress', percent: 1 }]), 409, 'run_terminal');
    await t.db.query(`UPDATE runs SET reporter_expires_at = now() - interval '1 second' WHERE id = $1`, [gone.id]);
    expectProblem(await post(gone.reporterToken, gone.id, [{ node: 'a', type: 'progress', percent: 1 }]), 401, 'unauthenticated');
  });

  it('is audited with its own request and rule, also when it commits in a write another request started', async () => {
    // A lone cancel: the rule that lets a member cancel.
    const lone = await createRun(t, member.token, skill, { a: [] });
    expect((await t.http(member.token).post(`/api/v1/runs/${lone.id}/cancel`).set('X-Request-Id', 'lone-cancel')).status).toBe(200);
    const orgId = (await t.http(member.token).get('/api/v1/me')).body.orgId as string;
    const [expected] = (await auditRows(t, orgId)).filter((r) => r.action === 'run.cancel' && r.resource_id === lone.id);
    expect(expected!.request_id).toBe('lone-cancel');
    expect(expected!.policy_rule_id).not.toBeNull();

    // Reporters keep the run's writer busy, so the cancel waits and goes in a
    // write a reporter's request started; it is still its own request.
    const keys = Array.from({ length: 8 }, (_, i) => `n${i}`);
    const run = await createRun(t, member.token, skill, Object.fromEntries(keys.map((k) => [k, []])));
    // Set once the cancel is answered; the reporters' loops read it after each await.
    const done = { cancelled: false };
    let n = 0;
    const reporters = keys.map(async (key) => {
      await post(run.reporterToken, run.id, [{ node: key, type: 'started' }]).set('X-Request-Id', `report-${n++}`);
      while (!done.cancelled) await post(run.reporterToken, run.id, [{ node: key, type: 'progress', percent: n % 100 }]).set('X-Request-Id', `report-${n++}`);
    });
    await new Promise((r) => setTimeout(r, 100));
    const cancel = await t.http(member.token).post(`/api/v1/runs/${run.id}/cancel`).set('X-Request-Id', 'busy-cancel');
    done.cancelled = true;
    await Promise.all(reporters);
    expect(cancel.status).toBe(200);
    const rows = (await auditRows(t, orgId)).filter((r) => r.action === 'run.cancel' && r.resource_id === run.id);
    expect(rows.map((r) => ({ request: r.request_id, rule: r.policy_rule_id, version: r.policy_version }))).toEqual([
      { request: 'busy-cancel', rule: expected!.policy_rule_id, version: expected!.policy_version },
    ]);
  });
});

describe('stalls', () => {
  it('marks a silent running node stalled within staleAfterSeconds + 5 s, once, and clears it on its next event', async () => {
    const run = await createRun(t, member.token, skill, { a: [], b: [] }, { staleAfterSeconds: 5 });
    await post(run.reporterToken, run.id, [{ node: 'a', type: 'started' }]);
    const started = Date.now();
    let node: { stalled: boolean } | undefined;
    while (Date.now() - started < 10_000) {
      node = (await getRun(run.id)).nodes.find((n: { key: string }) => n.key === 'a');
      if (node?.stalled) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(node?.stalled).toBe(true);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(4_500);
    await new Promise((r) => setTimeout(r, 600));
    const stalledEvents = (await replay(run.id)).filter((e) => e.type === 'stalled');
    expect(stalledEvents.map((e) => e.node)).toEqual(['a']);
    await post(run.reporterToken, run.id, [{ node: 'a', type: 'heartbeat' }]);
    expect((await getRun(run.id)).nodes.find((n: { key: string }) => n.key === 'a').stalled).toBe(false);
  }, 20_000);

  it('marks each silent node once while three instances sweep, and no node that keeps reporting', async () => {
    // Two more instances on the same database, each sweeping every 200 ms as this one does.
    await withInstances(2, { VITRINE_STALL_SWEEP_INTERVAL_MS: '200' }, async (others) => {
      const runs = await Promise.all(Array.from({ length: 8 }, () => createRun(t, member.token, skill, { silent: [], talking: [] }, { staleAfterSeconds: 5 })));
      // Reports go through all three instances, so each holds some of the runs' state.
      const via = (i: number) => [t, ...others][i % 3]!;
      await Promise.all(runs.map((run, i) => via(i).http(run.reporterToken).post(`/api/v1/runs/${run.id}/events`).send({ events: [{ node: 'silent', type: 'started' }, { node: 'talking', type: 'started' }] })));
      const started = Date.now();
      let beat = 0;
      const stalledRuns = async () => (await Promise.all(runs.map((run) => getRun(run.id)))).filter((run) => run.nodes.some((n: { key: string; stalled: boolean }) => n.key === 'silent' && n.stalled)).length;
      while ((await stalledRuns()) < runs.length && Date.now() - started < 10_000) {
        // `talking` reports every second, through a different instance each time.
        beat++;
        await Promise.all(runs.map((run, i) => via(i + beat).http(run.reporterToken).post(`/api/v1/runs/${run.id}/events`).send({ events: [{ node: 'talking', type: 'heartbeat' }] })));
        await new Promise((r) => setTimeout(r, 1_000));
      }
      expect(await stalledRuns()).toBe(runs.length);
      expect(Date.now() - started).toBeLessThan(10_000);
      // Three more sweeps of each instance: still one mark a node.
      await new Promise((r) => setTimeout(r, 600));
      for (const run of runs) {
        const events = await replay(run.id);
        expect(events.filter((e) => e.type === 'stalled').map((e) => e.node)).toEqual(['silent']);
        expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
        expect((await getRun(run.id)).nodes.find((n: { key: string }) => n.key === 'talking').stalled).toBe(false);
      }
    });
  }, 30_000);

  it('marks a node once when three instances mark it at the same moment, and not once it has reported since', async () => {
    // No instance sweeps meanwhile (the others' first sweep is a minute away), so these marks are the only ones.
    const sweeper = t.app.get(StallSweeperService);
    await sweeper.onApplicationShutdown();
    try {
      await withInstances(2, { VITRINE_STALL_SWEEP_INTERVAL_MS: '60000' }, async (others) => {
        const orgId = (await t.http(admin).get('/api/v1/me')).body.orgId;
        const run = await createRun(t, member.token, skill, { a: [], b: [] }, { staleAfterSeconds: 3_600 });
        await post(run.reporterToken, run.id, [{ node: 'a', type: 'started' }, { node: 'b', type: 'started' }]);
        // Silent for two hours, as far as the database knows; what sweeps read, each instance's writer re-checks under the run's lock.
        await t.db.query(`UPDATE run_nodes SET last_event_at = now() - interval '2 hours' WHERE run_id = $1`, [run.id]);
        const writers = [t, ...others].map((app) => app.app.get(RunIngestService));
        // b reports again after a sweep would have read it as silent: the late event wins.
        await post(run.reporterToken, run.id, [{ node: 'b', type: 'heartbeat' }]);
        const results = await Promise.all(writers.flatMap((writer) => [1, 2, 3].map(() => writer.stall(orgId, run.id, ['a', 'b']))));
        expect(results.reduce((sum, r) => sum + r.accepted, 0)).toBe(1);
        const events = await replay(run.id);
        expect(events.filter((e) => e.type === 'stalled').map((e) => e.node)).toEqual(['a']);
        expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
        expect(await statuses(run.id)).toEqual({ a: 'running', b: 'running' });
        expect((await getRun(run.id)).nodes.map((n: { key: string; stalled: boolean }) => [n.key, n.stalled])).toEqual([['a', true], ['b', false]]);
      });
    } finally {
      sweeper.onApplicationBootstrap();
    }
  });

  it('finds silent nodes through an index no progress event changes, so an event updates its node in place', async () => {
    // What a progress event writes to its node; an index keyed or filtered on any of them makes every event's update add index entries.
    const eventColumns = ['percent', 'message', 'last_event_at'];
    const indexes: { name: string; columns: string[]; predicate: string | null }[] = await t.db.query(
      `SELECT c.relname AS name, ARRAY(SELECT a.attname::text FROM unnest(i.indkey) k JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k) AS columns,
              pg_get_expr(i.indpred, i.indrelid) AS predicate
         FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 'run_nodes'::regclass`,
    );
    expect(indexes.length).toBeGreaterThanOrEqual(2);
    for (const index of indexes) {
      const used = [...index.columns, ...(index.predicate?.match(/\w+/g) ?? [])];
      expect({ index: index.name, uses: used.filter((c) => eventColumns.includes(c)) }).toEqual({ index: index.name, uses: [] });
    }
    const [{ options }] = await t.db.query(`SELECT reloptions AS options FROM pg_class WHERE oid = 'run_nodes'::regclass`);
    expect(options).toContain('fillfactor=70');
    // The sweep's own query can use the index of running nodes (the test's tables are small enough that the planner would scan them).
    const plan: { 'QUERY PLAN': string }[] = await t.db.transaction(async (manager) => {
      await manager.query('SET LOCAL enable_seqscan = off');
      return manager.query(`EXPLAIN ${STALL_CANDIDATES}`);
    });
    expect(plan.map((p) => p['QUERY PLAN']).join('\n')).toMatch(/ix_run_nodes_running/);
  });
});

describe('listing', () => {
  it('filters by status, team and labels, newest first', async () => {
    const team = await createTeam(t, admin);
    const a = await createRun(t, member.token, skill, { a: [] }, { teamId: team.id, labels: { env: 'prod', repo: 'x' } });
    const b = await createRun(t, member.token, skill, { a: [] }, { labels: { env: 'dev' } });
    await post(b.reporterToken, b.id, [{ node: 'a', type: 'started' }]);
    const ids = async (query: Record<string, string | string[]>) => (await t.http(member.token).get('/api/v1/runs').query(query)).body.items.map((r: { id: string }) => r.id);
    expect(await ids({ teamId: team.id })).toEqual([a.id]);
    expect(await ids({ label: 'env:prod' })).toEqual([a.id]);
    expect(await ids({ label: ['env:prod', 'repo:x'] })).toEqual([a.id]);
    expect((await ids({ status: 'running' })).includes(b.id)).toBe(true);
    expect((await ids({ status: 'running' })).includes(a.id)).toBe(false);
    const all = await ids({ limit: '500' });
    expect(all.indexOf(b.id)).toBeLessThan(all.indexOf(a.id));
    expectProblem(await t.http(member.token).get('/api/v1/runs').query({ status: 'sleeping' }), 400, 'validation_failed');
  });
});

describe('the Reporter client against the real service', () => {
  it('batches, reports a DAG to success, and replays as sent', async () => {
    const run = await createRun(t, member.token, skill, { fetch: [], build: ['fetch'] });
    const reporter = new Reporter({ url: t.url, token: run.reporterToken, runId: run.id, batchSize: 3 });
    reporter.started('fetch');
    reporter.progress('fetch', 50, 'halfway');
    reporter.succeeded('fetch', { files: 12 });
    reporter.started('build');
    reporter.log('build', 'compiling', 'debug');
    reporter.succeeded('build');
    const totals = await reporter.close();
    expect(totals).toEqual({ accepted: 6, duplicates: 0, lastSeq: 6 });
    expect((await getRun(run.id)).status).toBe('succeeded');
    expect((await replay(run.id)).map((e) => `${e.node}:${e.type}`)).toEqual(['fetch:started', 'fetch:progress', 'fetch:succeeded', 'build:started', 'build:log', 'build:succeeded']);
  });
});
