import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { Socket as NetSocket } from 'node:net';
import { DomainEvents } from '../../src/common/domain-events.js';
import { adminToken, createArtifact, createMember, createRun, createShare, createSkill, type TestMember } from '../helpers/factories.js';
import { connectLive, seqsOf, sleep, type LiveClient } from '../helpers/live-client.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

// /live while the database goes away and comes back: instance `second` reaches
// PostgreSQL (its pool and its adapter's LISTEN connection alike) through a TCP
// proxy that is cut and restored, as in test/e2e/database-outage.e2e-spec.ts;
// instance `first` keeps its database throughout.

/** Longer than the gateway's look at whether its adapter listens, so its catch-up after an outage is done before the next test. */
const LISTEN_SETTLE_MS = 1_000;
const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);

/** The TCP socket under a socket.io-client websocket: pausing it stops reading, as a stalled browser tab would. */
function tcpOf(client: LiveClient): NetSocket {
  return (client.socket.io.engine.transport as unknown as { ws: { _socket: NetSocket } }).ws._socket;
}

describe('/live across a database outage', () => {
  let first: TestApp;
  let second: TestApp;
  let proxy: TcpProxy;
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
  const progress = (n: number) => Array.from({ length: n }, (_, i) => ({ node: 'a', type: 'progress', percent: i % 100 }));
  /** What the database answers once it is back may take the pool a moment: asks until `ok` or `deadlineMs`. */
  const until = async <T>(attempt: () => Promise<T>, ok: (value: T) => boolean, deadlineMs = 10_000): Promise<T> => {
    const deadline = Date.now() + deadlineMs;
    for (;;) {
      const value = await attempt();
      if (ok(value) || Date.now() > deadline) return value;
      await sleep(100);
    }
  };

  beforeAll(async () => {
    first = await createTestApp();
    const url = new URL(first.config.databaseUrl!);
    proxy = new TcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
    await proxy.start();
    url.hostname = '127.0.0.1';
    url.port = String(proxy.port);
    // A small socket bound, for the replay below to wait on a viewer that does not read.
    second = await createTestApp({ DATABASE_URL: url.toString(), VITRINE_LIVE_SOCKET_BUFFER: '100' });
    const admin = await adminToken(first);
    member = await createMember(first, admin, 'member');
    skill = (await createSkill(first, admin)).name;
  });

  /** How many run events an instance has replayed from the database so far (`/metrics`). */
  const replayed = async (t: TestApp) => {
    const line = (await t.http().get('/metrics')).text.split('\n').find((l) => l.startsWith('live_replayed_events_total{source="replay"} '));
    return line ? Number(line.split(' ').pop()) : 0;
  };
  /** The instances' adapter connections that LISTEN now (one each, while they hear each other). */
  const listening = async () =>
    ((await first.db.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'vitrine-live' AND query LIKE 'LISTEN%'`)) as { n: number }[])[0]!.n;

  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await proxy.restore();
    // The next test starts with both instances hearing each other again.
    const n = await until(listening, (count) => count === 2, 15_000);
    if (n !== 2) throw new Error(`${n} instance(s) listen again 15 s after the outage, not 2`);
    await sleep(LISTEN_SETTLE_MS);
  });

  afterAll(async () => {
    await proxy?.restore();
    await second?.close();
    await proxy?.cut();
    await first?.close();
  });

  it('answers a subscribe and a handshake unavailable while the database is away, and subscribes again once it is back', async () => {
    const run = await createRun(first, member.token, skill, { a: [] });
    const artifact = await createArtifact(first, member.token, { classification: 'public' });
    const share = await createShare(first, member.token, artifact.id);
    const viewer = await live(second, { token: member.token });

    await proxy.cut();
    const unavailable = { ok: false, error: { code: 'unavailable', message: expect.any(String) } };
    expect(await viewer.subscribe({ run: run.id, after: 0 })).toEqual(unavailable);
    expect(await viewer.subscribe({ artifact: artifact.id })).toEqual(unavailable);
    expect(await viewer.subscribe({ share: share.token })).toEqual(unavailable);
    await expect(connectLive(second, { token: member.token })).rejects.toMatchObject({ data: { code: 'unavailable' } });
    // Nothing was registered: nothing arrives, and the socket stays.
    expect(viewer.socket.connected).toBe(true);

    await proxy.restore();
    await report(first, run.reporterToken, run.id, [{ node: 'a', type: 'started' }]);
    const back = await until(() => viewer.subscribe({ run: run.id, after: 0 }), (ack) => ack.ok === true);
    expect(back).toMatchObject({ ok: true, replayed: 1 });
    await viewer.waitFor((r) => r.event === 'run.event' && r.payload.seq === 1);
  });

  it('catches up, once it listens again, on what was committed while it could not hear: events, a revoke, a revision', async () => {
    const run = await createRun(first, member.token, skill, { a: [] });
    const linked = await createArtifact(first, member.token, { classification: 'public' });
    const share = await createShare(first, member.token, linked.id);
    const watched = await createArtifact(first, member.token);
    const onSecond = await live(second, { token: member.token });
    const onFirst = await live(first, { token: member.token });
    const linkViewer = await live(second, { token: share.token });
    expect((await onSecond.subscribe({ run: run.id })).ok).toBe(true);
    expect((await onSecond.subscribe({ artifact: watched.id })).ok).toBe(true);
    expect((await onFirst.subscribe({ run: run.id })).ok).toBe(true);
    expect((await linkViewer.subscribe({ share: share.token })).ok).toBe(true);
    let last = await report(first, run.reporterToken, run.id, [{ node: 'a', type: 'started' }, ...progress(2)]);
    await onSecond.waitFor((r) => r.event === 'run.event' && r.payload.seq === last);

    await proxy.cut();
    // Committed through the first instance while the second hears nothing; then nothing more.
    for (let i = 0; i < 3; i++) last = await report(first, run.reporterToken, run.id, progress(3));
    expect((await first.http(member.token).put(`/api/v1/artifacts/${watched.id}/content`).send({ format: 'markdown', body: 'v2' })).status).toBe(200);
    expect((await first.http(member.token).delete(`/api/v1/shares/${share.id}`)).status).toBe(204);
    await sleep(300);
    expect(onSecond.socket.connected).toBe(true);
    await proxy.restore();

    // The adapter listens again within 1-3 s; what it missed is read from the database then.
    await onSecond.waitFor((r) => r.event === 'run.event' && r.payload.seq === last, 10_000);
    expect((await onSecond.waitFor((r) => r.event === 'artifact.revised', 5_000)).payload).toEqual({ artifactId: watched.id, revision: 2 });
    expect((await linkViewer.waitFor((r) => r.event === 'share.revoked', 5_000)).payload).toEqual({ shareId: share.id, reason: 'revoked' });
    expect(await linkViewer.closedWithin()).toBe('io server disconnect');

    // Relays flow both ways again: the second instance's own commits reach the first one's viewer.
    last = await until(
      () => second.http(run.reporterToken).post(`/api/v1/runs/${run.id}/events`).send({ events: progress(2) }),
      (res) => res.status === 200,
    ).then((res) => res.body.lastSeq as number);
    await onFirst.waitFor((r) => r.event === 'run.event' && r.payload.seq === last, 5_000);
    await onSecond.waitFor((r) => r.event === 'run.event' && r.payload.seq === last, 5_000);
    await sleep(200);
    expect(seqsOf(onSecond, run.id)).toEqual(range(1, last));
    expect(seqsOf(onFirst, run.id)).toEqual(range(1, last));
  });

  it('closes a viewer whose replay cannot read on, after what it was sent, and it resumes with after once the database is back', async () => {
    const run = await createRun(first, member.token, skill, { a: [] });
    const events = Array.from({ length: 100 }, () => ({ node: 'a', type: 'log', message: 'z'.repeat(4_000) }));
    let total = 0;
    // More than the kernel's buffers on both ends hold (a few MB each on loopback), so the replay has to wait.
    for (let i = 0; i < 60; i++) total = await report(first, run.reporterToken, run.id, events);
    const viewer = await live(second, { token: member.token });
    const tcp = tcpOf(viewer);
    // Its first pages fill the kernel's buffers and then the socket's past its bound: the replay waits for it to read.
    const replayedBefore = await replayed(second);
    const acked = viewer.subscribe({ run: run.id, after: 0 });
    tcp.pause();
    await sleep(1_000);
    // The replay waits for the viewer to read, part way (else the buffers above held it all, and this tests nothing).
    expect(await replayed(second)).toBeLessThan(replayedBefore + total);
    await proxy.cut();
    tcp.resume();
    expect(await acked).toMatchObject({ ok: true, replayed: total });
    expect(await viewer.closedWithin(5_000)).toBe('io server disconnect');
    const seen = seqsOf(viewer, run.id);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.length).toBeLessThan(total);
    expect(seen).toEqual(range(1, seen.length));

    await proxy.restore();
    const resumed = await until(() => live(second, { token: member.token }).catch(() => undefined), (client) => client !== undefined);
    const ack = await until(() => resumed!.subscribe({ run: run.id, after: seen.length }), (answer) => answer.ok === true);
    expect(ack).toMatchObject({ ok: true, replayed: total - seen.length });
    await resumed!.waitFor((r) => r.event === 'run.event' && r.payload.seq === total, 10_000);
    expect([...seen, ...seqsOf(resumed!, run.id)]).toEqual(range(1, total));
  });

  it('keeps a viewer and its order when a relayed seq range reads as nothing', async () => {
    const run = await createRun(first, member.token, skill, { a: [] });
    const viewer = await live(second, { token: member.token });
    expect((await viewer.subscribe({ run: run.id })).ok).toBe(true);
    const started = await report(first, run.reporterToken, run.id, [{ node: 'a', type: 'started' }]);
    await viewer.waitFor((r) => r.event === 'run.event' && r.payload.seq === started);
    // A batch too large for a NOTIFY is relayed as its seq range, which the second instance reads from the database:
    // this one names seqs the run does not have.
    const orgId = (await first.http(member.token).get('/api/v1/me')).body.orgId as string;
    const ghost = [started + 1, started + 2, started + 3].map((seq) => ({ seq, id: `ghost-${seq}`, at: new Date().toISOString(), node: 'a', type: 'ghost', message: 'g'.repeat(3_000) }));
    first.app.get(DomainEvents).publish('run.events', { orgId, runId: run.id, events: ghost });
    await sleep(300);
    expect(viewer.received.filter((r) => r.event === 'run.event' && r.payload.type === 'ghost')).toEqual([]);
    expect(viewer.socket.connected).toBe(true);

    // What is committed next arrives whole, in order, once.
    const last = await report(first, run.reporterToken, run.id, progress(5));
    await viewer.waitFor((r) => r.event === 'run.event' && r.payload.seq === last);
    await sleep(200);
    expect(seqsOf(viewer, run.id)).toEqual(range(1, last));
    expect(viewer.received.filter((r) => r.event === 'run.event' && r.payload.type === 'ghost')).toEqual([]);
  });
});
