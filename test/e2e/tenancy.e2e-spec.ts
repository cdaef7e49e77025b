import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { adminToken, createMember, createOrg, createTeam, expectProblem } from '../helpers/factories.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
let installationAdmin: string;
let other: Awaited<ReturnType<typeof createOrg>>;

beforeAll(async () => {
  t = await createTestApp();
  installationAdmin = await adminToken(t);
  other = await createOrg(t, installationAdmin);
});
afterAll(() => t.close());

describe('orgs', () => {
  it('lets the installation admin create an org with its first admin', async () => {
    const me = (await t.http(other.adminToken).get('/api/v1/me')).body;
    expect(me).toEqual(expect.objectContaining({ role: 'admin', orgId: other.id }));
  });

  it('answers 409 for an org name taken already', async () => {
    const res = await t.http(installationAdmin).post('/api/v1/orgs').send({ name: 'default', admin: { email: 'dup@x.test', name: 'D', password: 'a-long-password' } });
    expectProblem(res, 409, 'conflict');
    const [{ count }] = await t.db.query(`SELECT count(*)::int AS count FROM members WHERE email = 'dup@x.test'`);
    expect(count).toBe(0);
  });

  it("does not make another org's admin an installation admin", async () => {
    const res = await t.http(other.adminToken).post('/api/v1/orgs').send({ name: 'nested', admin: { email: 'n@x.test', name: 'N', password: 'a-long-password' } });
    expectProblem(res, 403, 'policy_denied');
  });
});

describe('isolation between orgs', () => {
  it("answers 404 for every id of another org's member, read or write", async () => {
    const victim = await createMember(t, installationAdmin, 'member');
    for (const res of [
      await t.http(other.adminToken).get(`/api/v1/members/${victim.id}`),
      await t.http(other.adminToken).patch(`/api/v1/members/${victim.id}`).send({ role: 'viewer' }),
      await t.http(other.adminToken).delete(`/api/v1/members/${victim.id}`),
    ]) {
      expectProblem(res, 404, 'not_found');
    }
    expect((await t.http(victim.token).get('/api/v1/me')).body.role).toBe('member');
  });

  it("answers 404 for another org's team, and leaves it alone", async () => {
    const team = await createTeam(t, installationAdmin);
    for (const res of [
      await t.http(other.adminToken).get(`/api/v1/teams/${team.id}`),
      await t.http(other.adminToken).patch(`/api/v1/teams/${team.id}`).send({ name: 'stolen' }),
      await t.http(other.adminToken).delete(`/api/v1/teams/${team.id}`),
    ]) {
      expectProblem(res, 404, 'not_found');
    }
    expect((await t.http(installationAdmin).get(`/api/v1/teams/${team.id}`)).body.name).toBe(team.name);
  });

  it("lists only the caller's org", async () => {
    const team = await createTeam(t, installationAdmin);
    const teams = (await t.http(other.adminToken).get('/api/v1/teams?limit=500')).body.items.map((x: { id: string }) => x.id);
    expect(teams).not.toContain(team.id);
    const members = (await t.http(other.adminToken).get('/api/v1/members?limit=500')).body.items;
    expect(members.map((m: { orgId: string }) => m.orgId)).toEqual(members.map(() => other.id));
  });

  it("refuses another org's team in teamIds", async () => {
    const team = await createTeam(t, installationAdmin);
    const res = await t.http(other.adminToken).post('/api/v1/members').send({ email: 'sneaky@other.test', name: 'S', password: 'a-long-password', role: 'member', teamIds: [team.id] });
    expectProblem(res, 400, 'validation_failed');
    expect(res.body.errors[0].path).toBe('teamIds.0');
  });

  it('lets the same team name exist in two orgs', async () => {
    const team = await createTeam(t, installationAdmin);
    expect((await t.http(other.adminToken).post('/api/v1/teams').send({ name: team.name })).status).toBe(201);
  });
});
