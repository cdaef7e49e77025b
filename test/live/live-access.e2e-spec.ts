import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { auditRows, lastSeq } from '../helpers/audit.js';
import { adminToken, createArtifact, createMember, createRun, createShare, createSkill, createTeam, tokenFor } from '../helpers/factories.js';
import { connectLive, sleep, type LiveClient } from '../helpers/live-client.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, createTestApp, type TestApp } from '../helpers/test-app.js';

// Access is decided again while a socket stays open: a member's role or team change
// re-checks what their sockets watch, on every instance, and a socket closes when the
// session or token it connected with expires.

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

describe('access while a /live socket is open', () => {
  let a: TestApp;
  let b: TestApp;
  let admin: string;
  let orgId: string;
  let skill: string;
  const clients: LiveClient[] = [];

  const live = async (t: TestApp, auth: { token?: string }, headers: Record<string, string> = {}) => {
    const client = await connectLive(t, auth, headers);
    clients.push(client);
    return client;
  };
  const revise = async (token: string, artifactId: string, body: string) => {
    expect((await a.http(token).put(`/api/v1/artifacts/${artifactId}/content`).send({ format: 'markdown', body })).status).toBe(200);
  };
  const patchMember = async (id: string, body: Record<string, unknown>) => {
    expect((await a.http(admin).patch(`/api/v1/members/${id}`).send(body)).status).toBe(200);
  };
  const notices = (client: LiveClient) => client.received.filter((r) => r.event === 'unsubscribed').map((r) => r.payload);

  beforeAll(async () => {
    a = await createTestApp();
    b = await createTestApp({ DATABASE_URL: a.config.databaseUrl! });
    admin = await adminToken(a);
    orgId = (await a.http(admin).get('/api/v1/me')).body.orgId as string;
    skill = (await createSkill(a, admin)).name;
  });

  afterEach(() => {
    for (const client of clients.splice(0)) client.close();
  });

  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it('drops what a demoted member may no longer read, says why, and keeps the rest, on another instance too', async () => {
    const author = await createMember(a, admin, 'member');
    const original = await createArtifact(a, author.token);
    const remix = await a.http(author.token).post(`/api/v1/artifacts/${original.id}/remix`).send({});
    expect(remix.status).toBe(201);
    const secondAdmin = await createMember(a, admin, 'admin');
    const run = await createRun(a, author.token, skill, { a: [] });
    // Connected to B; the role changes through A.
    const socket = await live(b, { token: secondAdmin.token });
    expect((await socket.subscribe({ artifact: remix.body.id })).ok).toBe(true);
    expect((await socket.subscribe({ artifact: original.id })).ok).toBe(true);
    expect((await socket.subscribe({ run: run.id })).ok).toBe(true);

    // A new name changes nothing it may read.
    await patchMember(secondAdmin.id, { name: 'Renamed' });
    const before = await lastSeq(a);
    await patchMember(secondAdmin.id, { role: 'viewer' });
    // A remix is private to its author (and the org's admins).
    const dropped = await socket.waitFor((r) => r.event === 'unsubscribed', 2_000);
    expect(dropped.payload).toEqual({ artifact: remix.body.id, error: { code: 'policy_denied', message: expect.any(String) } });
    // Decided as a subscribe would be: a denial is audited.
    expect((await auditRows(a, orgId, before)).filter((e) => e.resource_id === remix.body.id && e.outcome === 'denied')).toEqual([
      expect.objectContaining({ action: 'artifact.read', actor_id: secondAdmin.id }),
    ]);

    await revise(author.token, remix.body.id, 'v2 of the remix');
    await revise(author.token, original.id, 'v2');
    expect((await a.http(run.reporterToken).post(`/api/v1/runs/${run.id}/events`).send({ events: [{ node: 'a', type: 'started' }] })).status).toBe(200);
    await socket.waitFor((r) => r.event === 'artifact.revised' && r.payload.artifactId === original.id);
    await socket.waitFor((r) => r.event === 'run.event' && r.payload.runId === run.id);
    await sleep(200);
    expect(socket.received.filter((r) => r.event === 'artifact.revised').map((r) => r.payload.artifactId)).toEqual([original.id]);
    expect(notices(socket)).toHaveLength(1);
    expect(socket.socket.connected).toBe(true);
    // Its next subscribes are decided for the new role.
    expect(await socket.subscribe({ artifact: remix.body.id })).toEqual({ ok: false, error: { code: 'policy_denied', message: expect.any(String) } });
  });

  it('re-decides a member’s runs under the active policy when their role changes', async () => {
    const current = (await a.http(admin).get('/api/v1/policies')).body as { version: number };
    const source = readFileSync(path.join(root, 'policies/default.yaml'), 'utf8');
    // Viewers no longer watch runs.
    const strict = source.replace('roles: [admin, member, auditor, viewer]\n    actions: [read]\n    subject: Run', 'roles: [admin, member, auditor]\n    actions: [read]\n    subject: Run');
    expect(strict).not.toBe(source);
    const watcher = await createMember(a, admin, 'member');
    const run = await createRun(a, watcher.token, skill, { a: [] });
    const socket = await live(a, { token: watcher.token });
    expect((await socket.subscribe({ run: run.id })).ok).toBe(true);
    try {
      // The bundle changes after the socket connected: the re-check decides under the active one.
      expect((await a.http(admin).put('/api/v1/policies').set('Content-Type', 'application/yaml').send(strict)).status).toBe(200);
      await patchMember(watcher.id, { role: 'viewer' });
      expect((await socket.waitFor((r) => r.event === 'unsubscribed', 2_000)).payload).toEqual({ run: run.id, error: { code: 'policy_denied', message: expect.any(String) } });
      expect((await a.http(run.reporterToken).post(`/api/v1/runs/${run.id}/events`).send({ events: [{ node: 'a', type: 'started' }] })).status).toBe(200);
      await sleep(300);
      expect(socket.received.filter((r) => r.event === 'run.event' || r.event === 'run.updated')).toEqual([]);
      expect(socket.socket.connected).toBe(true);
    } finally {
      expect((await a.http(admin).post(`/api/v1/policies/versions/${current.version}/activate`)).status).toBe(200);
    }
  });

  it('re-decides what open sockets watch when another bundle becomes active, and decides their next subscribes under it', async () => {
    const current = (await a.http(admin).get('/api/v1/policies')).body as { version: number };
    const source = readFileSync(path.join(root, 'policies/default.yaml'), 'utf8');
    const strict = source.replace('roles: [admin, member, auditor, viewer]\n    actions: [read]\n    subject: Run', 'roles: [admin, member, auditor]\n    actions: [read]\n    subject: Run');
    const viewer = await createMember(a, admin, 'viewer');
    const colleague = await createMember(a, admin, 'member');
    const run = await createRun(a, colleague.token, skill, { a: [] });
    const other = await createRun(a, colleague.token, skill, { a: [] });
    // The viewer on B, the member on A; the bundle changes through A.
    const viewerSocket = await live(b, { token: viewer.token });
    const memberSocket = await live(a, { token: colleague.token });
    expect((await viewerSocket.subscribe({ run: run.id })).ok).toBe(true);
    expect((await memberSocket.subscribe({ run: run.id })).ok).toBe(true);
    try {
      expect((await a.http(admin).put('/api/v1/policies').set('Content-Type', 'application/yaml').send(strict)).status).toBe(200);
      expect((await viewerSocket.waitFor((r) => r.event === 'unsubscribed', 2_000)).payload).toEqual({ run: run.id, error: { code: 'policy_denied', message: expect.any(String) } });
      expect(await viewerSocket.subscribe({ run: other.id })).toEqual({ ok: false, error: { code: 'policy_denied', message: expect.any(String) } });
      expect((await a.http(run.reporterToken).post(`/api/v1/runs/${run.id}/events`).send({ events: [{ node: 'a', type: 'started' }] })).status).toBe(200);
      await memberSocket.waitFor((r) => r.event === 'run.event');
      await sleep(200);
      expect(viewerSocket.received.filter((r) => r.event === 'run.event')).toEqual([]);
      expect(notices(memberSocket)).toEqual([]);
    } finally {
      expect((await a.http(admin).post(`/api/v1/policies/versions/${current.version}/activate`)).status).toBe(200);
    }
    // Rolled back, the viewer may watch runs again.
    expect((await viewerSocket.subscribe({ run: other.id })).ok).toBe(true);
  });

  it('stops a team link for a member who leaves the team, or whose team is deleted', async () => {
    const team = await createTeam(a, admin);
    const doomedTeam = await createTeam(a, admin);
    const leaving = await createMember(a, admin, 'member', { teamIds: [team.id] });
    const staying = await createMember(a, admin, 'member', { teamIds: [team.id, doomedTeam.id] });
    const artifact = await createArtifact(a, leaving.token, { teamId: team.id });
    const teamShare = await createShare(a, leaving.token, artifact.id, { audience: 'team' });
    const other = await createArtifact(a, staying.token, { teamId: doomedTeam.id });
    const doomedShare = await createShare(a, staying.token, other.id, { audience: 'team' });
    const leaver = await live(a, { token: leaving.token });
    expect((await leaver.subscribe({ share: teamShare.token })).ok).toBe(true);
    const stayer = await live(a, { token: staying.token });
    expect((await stayer.subscribe({ share: teamShare.token })).ok).toBe(true);
    expect((await stayer.subscribe({ share: doomedShare.token })).ok).toBe(true);

    await patchMember(leaving.id, { teamIds: [] });
    expect((await leaver.waitFor((r) => r.event === 'unsubscribed', 2_000)).payload).toEqual({ share: teamShare.id, error: { code: 'not_found', message: expect.any(String) } });
    expect((await a.http(admin).delete(`/api/v1/teams/${doomedTeam.id}`)).status).toBe(204);
    expect((await stayer.waitFor((r) => r.event === 'unsubscribed', 2_000)).payload).toEqual({ share: doomedShare.id, error: { code: 'not_found', message: expect.any(String) } });

    await revise(admin, artifact.id, 'v2');
    await revise(admin, other.id, 'v2');
    await stayer.waitFor((r) => r.event === 'artifact.revised' && r.payload.artifactId === artifact.id);
    await sleep(200);
    expect(leaver.received.filter((r) => r.event === 'artifact.revised')).toEqual([]);
    expect(stayer.received.filter((r) => r.event === 'artifact.revised').map((r) => r.payload.artifactId)).toEqual([artifact.id]);
    expect(notices(stayer)).toHaveLength(1);
    expect([leaver.socket.connected, stayer.socket.connected]).toEqual([true, true]);
  });

  it('closes a socket when its personal token expires, not at its next message', async () => {
    const member = await createMember(a, admin, 'member');
    const created = await a.http(member.token).post('/api/v1/tokens').send({ name: 'short-lived', expiresInSeconds: 60 });
    expect(created.status).toBe(201);
    // The schema's shortest expiry is a minute: bring this one's end close.
    await a.db.query(`UPDATE access_tokens SET expires_at = now() + interval '1500 milliseconds' WHERE id = $1`, [created.body.id]);
    const [{ expires_at: expiresAt }] = (await a.db.query(`SELECT expires_at FROM access_tokens WHERE id = $1`, [created.body.id])) as { expires_at: Date }[];
    const socket = await live(a, { token: created.body.token as string });
    const other = await live(a, { token: member.token });
    const closing = await socket.waitFor((r) => r.event === 'closing', 4_000);
    expect(closing.payload).toEqual({ code: 'credential_expired', message: expect.any(String) });
    expect(closing.at).toBeGreaterThanOrEqual(expiresAt.getTime() - 50);
    expect(closing.at - expiresAt.getTime()).toBeLessThan(1_000);
    expect(await socket.closedWithin()).toBe('io server disconnect');
    expect(other.socket.connected).toBe(true);
    await expect(connectLive(a, { token: created.body.token as string })).rejects.toMatchObject({ data: { code: 'unauthenticated' } });
    const metrics = await a.http().get('/metrics');
    expect(metrics.text).toMatch(/^live_disconnects_total\{reason="credential_expired"\} [1-9]/m);
  });

  it('closes a socket when its session expires', async () => {
    const login = await a.http().post('/api/v1/auth/login').send({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD });
    expect(login.status).toBe(200);
    const cookie = (login.headers['set-cookie'] as unknown as string[]).map((c) => c.split(';')[0]).join('; ');
    const me = (await a.http().get('/api/v1/me').set('Cookie', cookie)).body as { id: string };
    const [{ id: sessionId }] = (await a.db.query(`SELECT id FROM sessions WHERE member_id = $1 ORDER BY created_at DESC LIMIT 1`, [me.id])) as { id: string }[];
    await a.db.query(`UPDATE sessions SET expires_at = now() + interval '1500 milliseconds' WHERE id = $1`, [sessionId]);
    const [{ expires_at: expiresAt }] = (await a.db.query(`SELECT expires_at FROM sessions WHERE id = $1`, [sessionId])) as { expires_at: Date }[];
    const socket = await live(a, {}, { cookie, origin: a.url });
    const closing = await socket.waitFor((r) => r.event === 'closing', 4_000);
    expect(closing.payload).toEqual({ code: 'credential_expired', message: expect.stringContaining('session') });
    expect(closing.at - expiresAt.getTime()).toBeLessThan(1_000);
    expect(await socket.closedWithin()).toBe('io server disconnect');
    // Another credential of the same member is not touched.
    const token = await tokenFor(a, ADMIN_EMAIL, ADMIN_PASSWORD);
    const still = await live(a, { token });
    await sleep(200);
    expect(still.socket.connected).toBe(true);
  });
});
