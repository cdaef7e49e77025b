import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { Socket as NetSocket } from 'node:net';
import { adminToken, createArtifact, createMember, createRun, createShare, createSkill, type TestMember } from '../helpers/factories.js';
import { connectLive, seqsOf, sleep, type LiveClient } from '../helpers/live-client.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

/** A counter or gauge's value on the instance's /metrics, 0 while it has no sample. */
async function metric(t: TestApp, name: string, labels = ''): Promise<number> {
  const res = await t.http().get('/metrics');
  expect(res.status).toBe(200);
  const line = res.text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  return line ? Number(line.split(' ').pop()) : 0;
}

/** The TCP socket under a socket.io-client websocket: pausing it stops reading, as a stalled browser tab would. */
function tcpOf(client: LiveClient): NetSocket {
  return (client.socket.io.engine.transport as unknown as { ws: { _socket: NetSocket } }).ws._socket;
}

describe('live stream across instances and slow subscribers', () => {
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

  afterEach(() => {
    for (const client of clients.splice(0)) client.close();
  });

  describe('three instances on one database', () => {
    let a: TestApp;
    let b: TestApp;
    let c: TestApp;
    let admin: string;
    let member: TestMember;
    let skill: string;

    beforeAll(async () => {
      a = await createTestApp();
      b = await createTestApp({ DATABASE_URL: a.config.databaseUrl! });
      c = await createTestApp({ DATABASE_URL: a.config.databaseUrl! });
      admin = await adminToken(a);
      member = await createMember(a, admin, 'member');
      skill = (await createSkill(a, admin)).name;
    });

    afterAll(async () => {
      await c?.close();
      await b?.close();
      await a?.close();
    });

    it('gives a viewer on C every seq of a run ingested through A and B at once, exactly once and in order', async () => {
      const run = await createRun(a, member.token, skill, { a: [] });
      const viewer = await live(c, { token: member.token });
      expect(await viewer.subscribe({ run: run.id, after: 0 })).toMatchObject({ ok: true, replayed: 0 });

      // Small batches are relayed with their events; large ones (past a NOTIFY's size) as a seq range read from the database.
      const batch = (i: number) =>
        i % 5 === 4
          ? Array.from({ length: 4 }, () => ({ node: 'a', type: 'log', message: 'x'.repeat(3_000) }))
          : Array.from({ length: 3 }, (_, k) => ({ node: 'a', type: 'progress', percent: (i + k) % 100 }));
      const poster = async (t: TestApp) => {
        let last = 0;
        for (let i = 0; i < 40; i++) last = Math.max(last, await report(t, run.reporterToken, run.id, batch(i)));
        return last;
      };
      const lasts = await Promise.all([poster(a), poster(b)]);
      const total = Math.max(...lasts);
      expect(total).toBe(2 * (32 * 3 + 8 * 4));

      await viewer.waitFor((r) => r.event === 'run.event' && r.payload.seq === total, 10_000);
      await sleep(300);
      expect(seqsOf(viewer, run.id)).toEqual(range(1, total));
      // Events arrive whole, whichever way they were relayed.
      const logged = viewer.received.find((r) => r.event === 'run.event' && r.payload.type === 'log');
      expect(logged?.payload).toMatchObject({ runId: run.id, node: 'a', message: 'x'.repeat(3_000) });
      // C sent them all; none were ingested there.
      expect(await metric(c, 'live_deliveries_total', 'event="run.event"')).toBeGreaterThanOrEqual(total);
      // Every relay fit a NOTIFY: none went through the adapter's table for larger messages (an INSERT, and a SELECT on each instance).
      expect(await a.db.query('SELECT count(*)::int AS n FROM socket_io_attachments')).toEqual([{ n: 0 }]);
    });

    it('lets an instance that closes as soon as it has started give its LISTEN connection back', async () => {
      const listening = async () => (await a.db.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'vitrine-live' AND query LIKE 'LISTEN%'`)) as { n: number }[];
      const before = await listening();
      const d = await createTestApp({ DATABASE_URL: a.config.databaseUrl! });
      const closed = d.close().then(() => 'closed');
      expect(await Promise.race([closed, sleep(3_000).then(() => 'still closing after 3 s')])).toBe('closed');
      await sleep(200);
      expect(await listening()).toEqual(before);
    });

    it('cuts a link’s viewer on C within 1 s of a revoke through A', async () => {
      const artifact = await createArtifact(a, member.token, { classification: 'public' });
      const share = await createShare(a, member.token, artifact.id);
      const viewer = await live(c, { token: share.token });
      expect((await viewer.subscribe({ share: share.token })).ok).toBe(true);
      // A revision through B reaches the viewer on C.
      expect((await b.http(member.token).put(`/api/v1/artifacts/${artifact.id}/content`).send({ format: 'markdown', body: 'v2' })).status).toBe(200);
      expect((await viewer.waitFor((r) => r.event === 'artifact.revised')).payload).toEqual({ artifactId: artifact.id, revision: 2 });

      const revokedAt = Date.now();
      expect((await a.http(member.token).delete(`/api/v1/shares/${share.id}`)).status).toBe(204);
      const revoked = await viewer.waitFor((r) => r.event === 'share.revoked', 1_000);
      expect(revoked.payload).toEqual({ shareId: share.id, reason: 'revoked' });
      expect(revoked.at - revokedAt).toBeLessThan(1_000);
      expect(await viewer.closedWithin(1_000)).toBe('io server disconnect');
    });

    it('closes a deactivated member’s socket on C when A deactivates them', async () => {
      const leaving = await createMember(a, admin, 'member');
      const socket = await live(c, { token: leaving.token });
      expect((await a.http(admin).delete(`/api/v1/members/${leaving.id}`)).status).toBe(204);
      expect(await socket.closedWithin(1_000)).toBe('io server disconnect');
    });
  });

  describe('a subscriber that stops reading', () => {
    let t: TestApp;
    let member: TestMember;
    let skill: string;

    beforeAll(async () => {
      t = await createTestApp({ VITRINE_LIVE_SOCKET_BUFFER: '100' });
      const admin = await adminToken(t);
      member = await createMember(t, admin, 'member');
      skill = (await createSkill(t, admin)).name;
    });

    afterAll(async () => {
      await t?.close();
    });

    it('is disconnected as too slow, told why after what it was sent, and resumes with after, while another viewer keeps receiving', async () => {
      const run = await createRun(t, member.token, skill, { a: [] });
      const fast = await live(t, { token: member.token });
      const slow = await live(t, { token: member.token });
      expect((await fast.subscribe({ run: run.id })).ok).toBe(true);
      expect((await slow.subscribe({ run: run.id })).ok).toBe(true);
      const slowTcp = tcpOf(slow);
      slowTcp.pause();
      const before = await metric(t, 'live_disconnects_total', 'reason="too_slow"');

      // Large events fill the kernel's buffers quickly; then the server's own buffer for the slow socket grows to its bound.
      const events = Array.from({ length: 50 }, () => ({ node: 'a', type: 'log', message: 'y'.repeat(4_000) }));
      const latencies: number[] = [];
      let total = 0;
      let cut = false;
      for (let i = 0; i < 200 && !cut; i++) {
        const sentAt = Date.now();
        total = await report(t, run.reporterToken, run.id, events);
        const arrived = await fast.waitFor((r) => r.event === 'run.event' && r.payload.seq === total, 5_000);
        latencies.push(arrived.at - sentAt);
        if (i % 5 === 4) cut = (await metric(t, 'live_disconnects_total', 'reason="too_slow"')) > before;
      }
      expect(cut).toBe(true);
      const sorted = [...latencies].sort((x, y) => x - y);
      console.log(`the other viewer, POST sent → last event of its batch received, over ${latencies.length} batches of 50 events (${total} events): p50 ${quantile(sorted, 0.5)} ms, max ${sorted[sorted.length - 1]} ms`);
      expect(fast.socket.connected).toBe(true);
      expect(seqsOf(fast, run.id)).toEqual(range(1, total));

      // Reading again, the slow client gets what it was sent in order, then the reason, then the close.
      slowTcp.resume();
      expect(await slow.closedWithin(5_000)).toBe('io server disconnect');
      const closing = slow.received.find((r) => r.event === 'closing');
      expect(closing?.payload).toEqual({ code: 'too_slow', message: expect.any(String) });
      const seen = seqsOf(slow, run.id);
      expect(seen.length).toBeLessThan(total);
      expect(seen).toEqual(range(1, seen.length));
      expect(slow.received.indexOf(closing!)).toBe(slow.received.length - 1);

      // It resumes with after and misses nothing.
      const resumed = await live(t, { token: member.token });
      const last = seen[seen.length - 1] ?? 0;
      expect(await resumed.subscribe({ run: run.id, after: last })).toMatchObject({ ok: true, replayed: total - last });
      await resumed.waitFor((r) => r.event === 'run.event' && r.payload.seq === total, 10_000);
      expect([...seen, ...seqsOf(resumed, run.id)]).toEqual(range(1, total));
    });

    it('waits for a viewer that pauses during a long replay, reading from the database at its pace, instead of cutting it', async () => {
      const run = await createRun(t, member.token, skill, { a: [] });
      const events = Array.from({ length: 100 }, () => ({ node: 'a', type: 'log', message: 'z'.repeat(4_000) }));
      let total = 0;
      for (let i = 0; i < 25; i++) total = await report(t, run.reporterToken, run.id, events);
      const viewer = await live(t, { token: member.token });
      const tcp = tcpOf(viewer);
      // Its first page of 1,000 events fills the kernel's buffers and then the socket's past its bound while it does not read.
      const acked = viewer.subscribe({ run: run.id, after: 0 });
      tcp.pause();
      await sleep(1_000);
      tcp.resume();
      expect(await acked).toMatchObject({ ok: true, replayed: total });
      await viewer.waitFor((r) => r.event === 'run.event' && r.payload.seq === total, 10_000);
      expect(seqsOf(viewer, run.id)).toEqual(range(1, total));
      expect(viewer.received.filter((r) => r.event === 'closing')).toEqual([]);
      expect(viewer.socket.connected).toBe(true);
    });

    it('counts sockets, subscriptions, deliveries, replays and disconnects on /metrics', async () => {
      const run = await createRun(t, member.token, skill, { a: [] });
      await report(t, run.reporterToken, run.id, [{ node: 'a', type: 'started' }, { node: 'a', type: 'progress', percent: 10 }]);
      const sockets = await metric(t, 'live_sockets');
      const runSubs = await metric(t, 'live_subscriptions', 'kind="run"');
      const delivered = await metric(t, 'live_deliveries_total', 'event="run.event"');
      const replayed = await metric(t, 'live_replayed_events_total', 'source="replay"');
      const leftByClient = await metric(t, 'live_disconnects_total', 'reason="client namespace disconnect"');

      const viewer = await live(t, { token: member.token });
      expect(await viewer.subscribe({ run: run.id, after: 0 })).toMatchObject({ ok: true, replayed: 2 });
      await report(t, run.reporterToken, run.id, [{ node: 'a', type: 'progress', percent: 20 }]);
      await viewer.waitFor((r) => r.event === 'run.event' && r.payload.seq === 3);
      expect(await metric(t, 'live_sockets')).toBe(sockets + 1);
      expect(await metric(t, 'live_subscriptions', 'kind="run"')).toBe(runSubs + 1);
      expect(await metric(t, 'live_replayed_events_total', 'source="replay"')).toBe(replayed + 2);
      expect(await metric(t, 'live_deliveries_total', 'event="run.event"')).toBe(delivered + 3);

      viewer.close();
      await viewer.closed;
      await sleep(100);
      expect(await metric(t, 'live_sockets')).toBe(sockets);
      expect(await metric(t, 'live_subscriptions', 'kind="run"')).toBe(runSubs);
      expect(await metric(t, 'live_disconnects_total', 'reason="client namespace disconnect"')).toBe(leftByClient + 1);
    });
  });
});
