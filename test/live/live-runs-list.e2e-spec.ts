import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { defaultBundleWith, HIDDEN_RUNS_RULE } from '../helpers/bundles.js';
import { adminToken, createArtifact, createMember, createOrg, createRun, createShare, createSkill, type TestMember } from '../helpers/factories.js';
import { connectLive, type LiveClient } from '../helpers/live-client.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

// `subscribe {runs: {}}`: a runs list hears of each new run of its org that its watcher may
// read, decided run by run as GET /runs/{id} would, whichever instance created it.

describe('watching the org’s runs over /live', () => {
  let a: TestApp;
  let b: TestApp;
  let admin: string;
  let skill: string;
  let member: TestMember;
  let viewer: TestMember;
  const clients: LiveClient[] = [];

  const live = async (t: TestApp, token: string) => {
    const client = await connectLive(t, { token });
    clients.push(client);
    return client;
  };
  const created = (client: LiveClient) => client.received.filter((r) => r.event === 'run.created').map((r) => r.payload.runId);
  const heard = (client: LiveClient, runId: string) => client.waitFor((r) => r.event === 'run.created' && r.payload.runId === runId);

  beforeAll(async () => {
    a = await createTestApp();
    b = await createTestApp({ DATABASE_URL: a.config.databaseUrl! });
    admin = await adminToken(a);
    skill = (await createSkill(a, admin)).name;
    member = await createMember(a, admin, 'member');
    viewer = await createMember(a, admin, 'viewer');
  });
  afterEach(() => {
    for (const client of clients.splice(0)) client.close();
  });
  afterAll(async () => {
    await b.close();
    await a.close();
  });

  it('tells a watcher of each new run of its org, on either instance, and of no other org’s', async () => {
    const here = await live(a, member.token);
    const there = await live(b, member.token);
    for (const client of [here, there]) expect(await client.subscribe({ runs: {} })).toEqual({ ok: true, snapshot: null, replayed: 0 });
    const other = await createOrg(a, admin);
    const foreign = await createRun(a, other.adminToken, (await createSkill(a, other.adminToken)).name, { a: [] });
    const run = await createRun(a, admin, skill, { a: [] });
    await Promise.all([heard(here, run.id), heard(there, run.id)]);
    // Created through b, heard on a too.
    const second = await createRun(b, member.token, skill, { a: [] });
    await Promise.all([heard(here, second.id), heard(there, second.id)]);
    for (const client of [here, there]) expect(created(client)).toEqual([run.id, second.id]);
    expect(created(here)).not.toContain(foreign.id);
    // What it heard of, it may read.
    expect((await a.http(member.token).get(`/api/v1/runs/${run.id}`)).status).toBe(200);
  });

  it('decides each run for each watcher under the active bundle, with the role they have now', async () => {
    const source = defaultBundleWith(HIDDEN_RUNS_RULE);
    const put = await a.http(admin).put('/api/v1/policies').set('Content-Type', 'application/yaml').send(source);
    expect(put.status).toBe(200);
    const watchers = { admin: await live(a, admin), member: await live(b, member.token), viewer: await live(a, viewer.token) };
    for (const client of Object.values(watchers)) expect((await client.subscribe({ runs: {} })).ok).toBe(true);
    const hidden = await createRun(a, admin, skill, { a: [] }, { labels: { visibility: 'hidden' } });
    const shown = await createRun(a, admin, skill, { a: [] });
    await heard(watchers.admin, shown.id);
    await Promise.all([heard(watchers.member, shown.id), heard(watchers.viewer, shown.id)]);
    expect(created(watchers.admin)).toEqual([hidden.id, shown.id]);
    expect(created(watchers.member)).toEqual([shown.id]);
    expect(created(watchers.viewer)).toEqual([shown.id]);
    expect((await a.http(viewer.token).get(`/api/v1/runs/${hidden.id}`)).status).toBe(403);

    // Made an admin while watching: the next hidden run is theirs to see.
    const promoted = await createMember(a, admin, 'member');
    const watching = await live(a, promoted.token);
    expect((await watching.subscribe({ runs: {} })).ok).toBe(true);
    expect((await a.http(admin).patch(`/api/v1/members/${promoted.id}`).send({ role: 'admin' })).status).toBe(200);
    const later = await createRun(a, admin, skill, { a: [] }, { labels: { visibility: 'hidden' } });
    await heard(watching, later.id);
    await heard(watchers.admin, later.id);
    expect(created(watchers.member)).toEqual([shown.id]);

    const current = (await a.http(admin).get('/api/v1/policies')).body as { version: number };
    expect((await a.http(admin).post(`/api/v1/policies/versions/${current.version - 1}/activate`)).status).toBe(200);
  });

  it('stops telling a watcher that unsubscribes, and keeps telling the others; /metrics counts them', async () => {
    // Polled: the sockets the tests before closed leave the count as the server hears of it.
    const watchersNow = async (expected: number) => {
      let count = NaN;
      for (let tries = 0; tries < 100 && count !== expected; tries++) {
        if (tries) await new Promise((r) => setTimeout(r, 50));
        const res = await a.http().get('/metrics');
        count = Number(/^live_subscriptions\{kind="runs"\} (\d+)$/m.exec(res.text)?.[1]);
      }
      return count;
    };
    const leaving = await live(a, member.token);
    const staying = await live(a, member.token);
    for (const client of [leaving, staying]) expect((await client.subscribe({ runs: {} })).ok).toBe(true);
    expect(await watchersNow(2)).toBe(2);
    expect(await leaving.unsubscribe({ runs: {} })).toEqual({ ok: true });
    expect(await watchersNow(1)).toBe(1);
    const run = await createRun(a, admin, skill, { a: [] });
    await heard(staying, run.id);
    const after = await createRun(a, admin, skill, { a: [] });
    await heard(staying, after.id);
    expect(created(leaving)).toEqual([]);
  });

  it('refuses what it cannot watch, naming why, and changes nothing', async () => {
    const client = await live(a, member.token);
    const refused = async (body: unknown) => (await client.subscribe(body)) as { ok: boolean; error: { code: string; errors?: { path: string }[] } };
    const wrongType = await refused({ runs: true });
    expect(wrongType).toMatchObject({ ok: false, error: { code: 'validation_failed', errors: [expect.objectContaining({ path: 'runs' })] } });
    const unknownKey = await refused({ runs: { status: 'failed' } });
    expect(unknownKey).toMatchObject({ ok: false, error: { code: 'validation_failed' } });
    const two = await refused({ runs: {}, artifact: (await createArtifact(a, member.token)).id });
    expect(two).toMatchObject({ ok: false, error: { code: 'validation_failed', errors: [expect.objectContaining({ path: 'run' })] } });

    // A link's viewer watches its own artifact only.
    const artifact = await createArtifact(a, admin, { classification: 'public' });
    const share = await createShare(a, admin, artifact.id);
    const linkViewer = await live(a, share.token);
    expect(await linkViewer.subscribe({ runs: {} })).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    // Nothing was subscribed by the refusals.
    const watching = await live(a, admin);
    expect((await watching.subscribe({ runs: {} })).ok).toBe(true);
    const run = await createRun(a, admin, skill, { a: [] });
    await heard(watching, run.id);
    expect(created(client)).toEqual([]);
    expect(created(linkViewer)).toEqual([]);
  });
});
