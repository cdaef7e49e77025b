import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { adminToken, createArtifact, createMember, createRun, createShare, createSkill, type TestMember } from '../helpers/factories.js';
import { connectLive, seqsOf, sleep, type LiveClient } from '../helpers/live-client.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

// `/live` across instances through Redis (VITRINE_REDIS_URL) instead of the database:
// run against the Redis on 127.0.0.1:6379 when one answers there, skipped otherwise.

const REDIS_URL = 'redis://127.0.0.1:6379';

/** Why Redis cannot be used here, or undefined when it answers PING. */
async function redisAbsent(): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect(6379, '127.0.0.1');
    const done = (reason: string | undefined) => {
      socket.destroy();
      resolve(reason);
    };
    socket.setTimeout(1_000, () => done('no answer within 1 s'));
    socket.once('error', (error) => done(error.message));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG') ? undefined : `it answered ${JSON.stringify(data.toString().slice(0, 40))} to PING`));
  });
}

const absent = await redisAbsent();
if (absent) console.log(`live-redis: skipped, no Redis on 127.0.0.1:6379 (${absent})`);
const describeWithRedis = absent ? describe.skip : describe;

const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);

describeWithRedis('/live across three instances on one Redis', () => {
  let a: TestApp;
  let b: TestApp;
  let c: TestApp;
  let admin: string;
  let member: TestMember;
  let skill: string;
  const clients: LiveClient[] = [];

  const live = async (t: TestApp, auth: { token?: string }) => {
    const client = await connectLive(t, auth);
    clients.push(client);
    return client;
  };
  const report = async (t: TestApp, reporterToken: string, runId: string, events: Record<string, unknown>[]) => {
    const res = await t.http(reporterToken).post(`/api/v1/runs/${runId}/events`).send({ events });
    expect(res.status).toBe(200);
    return res.body.lastSeq as number;
  };

  beforeAll(async () => {
    a = await createTestApp({ VITRINE_REDIS_URL: REDIS_URL });
    b = await createTestApp({ DATABASE_URL: a.config.databaseUrl!, VITRINE_REDIS_URL: REDIS_URL });
    c = await createTestApp({ DATABASE_URL: a.config.databaseUrl!, VITRINE_REDIS_URL: REDIS_URL });
    admin = await adminToken(a);
    member = await createMember(a, admin, 'member');
    skill = (await createSkill(a, admin)).name;
  });

  afterEach(() => {
    for (const client of clients.splice(0)) client.close();
  });

  afterAll(async () => {
    await c?.close();
    await b?.close();
    await a?.close();
  });

  it('gives a viewer on C every seq of a run ingested through A and B at once, exactly once and in order', async () => {
    expect([a, b, c].map((t) => t.config.liveAdapter)).toEqual(['redis', 'redis', 'redis']);
    const run = await createRun(a, member.token, skill, { a: [] });
    const viewer = await live(c, { token: member.token });
    expect(await viewer.subscribe({ run: run.id, after: 0 })).toMatchObject({ ok: true, replayed: 0 });

    // Small batches are relayed with their events; large ones as a seq range read from the database.
    const batch = (i: number) =>
      i % 5 === 4
        ? Array.from({ length: 4 }, () => ({ node: 'a', type: 'log', message: 'x'.repeat(3_000) }))
        : Array.from({ length: 3 }, (_, k) => ({ node: 'a', type: 'progress', percent: (i + k) % 100 }));
    const poster = async (t: TestApp) => {
      let last = 0;
      for (let i = 0; i < 40; i++) last = Math.max(last, await report(t, run.reporterToken, run.id, batch(i)));
      return last;
    };
    const total = Math.max(...(await Promise.all([poster(a), poster(b)])));
    expect(total).toBe(2 * (32 * 3 + 8 * 4));
    await viewer.waitFor((r) => r.event === 'run.event' && r.payload.seq === total, 10_000);
    await sleep(300);
    expect(seqsOf(viewer, run.id)).toEqual(range(1, total));
    expect(viewer.received.find((r) => r.event === 'run.event' && r.payload.type === 'log')?.payload).toMatchObject({ runId: run.id, message: 'x'.repeat(3_000) });
    // Through Redis, not the database: no instance LISTENs there.
    expect(await a.db.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'`)).toEqual([{ n: 0 }]);
  });

  it('reaches C with a revision through B, a revoke through A, and a deactivation through A', async () => {
    const artifact = await createArtifact(a, member.token, { classification: 'public' });
    const share = await createShare(a, member.token, artifact.id);
    const viewer = await live(c, { token: share.token });
    expect((await viewer.subscribe({ share: share.token })).ok).toBe(true);
    expect((await b.http(member.token).put(`/api/v1/artifacts/${artifact.id}/content`).send({ format: 'markdown', body: 'v2' })).status).toBe(200);
    expect((await viewer.waitFor((r) => r.event === 'artifact.revised')).payload).toEqual({ artifactId: artifact.id, revision: 2 });
    expect((await a.http(member.token).delete(`/api/v1/shares/${share.id}`)).status).toBe(204);
    expect((await viewer.waitFor((r) => r.event === 'share.revoked', 1_000)).payload).toEqual({ shareId: share.id, reason: 'revoked' });
    expect(await viewer.closedWithin(1_000)).toBe('io server disconnect');

    const leaving = await createMember(a, admin, 'member');
    const socket = await live(c, { token: leaving.token });
    expect((await a.http(admin).delete(`/api/v1/members/${leaving.id}`)).status).toBe(204);
    expect(await socket.closedWithin(1_000)).toBe('io server disconnect');
  });
});
