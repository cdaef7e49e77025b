import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { RUN_SUMMARY_INTERVAL_MS } from '../../src/artifacts/run-summaries.service.js';
import { adminToken, createMember, createRun, createShare, createSkill, type TestMember } from '../helpers/factories.js';
import { connectLive, sleep, type LiveClient, type Received } from '../helpers/live-client.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

// A run-summary artifact has no revisions of its own (it is rendered from its run on read):
// its watchers hear of each change of the run as `artifact.revised`, at most one a run per
// RUN_SUMMARY_INTERVAL_MS, and always one after the run's last change.

describe('a run-summary artifact on /live', () => {
  let t: TestApp;
  let member: TestMember;
  let skill: string;
  const clients: LiveClient[] = [];

  const live = async (auth: { token?: string }) => {
    const client = await connectLive(t, auth);
    clients.push(client);
    return client;
  };
  const report = async (reporterToken: string, runId: string, events: Record<string, unknown>[]) => {
    const res = await t.http(reporterToken).post(`/api/v1/runs/${runId}/events`).send({ events });
    expect(res.status).toBe(200);
    return res.body.lastSeq as number;
  };
  const revisedOf = (client: LiveClient, artifactId: string) => client.received.filter((r) => r.event === 'artifact.revised' && r.payload.artifactId === artifactId);
  const summaryOf = async (runId: string) => {
    const res = await t.http(member.token).post('/api/v1/artifacts').send({ title: 'Nightly summary', kind: 'run-summary', runId, classification: 'public' });
    expect(res.status).toBe(201);
    return res.body as { id: string; revision: number };
  };
  const rendered = async (artifactId: string) => {
    const res = await t.http(member.token).get(`/api/v1/artifacts/${artifactId}/render`);
    expect(res.status).toBe(200);
    return res.text;
  };

  beforeAll(async () => {
    // Sweeps often, for the stall below.
    t = await createTestApp({ VITRINE_STALL_SWEEP_INTERVAL_MS: '100' });
    const admin = await adminToken(t);
    member = await createMember(t, admin, 'member');
    skill = (await createSkill(t, admin)).name;
  });

  afterEach(() => {
    for (const client of clients.splice(0)) client.close();
  });

  afterAll(async () => {
    await t?.close();
  });

  it('tells its watchers and its link’s viewers when its run changes, throttled, with a last one after the final change', async () => {
    const run = await createRun(t, member.token, skill, { a: [], b: ['a'] });
    const summary = await summaryOf(run.id);
    expect(summary.revision).toBe(0);
    const share = await createShare(t, member.token, summary.id);
    const watcher = await live({ token: member.token });
    expect(await watcher.subscribe({ artifact: summary.id })).toMatchObject({ ok: true, snapshot: { id: summary.id, kind: 'run-summary', revision: 0 } });
    const viewer = await live({ token: share.token });
    expect((await viewer.subscribe({ share: share.token })).ok).toBe(true);

    const started = await report(run.reporterToken, run.id, [{ node: 'a', type: 'started' }]);
    for (const client of [watcher, viewer]) {
      expect((await client.waitFor((r) => r.event === 'artifact.revised')).payload).toEqual({ artifactId: summary.id, revision: 0, lastSeq: started });
    }

    // A burst well past one change per interval: 4 reporters, 5 events a request.
    const burstFrom = watcher.received.length;
    const began = Date.now();
    let last = started;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let i = 0; i < 40; i++) last = Math.max(last, await report(run.reporterToken, run.id, Array.from({ length: 5 }, (_, k) => ({ node: 'a', type: 'progress', percent: (i * 5 + k) % 100 }))));
      }),
    );
    const elapsed = Date.now() - began;
    expect(last).toBe(started + 4 * 40 * 5);
    const final = await watcher.waitFor((r) => r.event === 'artifact.revised' && r.payload.lastSeq === last, 3_000);
    await viewer.waitFor((r) => r.event === 'artifact.revised' && r.payload.lastSeq === last, 3_000);
    await sleep(3 * RUN_SUMMARY_INTERVAL_MS);
    const during = revisedOf(watcher, summary.id).filter((r) => watcher.received.indexOf(r) >= burstFrom);
    // At most one an interval (and the one that trails it), however many commits there were.
    expect(during.length).toBeLessThanOrEqual(Math.floor((elapsed + 3 * RUN_SUMMARY_INTERVAL_MS) / RUN_SUMMARY_INTERVAL_MS) + 1);
    expect(during.length).toBeLessThan(160);
    // The final change's notice is the last: nothing more while the run is quiet.
    expect(during[during.length - 1]).toBe(final);
    const seqs = during.map((r) => r.payload.lastSeq as number);
    expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);
    expect(revisedOf(viewer, summary.id).map((r) => r.payload.lastSeq)).toEqual(revisedOf(watcher, summary.id).map((r) => r.payload.lastSeq));

    // A cancel is a change too; what the notice announces is what the render shows.
    const quiet = watcher.received.length;
    const cancelled = await t.http(member.token).post(`/api/v1/runs/${run.id}/cancel`);
    expect(cancelled.status).toBe(200);
    const afterCancel: Received = await watcher.waitFor((r) => r.event === 'artifact.revised' && watcher.received.indexOf(r) >= quiet, 3_000);
    expect(afterCancel.payload.lastSeq as number).toBeGreaterThan(last);
    expect(await rendered(summary.id)).toContain('cancelled');
  });

  it('tells them when the sweeper marks a node of the run stalled', async () => {
    const run = await createRun(t, member.token, skill, { a: [] }, { staleAfterSeconds: 5 });
    const summary = await summaryOf(run.id);
    const watcher = await live({ token: member.token });
    expect((await watcher.subscribe({ artifact: summary.id })).ok).toBe(true);
    const started = await report(run.reporterToken, run.id, [{ node: 'a', type: 'started' }]);
    await watcher.waitFor((r) => r.event === 'artifact.revised' && r.payload.lastSeq === started);
    // Silent past its limit, as if five seconds had gone by.
    await t.db.query(`UPDATE run_nodes SET last_event_at = now() - interval '1 minute' WHERE run_id = $1`, [run.id]);
    const stalled = await watcher.waitFor((r) => r.event === 'artifact.revised' && (r.payload.lastSeq as number) > started, 3_000);
    expect(stalled.payload).toEqual({ artifactId: summary.id, revision: 0, lastSeq: started + 1 });
    expect(await rendered(summary.id)).toContain('(stalled)');
  });

  it('leaves other artifacts of the run alone, and says nothing of runs without a summary', async () => {
    const run = await createRun(t, member.token, skill, { a: [] });
    const notes = await t.http(member.token).post('/api/v1/artifacts').send({ title: 'Notes', kind: 'explainer', runId: run.id, content: { format: 'markdown', body: 'v1' } });
    expect(notes.status).toBe(201);
    const watcher = await live({ token: member.token });
    expect((await watcher.subscribe({ artifact: notes.body.id })).ok).toBe(true);
    await report(run.reporterToken, run.id, [{ node: 'a', type: 'started' }, { node: 'a', type: 'progress', percent: 10 }]);
    await sleep(3 * RUN_SUMMARY_INTERVAL_MS);
    expect(watcher.received.filter((r) => r.event !== 'ack')).toEqual([]);
  });
});
