import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Role } from '../../src/identity/member.entity.js';
import { adminToken, createMember, createTeam, expectProblem, type TestMember } from '../helpers/factories.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
let admin: string;
const as: Record<Role, TestMember> = {} as Record<Role, TestMember>;

beforeAll(async () => {
  t = await createTestApp();
  admin = await adminToken(t);
  for (const role of ['admin', 'member', 'auditor', 'viewer'] as const) as[role] = await createMember(t, admin, role);
});
afterAll(() => t.close());

async function memberCount(): Promise<number> {
  const [{ count }] = await t.db.query('SELECT count(*)::int AS count FROM members');
  return count;
}

describe('each role on members and teams', () => {
  const readers: Role[] = ['admin', 'member', 'auditor', 'viewer'];
  const nonAdmins: Role[] = ['member', 'auditor', 'viewer'];

  it.each(readers)('lets a %s list and read members and teams', async (role) => {
    const token = as[role].token;
    const team = await createTeam(t, admin);
    const members = await t.http(token).get('/api/v1/members');
    expect(members.status).toBe(200);
    expect(members.body.items.map((m: { id: string }) => m.id)).toEqual(expect.arrayContaining(Object.values(as).map((m) => m.id)));
    expect((await t.http(token).get(`/api/v1/members/${as.viewer.id}`)).status).toBe(200);
    const teams = await t.http(token).get('/api/v1/teams');
    expect(teams.status).toBe(200);
    expect(teams.body.items.map((x: { id: string }) => x.id)).toContain(team.id);
    expect((await t.http(token).get(`/api/v1/teams/${team.id}`)).body.name).toBe(team.name);
  });

  it('lets an admin create, change and deactivate members', async () => {
    const team = await createTeam(t, as.admin.token);
    const created = await t.http(as.admin.token).post('/api/v1/members').send({ email: 'New.Person@Test.Local', name: 'New', password: 'a-long-password', role: 'viewer' });
    expect(created.status).toBe(201);
    expect(created.body).toEqual(expect.objectContaining({ email: 'new.person@test.local', role: 'viewer', teamIds: [], deactivatedAt: null }));
    expect(JSON.stringify(created.body)).not.toMatch(/password/i);

    const patched = await t.http(as.admin.token).patch(`/api/v1/members/${created.body.id}`).send({ role: 'member', teamIds: [team.id], name: 'Renamed' });
    expect(patched.status).toBe(200);
    expect(patched.body).toEqual(expect.objectContaining({ role: 'member', teamIds: [team.id], name: 'Renamed' }));

    await t.http(as.admin.token).delete(`/api/v1/members/${created.body.id}`).expect(204);
    const listed = (await t.http(as.admin.token).get('/api/v1/members')).body.items.map((m: { id: string }) => m.id);
    expect(listed).not.toContain(created.body.id);
    const withInactive = (await t.http(as.admin.token).get('/api/v1/members?includeDeactivated=true')).body.items;
    expect(withInactive.find((m: { id: string }) => m.id === created.body.id).deactivatedAt).not.toBeNull();
    // Deactivating frees the email for a new member.
    const again = await t.http(as.admin.token).post('/api/v1/members').send({ email: 'new.person@test.local', name: 'Again', password: 'a-long-password', role: 'viewer' });
    expect(again.status).toBe(201);
  });

  it('lets an admin create, rename and delete teams', async () => {
    const created = await t.http(as.admin.token).post('/api/v1/teams').send({ name: 'platform' });
    expect(created.status).toBe(201);
    const renamed = await t.http(as.admin.token).patch(`/api/v1/teams/${created.body.id}`).send({ name: 'platform-eng' });
    expect(renamed.body.name).toBe('platform-eng');
    await t.http(as.admin.token).delete(`/api/v1/teams/${created.body.id}`).expect(204);
    expectProblem(await t.http(as.admin.token).get(`/api/v1/teams/${created.body.id}`), 404, 'not_found');
  });

  it.each(nonAdmins)('denies a %s every change to members, and changes nothing', async (role) => {
    const token = as[role].token;
    const before = await memberCount();
    const denied = [
      await t.http(token).post('/api/v1/members').send({ email: `x-${role}@test.local`, name: 'X', password: 'a-long-password', role: 'admin' }),
      await t.http(token).patch(`/api/v1/members/${as.viewer.id}`).send({ role: 'admin' }),
      await t.http(token).patch(`/api/v1/members/${as[role].id}`).send({ role: 'admin' }),
      await t.http(token).delete(`/api/v1/members/${as.viewer.id}`),
    ];
    for (const res of denied) {
      expectProblem(res, 403, 'policy_denied');
      expect(res.body.policy).toEqual({ version: expect.any(String), ruleId: null });
      expect(res.body.detail).toContain(role);
    }
    expect(await memberCount()).toBe(before);
    expect((await t.http(admin).get(`/api/v1/members/${as.viewer.id}`)).body.role).toBe('viewer');
    expect((await t.http(admin).get(`/api/v1/members/${as[role].id}`)).body.role).toBe(role);
  });

  it.each(nonAdmins)('denies a %s every change to teams, and changes nothing', async (role) => {
    const token = as[role].token;
    const team = await createTeam(t, admin);
    for (const res of [
      await t.http(token).post('/api/v1/teams').send({ name: `by-${role}` }),
      await t.http(token).patch(`/api/v1/teams/${team.id}`).send({ name: 'hijacked' }),
      await t.http(token).delete(`/api/v1/teams/${team.id}`),
    ]) {
      expectProblem(res, 403, 'policy_denied');
    }
    expect((await t.http(admin).get(`/api/v1/teams/${team.id}`)).body.name).toBe(team.name);
    const names = (await t.http(admin).get('/api/v1/teams?limit=500')).body.items.map((x: { name: string }) => x.name);
    expect(names).not.toContain(`by-${role}`);
  });

  it.each(['admin', 'member', 'auditor', 'viewer'] as const)('denies a %s who is not the installation admin creating orgs', async (role) => {
    const res = await t.http(as[role].token).post('/api/v1/orgs').send({ name: `org-by-${role}`, admin: { email: `o-${role}@x.test`, name: 'O', password: 'a-long-password' } });
    expectProblem(res, 403, 'policy_denied');
  });
});

describe('member rules', () => {
  it('takes a role change effect on the next request', async () => {
    const m = await createMember(t, admin, 'viewer');
    expectProblem(await t.http(m.token).post('/api/v1/teams').send({ name: 'not-yet' }), 403, 'policy_denied');
    await t.http(admin).patch(`/api/v1/members/${m.id}`).send({ role: 'admin' }).expect(200);
    expect((await t.http(m.token).post('/api/v1/teams').send({ name: 'now-allowed' })).status).toBe(201);
  });

  it('never leaves the org without an active admin', async () => {
    const fresh = await createTestApp();
    try {
      const onlyAdmin = await adminToken(fresh);
      const me = (await fresh.http(onlyAdmin).get('/api/v1/me')).body;
      expectProblem(await fresh.http(onlyAdmin).patch(`/api/v1/members/${me.id}`).send({ role: 'viewer' }), 409, 'last_admin');
      expectProblem(await fresh.http(onlyAdmin).delete(`/api/v1/members/${me.id}`), 409, 'last_admin');
      expect((await fresh.http(onlyAdmin).get('/api/v1/me')).body.role).toBe('admin');
    } finally {
      await fresh.close();
    }
  });

  it('keeps one admin when two admins demote each other at the same time', async () => {
    const fresh = await createTestApp();
    try {
      const first = await adminToken(fresh);
      const firstId = (await fresh.http(first).get('/api/v1/me')).body.id;
      const second = await createMember(fresh, first, 'admin');
      const results = await Promise.all([
        fresh.http(first).patch(`/api/v1/members/${second.id}`).send({ role: 'viewer' }),
        fresh.http(second.token).patch(`/api/v1/members/${firstId}`).send({ role: 'viewer' }),
      ]);
      // One wins; the other finds either no other admin left (409) or itself already demoted (403).
      const statuses = results.map((r) => r.status).sort();
      expect(statuses[0]).toBe(200);
      expect([403, 409]).toContain(statuses[1]);
      const [{ count }] = await fresh.db.query(`SELECT count(*)::int AS count FROM members WHERE role = 'admin' AND deactivated_at IS NULL`);
      expect(count).toBe(1);
    } finally {
      await fresh.close();
    }
  });

  it('answers 409 for a second active member with the same email', async () => {
    const m = await createMember(t, admin, 'viewer');
    const res = await t.http(admin).post('/api/v1/members').send({ email: m.email.toUpperCase(), name: 'Dup', password: 'a-long-password', role: 'viewer' });
    expectProblem(res, 409, 'conflict');
    expect(res.body.detail).toMatch(/email/);
  });

  it('answers 409 for a second team with the same name', async () => {
    const team = await createTeam(t, admin);
    expectProblem(await t.http(admin).post('/api/v1/teams').send({ name: team.name }), 409, 'conflict');
  });

  const memberInTeams = (email: string, teamIds: string[]) => t.http(admin).post('/api/v1/members').send({ email, name: 'T', password: 'a-long-password', role: 'member', teamIds });

  it('rejects unknown team ids, naming each, and creates nobody', async () => {
    const before = await memberCount();
    const team = await createTeam(t, admin);
    const res = await memberInTeams('teamless@test.local', [team.id, '01900000-0000-7000-8000-000000000000']);
    expectProblem(res, 400, 'validation_failed');
    expect(res.body.errors).toEqual([{ path: 'teamIds.1', message: expect.stringContaining('no team') }]);
    expect(await memberCount()).toBe(before);
  });

  it('takes a team id in capitals, or twice, as that one team', async () => {
    const team = await createTeam(t, admin);
    const res = await memberInTeams('capitals@test.local', [team.id.toUpperCase(), team.id]);
    expect(res.status).toBe(201);
    expect(res.body.teamIds).toEqual([team.id]);
    expect((await t.http(admin).get(`/api/v1/members/${res.body.id.toUpperCase()}`)).body.teamIds).toEqual([team.id]);
  });

  it('ends the sessions of a member whose password is changed', async () => {
    const m = await createMember(t, admin, 'member');
    const login = await t.http().post('/api/v1/auth/login').send({ email: m.email, password: m.password });
    const cookie = String(login.headers['set-cookie']).split(';')[0]!;
    expect((await t.http().get('/api/v1/me').set('Cookie', cookie)).status).toBe(200);
    await t.http(admin).patch(`/api/v1/members/${m.id}`).send({ password: 'a-brand-new-password' }).expect(200);
    expectProblem(await t.http().get('/api/v1/me').set('Cookie', cookie), 401, 'unauthenticated');
    expect((await t.http().post('/api/v1/auth/login').send({ email: m.email, password: 'a-brand-new-password' })).status).toBe(200);
  });
});
