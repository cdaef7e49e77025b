import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { DomainEvents, type DomainEventMap } from '../../src/common/domain-events.js';
import { RunsService } from '../../src/runs/runs.service.js';
import { auditRows, lastSeq } from '../helpers/audit.js';
import { adminToken, createArtifact, createMember, createOrg, createRun, createShare, createSkill, FAKE_SECRET, type TestMember } from '../helpers/factories.js';
import { connectLive, seqsOf, sleep, type LiveClient } from '../helpers/live-client.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, createTestApp, type TestApp } from '../helpers/test-app.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);

describe('live stream (/live)', () => {
  let t: TestApp;
  let admin: string;
  let member: TestMember;
  let skill: string;
  const clients: LiveClient[] = [];

  const live = async (auth: { token?: string }, headers: Record<string, string> = {}) => {
    const client = await connectLive(t, auth, headers);
    clients.push(client);
    return client;
  };
  const report = async (reporterToken: string, runId: string, events: Record<string, unknown>[]) => {
    const res = await t.http(reporterToken).post(`/api/v1/runs/${runId}/events`).send({ events });
    expect(res.status).toBe(200);
    return res.body.lastSeq as number;
  };
  const progress = (n: number) => Array.from({ length: n }, (_, i) => ({ node: 'a', type: 'progress', percent: i % 100, message: `step ${i}` }));

  beforeAll(async () => {
    t = await createTestApp();
    admin = await adminToken(t);
    member = await createMember(t, admin, 'member');
    skill = (await createSkill(t, admin)).name;
  });

  afterEach(() => {
    for (const client of clients.splice(0)) client.close();
  });

  afterAll(async () => {
    await t.close();
  });

  it('replays what a viewer missed, then follows live, with no gap or duplicate across a forced disconnect mid-stream', async () => {
    const run = await createRun(t, member.token, skill, { a: [] });
    await report(run.reporterToken, run.id, [{ node: 'a', type: 'started' }, ...progress(4)]);

    const first = await live({ token: member.token });
    const ack = await first.subscribe({ run: run.id, after: 0 });
    expect(ack).toEqual({ ok: true, snapshot: expect.objectContaining({ id: run.id, status: 'running', lastSeq: 5 }), replayed: 5 });

    // A reporter keeps posting while the viewer is cut mid-stream and comes back with the last seq it saw.
    const posting = { on: true };
    let lastPosted = 5;
    const poster = (async () => {
      while (posting.on) lastPosted = await report(run.reporterToken, run.id, progress(3));
    })();
    await first.waitFor((r) => r.event === 'run.event' && (r.payload.seq as number) >= 20);
    first.socket.disconnect();
    const seenBefore = seqsOf(first, run.id);
    const resumeAfter = seenBefore[seenBefore.length - 1]!;

    await sleep(100);
    const second = await live({ token: member.token });
    const resumed = await second.subscribe({ run: run.id, after: resumeAfter });
    expect(resumed.ok).toBe(true);
    const replayed = resumed.replayed as number;
    expect(replayed).toBeGreaterThan(0);
    const target = lastPosted + 15;
    try {
      await second.waitFor((r) => r.event === 'run.event' && (r.payload.seq as number) >= target);
    } finally {
      posting.on = false;
      await poster;
    }
    await second.waitFor((r) => r.event === 'run.event' && r.payload.seq === lastPosted);

    // Before the cut: 1, 2, … in order; after it: exactly what follows, the replay first (right after its ack), then live.
    expect(seenBefore).toEqual(range(1, resumeAfter));
    const afterResume = seqsOf(second, run.id);
    expect(afterResume).toEqual(range(resumeAfter + 1, lastPosted));
    const ackAt = second.received.findIndex((r) => r.event === 'ack');
    expect(second.received.slice(ackAt + 1, ackAt + 1 + replayed).map((r) => r.payload.seq)).toEqual(range(resumeAfter + 1, resumeAfter + replayed));
    expect(second.received.slice(0, ackAt).filter((r) => r.event === 'run.event')).toEqual([]);
    expect(second.received.find((r) => r.event === 'run.event')!.payload).toEqual(expect.objectContaining({ runId: run.id, node: 'a', type: 'progress', at: expect.any(String), id: expect.any(String) }));
  });

  it('fills a gap from the database and drops what it already sent when batches reach it late or out of order', async () => {
    // As when another instance's batch arrives late: hold back one committed batch, hand it on after the next.
    const events = t.app.get(DomainEvents);
    const publish = events.publish.bind(events);
    let held: DomainEventMap['run.events'] | undefined;
    const run = await createRun(t, member.token, skill, { a: [] });
    events.publish = ((name: keyof DomainEventMap, payload: DomainEventMap[keyof DomainEventMap]) => {
      const batch = payload as DomainEventMap['run.events'];
      if (name === 'run.events' && batch.runId === run.id && batch.events[0]!.seq === 4 && !held) {
        held = batch;
        return;
      }
      publish(name as 'run.events', batch);
    }) as typeof events.publish;
    try {
      const viewer = await live({ token: member.token });
      expect((await viewer.subscribe({ run: run.id })).replayed).toBe(0);
      await report(run.reporterToken, run.id, [{ node: 'a', type: 'started' }, ...progress(2)]);
      await report(run.reporterToken, run.id, progress(3));
      const last = await report(run.reporterToken, run.id, progress(2));
      await viewer.waitFor((r) => r.event === 'run.event' && r.payload.seq === last);
      expect(held).toBeDefined();
      publish('run.events', held!);
      await sleep(200);
      expect(seqsOf(viewer, run.id)).toEqual(range(1, last));
    } finally {
      events.publish = publish;
    }
  });

  it('loses and repeats nothing committed while the replay is being read', async () => {
    const run = await createRun(t, member.token, skill, { a: [] });
    const before = await report(run.reporterToken, run.id, [{ node: 'a', type: 'started' }, ...progress(9)]);
    // Hold the replay's first read while the reporter goes on.
    const runs = t.app.get(RunsService);
    const read = runs.eventsBetween.bind(runs);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const reading = new Promise<void>((resolve) => {
      runs.eventsBetween = async (...args) => {
        runs.eventsBetween = read;
        resolve();
        await held;
        return read(...args);
      };
    });
    try {
      const viewer = await live({ token: member.token });
      const subscribed = viewer.subscribe({ run: run.id, after: 0 });
      await reading;
      let last = before;
      for (let i = 0; i < 3; i++) last = await report(run.reporterToken, run.id, progress(2));
      release();
      expect((await subscribed).replayed).toBe(before);
      await viewer.waitFor((r) => r.event === 'run.event' && r.payload.seq === last);
      await sleep(100);
      expect(seqsOf(viewer, run.id)).toEqual(range(1, last));
    } finally {
      runs.eventsBetween = read;
      release();
    }
  });

  it('refuses another org’s run and artifact as not found, and sends it nothing', async () => {
    const other = await createOrg(t, admin);
    const run = await createRun(t, member.token, skill, { a: [] });
    const artifact = await createArtifact(t, member.token);
    const outsider = await live({ token: other.adminToken });
    expect(await outsider.subscribe({ run: run.id, after: 0 })).toEqual({ ok: false, error: { code: 'not_found', message: expect.any(String) } });
    expect(await outsider.subscribe({ artifact: artifact.id })).toEqual({ ok: false, error: { code: 'not_found', message: expect.any(String) } });
    await report(run.reporterToken, run.id, [{ node: 'a', type: 'started' }]);
    expect((await t.http(member.token).put(`/api/v1/artifacts/${artifact.id}/content`).send({ format: 'markdown', body: 'v2' })).status).toBe(200);
    await sleep(300);
    expect(outsider.received.filter((r) => r.event !== 'ack')).toEqual([]);
  });

  it('names the offending field of a malformed subscribe, and refuses a connection without credentials', async () => {
    const viewer = await live({ token: member.token });
    expect(await viewer.subscribe({ run: 'not-a-uuid' })).toEqual({ ok: false, error: { code: 'validation_failed', message: expect.any(String), errors: [{ path: 'run', message: expect.any(String) }] } });
    const both = await viewer.subscribe({ run: '0190b4c2-3c4e-7000-8000-000000000000', after: -1 });
    expect((both.error as { errors: { path: string }[] }).errors.map((e) => e.path)).toEqual(['after']);
    await expect(connectLive(t)).rejects.toMatchObject({ message: expect.any(String), data: { code: 'unauthenticated' } });
    await expect(connectLive(t, { token: 'vtr_pat_nonsense' })).rejects.toMatchObject({ data: { code: 'unauthenticated' } });
  });

  it('lets a reporter token watch its own run only', async () => {
    const mine = await createRun(t, member.token, skill, { a: [] });
    const another = await createRun(t, member.token, skill, { a: [] });
    const reporter = await live({ token: mine.reporterToken });
    expect(await reporter.subscribe({ run: mine.id })).toEqual(expect.objectContaining({ ok: true, replayed: 0 }));
    const before = await lastSeq(t);
    expect(await reporter.subscribe({ run: another.id })).toEqual({ ok: false, error: { code: 'policy_denied', message: expect.any(String) } });
    // Denied as over HTTP: audited, naming the reporter and the run.
    const orgId = (await t.http(member.token).get('/api/v1/me')).body.orgId as string;
    expect((await auditRows(t, orgId, before)).filter((e) => e.resource_id === another.id)).toEqual([
      expect.objectContaining({ action: 'run.read', outcome: 'denied', actor_type: 'agent', actor_id: mine.id, resource_type: 'Run' }),
    ]);
    await report(another.reporterToken, another.id, [{ node: 'a', type: 'started' }]);
    await report(mine.reporterToken, mine.id, [{ node: 'a', type: 'started' }]);
    await reporter.waitFor((r) => r.event === 'run.event' && r.payload.runId === mine.id);
    await sleep(200);
    expect(reporter.received.filter((r) => r.event === 'run.event').map((r) => r.payload.runId)).toEqual([mine.id]);
  });

  it('follows a run’s status with run.updated after its events', async () => {
    const run = await createRun(t, member.token, skill, { a: [] });
    const viewer = await live({ token: member.token });
    await viewer.subscribe({ run: run.id });
    await report(run.reporterToken, run.id, [{ node: 'a', type: 'started' }]);
    await viewer.waitFor((r) => r.event === 'run.updated' && r.payload.status === 'running');
    expect((await t.http(member.token).post(`/api/v1/runs/${run.id}/cancel`)).status).toBe(200);
    const cancelled = await viewer.waitFor((r) => r.event === 'run.updated' && r.payload.status === 'cancelled');
    const seqs = seqsOf(viewer, run.id);
    expect(seqs).toEqual(range(1, seqs.length));
    expect(cancelled.payload).toEqual({ runId: run.id, status: 'cancelled', lastSeq: seqs[seqs.length - 1] });
    expect(viewer.received.indexOf(cancelled)).toBeGreaterThan(viewer.received.findIndex((r) => r.payload.seq === seqs[seqs.length - 1]));
  });

  it('gives a link’s viewer artifact.revised, then share.revoked within 1 s of a revoke, and nothing after', async () => {
    const artifact = await createArtifact(t, member.token, { classification: 'public' });
    const share = await createShare(t, member.token, artifact.id);
    const viewer = await live({ token: share.token });
    const ack = await viewer.subscribe({ share: share.token });
    expect(ack).toEqual({ ok: true, replayed: 0, snapshot: expect.objectContaining({ share: expect.objectContaining({ id: share.id, artifactId: artifact.id }), artifact: expect.objectContaining({ id: artifact.id, revision: 1 }) }) });
    // The link's token opens its artifact, nothing else.
    const run = await createRun(t, member.token, skill, { a: [] });
    expect(await viewer.subscribe({ run: run.id })).toEqual({ ok: false, error: expect.objectContaining({ code: 'not_found' }) });

    expect((await t.http(member.token).put(`/api/v1/artifacts/${artifact.id}/content`).send({ format: 'markdown', body: 'v2' })).status).toBe(200);
    expect((await viewer.waitFor((r) => r.event === 'artifact.revised')).payload).toEqual({ artifactId: artifact.id, revision: 2 });

    const revokedAt = Date.now();
    expect((await t.http(member.token).delete(`/api/v1/shares/${share.id}`)).status).toBe(204);
    const revoked = await viewer.waitFor((r) => r.event === 'share.revoked', 1_000);
    expect(revoked.payload).toEqual({ shareId: share.id, reason: 'revoked' });
    expect(revoked.at - revokedAt).toBeLessThan(1_000);
    expect(await viewer.closedWithin()).toBe('io server disconnect');
    expect((await t.http(member.token).put(`/api/v1/artifacts/${artifact.id}/content`).send({ format: 'markdown', body: 'v3' })).status).toBe(200);
    await sleep(200);
    expect(viewer.received.slice(viewer.received.indexOf(revoked) + 1)).toEqual([]);
    // And the revoked link no longer opens a connection.
    await expect(connectLive(t, { token: share.token })).rejects.toMatchObject({ data: { code: 'share_revoked' } });
  });

  it('cuts a link’s viewer at the link’s expiry, not at its next request', async () => {
    const artifact = await createArtifact(t, member.token, { classification: 'public' });
    const share = await createShare(t, member.token, artifact.id, { audience: 'link', expiresInSeconds: 60 });
    // The schema's shortest expiry is a minute: bring this one's end close.
    await t.db.query(`UPDATE shares SET expires_at = now() + interval '1500 milliseconds' WHERE id = $1`, [share.id]);
    const [{ expires_at: expiresAt }] = (await t.db.query(`SELECT expires_at FROM shares WHERE id = $1`, [share.id])) as { expires_at: Date }[];
    const viewer = await live({ token: share.token });
    expect((await viewer.subscribe({ share: share.token })).ok).toBe(true);
    const expired = await viewer.waitFor((r) => r.event === 'share.revoked', 4_000);
    expect(expired.payload).toEqual({ shareId: share.id, reason: 'expired' });
    expect(expired.at).toBeGreaterThanOrEqual(expiresAt.getTime() - 50);
    expect(expired.at - expiresAt.getTime()).toBeLessThan(1_000);
    expect(await viewer.closedWithin()).toBe('io server disconnect');
  });

  it('cuts the viewers of links the policy re-check revokes: a secret revision, a PATCH to confidential', async () => {
    const leaky = await createArtifact(t, member.token, { classification: 'public' });
    const leakyShare = await createShare(t, member.token, leaky.id);
    const classified = await createArtifact(t, member.token, { classification: 'internal' });
    const classifiedShare = await createShare(t, member.token, classified.id);
    // A member watching the artifact itself stays: only the link is cut.
    const colleague = await live({ token: member.token });
    expect((await colleague.subscribe({ artifact: leaky.id })).ok).toBe(true);
    const leakyViewer = await live({ token: leakyShare.token });
    expect((await leakyViewer.subscribe({ share: leakyShare.token })).ok).toBe(true);
    const classifiedViewer = await live({ token: classifiedShare.token });
    expect((await classifiedViewer.subscribe({ share: classifiedShare.token })).ok).toBe(true);

    expect((await t.http(member.token).put(`/api/v1/artifacts/${leaky.id}/content`).send({ format: 'markdown', body: FAKE_SECRET })).status).toBe(200);
    expect((await leakyViewer.waitFor((r) => r.event === 'share.revoked', 1_000)).payload).toEqual({ shareId: leakyShare.id, reason: 'revoked' });
    expect(await leakyViewer.closedWithin()).toBe('io server disconnect');
    // The link's viewer never hears of the revision that revoked it; the member does.
    expect(leakyViewer.received.filter((r) => r.event === 'artifact.revised')).toEqual([]);
    expect((await colleague.waitFor((r) => r.event === 'artifact.revised')).payload).toEqual({ artifactId: leaky.id, revision: 2 });

    expect((await t.http(member.token).patch(`/api/v1/artifacts/${classified.id}`).send({ classification: 'confidential' })).status).toBe(200);
    expect((await classifiedViewer.waitFor((r) => r.event === 'share.revoked', 1_000)).payload).toEqual({ shareId: classifiedShare.id, reason: 'revoked' });
    expect(await classifiedViewer.closedWithin()).toBe('io server disconnect');
    expect(colleague.socket.connected).toBe(true);
  });

  it('cuts the viewers of links a newly active policy bundle no longer allows, and only those', async () => {
    const doomed = await createArtifact(t, member.token, { classification: 'public', labels: ['embargoed'] });
    const doomedShare = await createShare(t, member.token, doomed.id);
    const kept = await createArtifact(t, member.token, { classification: 'public' });
    const keptShare = await createShare(t, member.token, kept.id);
    const doomedViewer = await live({ token: doomedShare.token });
    expect((await doomedViewer.subscribe({ artifact: doomed.id })).ok).toBe(true);
    const keptViewer = await live({ token: keptShare.token });
    expect((await keptViewer.subscribe({ share: keptShare.token })).ok).toBe(true);
    const current = (await t.http(admin).get('/api/v1/policies')).body as { version: number };
    const source = readFileSync(path.join(root, 'policies/default.yaml'), 'utf8');
    const strict = `${source}\n  - id: embargoed-stays-in\n    effect: deny\n    actions: [publish]\n    subject: Artifact\n    conditions: { labels: embargoed }\n    reason: Embargoed artifacts are not shared\n`;
    try {
      expect((await t.http(admin).put('/api/v1/policies').set('Content-Type', 'application/yaml').send(strict)).status).toBe(200);
      expect((await doomedViewer.waitFor((r) => r.event === 'share.revoked', 1_000)).payload).toEqual({ shareId: doomedShare.id, reason: 'revoked' });
      expect(await doomedViewer.closedWithin()).toBe('io server disconnect');
      await sleep(200);
      expect(keptViewer.socket.connected).toBe(true);
      expect(keptViewer.received.filter((r) => r.event === 'share.revoked')).toEqual([]);
    } finally {
      expect((await t.http(admin).post(`/api/v1/policies/versions/${current.version}/activate`)).status).toBe(200);
    }
  });

  it('stops sending a run’s events and an artifact’s revisions once unsubscribed', async () => {
    const run = await createRun(t, member.token, skill, { a: [] });
    const artifact = await createArtifact(t, member.token);
    const viewer = await live({ token: member.token });
    expect((await viewer.subscribe({ run: run.id })).ok).toBe(true);
    expect((await viewer.subscribe({ artifact: artifact.id })).ok).toBe(true);
    await report(run.reporterToken, run.id, [{ node: 'a', type: 'started' }]);
    expect((await t.http(member.token).put(`/api/v1/artifacts/${artifact.id}/content`).send({ format: 'markdown', body: 'v2' })).status).toBe(200);
    await viewer.waitFor((r) => r.event === 'artifact.revised');
    await viewer.waitFor((r) => r.event === 'run.event');
    expect(await viewer.unsubscribe({ run: run.id })).toEqual({ ok: true });
    expect(await viewer.unsubscribe({ artifact: artifact.id })).toEqual({ ok: true });
    const seen = viewer.received.length;
    await report(run.reporterToken, run.id, progress(2));
    expect((await t.http(member.token).put(`/api/v1/artifacts/${artifact.id}/content`).send({ format: 'markdown', body: 'v3' })).status).toBe(200);
    await sleep(300);
    expect(viewer.received.slice(seen).filter((r) => r.event !== 'ack')).toEqual([]);
    expect(viewer.socket.connected).toBe(true);
  });

  it('closes the open sockets of a deactivated member and of a revoked token', async () => {
    const leaving = await createMember(t, admin, 'member');
    const run = await createRun(t, leaving.token, skill, { a: [] });
    const socket = await live({ token: leaving.token });
    expect((await socket.subscribe({ run: run.id })).ok).toBe(true);
    expect((await t.http(admin).delete(`/api/v1/members/${leaving.id}`)).status).toBe(204);
    expect(await socket.closedWithin()).toBe('io server disconnect');
    await expect(connectLive(t, { token: leaving.token })).rejects.toMatchObject({ data: { code: 'unauthenticated' } });

    const created = await t.http(member.token).post('/api/v1/tokens').send({ name: 'short-lived' });
    expect(created.status).toBe(201);
    const other = await live({ token: member.token });
    const revokedSocket = await live({ token: created.body.token });
    expect((await t.http(member.token).delete(`/api/v1/tokens/${created.body.id}`)).status).toBe(204);
    expect(await revokedSocket.closedWithin()).toBe('io server disconnect');
    await sleep(100);
    expect(other.socket.connected).toBe(true);
  });

  it('takes the session cookie from this origin only, as HTTP does', async () => {
    const login = await t.http().post('/api/v1/auth/login').send({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD });
    expect(login.status).toBe(200);
    const cookie = (login.headers['set-cookie'] as unknown as string[]).map((c) => c.split(';')[0]).join('; ');
    const own = await live({}, { cookie, origin: t.url });
    const run = await createRun(t, admin, skill, { a: [] });
    expect((await own.subscribe({ run: run.id })).ok).toBe(true);
    await expect(connectLive(t, {}, { cookie, origin: 'https://evil.example' })).rejects.toMatchObject({ data: { code: 'csrf_rejected' } });
    // Logging out closes what the session opened.
    expect((await t.http().post('/api/v1/auth/logout').set('Cookie', cookie).set('Origin', t.url)).status).toBe(204);
    expect(await own.closedWithin()).toBe('io server disconnect');
    await expect(connectLive(t, {}, { cookie, origin: t.url })).rejects.toMatchObject({ data: { code: 'unauthenticated' } });
  });
});
