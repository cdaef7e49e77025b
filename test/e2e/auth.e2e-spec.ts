import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { adminToken, createMember, expectProblem } from '../helpers/factories.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, createTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

async function login(email = ADMIN_EMAIL, password = ADMIN_PASSWORD) {
  const agent = request.agent(t.server);
  const res = await agent.post('/api/v1/auth/login').send({ email, password });
  return { agent, res };
}

describe('login', () => {
  it('answers the user and sets an HttpOnly SameSite=Lax session cookie', async () => {
    const { res } = await login();
    expect(res.status).toBe(200);
    expect(res.body.user).toEqual(expect.objectContaining({ email: ADMIN_EMAIL, role: 'admin', teamIds: [] }));
    const cookie = String(res.headers['set-cookie']);
    expect(cookie).toMatch(/^vitrine_session=vtr_ses_/);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);
  });

  it('accepts the email in any case', async () => {
    const { res } = await login(ADMIN_EMAIL.toUpperCase());
    expect(res.status).toBe(200);
  });

  it('answers invalid_credentials alike for a wrong password and an unknown email', async () => {
    const wrong = await t.http().post('/api/v1/auth/login').send({ email: ADMIN_EMAIL, password: 'nope-nope-nope' });
    const unknown = await t.http().post('/api/v1/auth/login').send({ email: 'nobody@test.local', password: 'nope-nope-nope' });
    expectProblem(wrong, 401, 'invalid_credentials');
    expectProblem(unknown, 401, 'invalid_credentials');
    expect(unknown.body.detail).toBe(wrong.body.detail);
    expect(wrong.headers['set-cookie']).toBeUndefined();
  });

  it('lets the session cookie authenticate, and logout end it', async () => {
    const { agent } = await login();
    const me = await agent.get('/api/v1/me');
    expect(me.status).toBe(200);
    expect(me.body.email).toBe(ADMIN_EMAIL);
    expectProblem(await agent.post('/api/v1/auth/logout').set('Origin', 'https://evil.example'), 403, 'csrf_rejected');
    expect((await agent.get('/api/v1/me')).status).toBe(200);
    const out = await agent.post('/api/v1/auth/logout').set('Sec-Fetch-Site', 'same-origin');
    expect(out.status).toBe(204);
    expectProblem(await agent.get('/api/v1/me'), 401, 'unauthenticated');
    // The agent dropped the cleared cookie; replaying the old one must fail too.
    const cookie = String((await login()).res.headers['set-cookie']).split(';')[0]!;
    await request(t.server).post('/api/v1/auth/logout').set('Cookie', cookie).set('Sec-Fetch-Site', 'same-origin').expect(204);
    expectProblem(await request(t.server).get('/api/v1/me').set('Cookie', cookie), 401, 'unauthenticated');
  });

  it('refuses a login for a deactivated member', async () => {
    const admin = await adminToken(t);
    const m = await createMember(t, admin, 'viewer');
    await t.http(admin).delete(`/api/v1/members/${m.id}`).expect(204);
    expectProblem(await t.http().post('/api/v1/auth/login').send({ email: m.email, password: m.password }), 401, 'invalid_credentials');
  });
});

describe('CSRF protection of cookie sessions', () => {
  it('rejects a state-changing cookie request from another origin, and changes nothing', async () => {
    const { agent } = await login();
    const before = await agent.get('/api/v1/teams');
    const res = await agent.post('/api/v1/teams').set('Origin', 'https://evil.example').send({ name: 'evil' });
    expectProblem(res, 403, 'csrf_rejected');
    expect((await agent.get('/api/v1/teams')).body.items).toEqual(before.body.items);
  });

  it('rejects a cross-site fetch and one with no origin at all', async () => {
    const { agent } = await login();
    expectProblem(await agent.post('/api/v1/teams').set('Sec-Fetch-Site', 'cross-site').send({ name: 'x1' }), 403, 'csrf_rejected');
    expectProblem(await agent.post('/api/v1/teams').send({ name: 'x2' }), 403, 'csrf_rejected');
  });

  it('accepts a same-origin request', async () => {
    const { agent } = await login();
    const res = await agent.post('/api/v1/teams').set('Origin', t.url).send({ name: 'same-origin-team' });
    expect(res.status).toBe(201);
    const byFetchMetadata = await agent.post('/api/v1/teams').set('Sec-Fetch-Site', 'same-origin').send({ name: 'fetch-metadata-team' });
    expect(byFetchMetadata.status).toBe(201);
  });

  it('does not apply to bearer tokens, which browsers never send on their own', async () => {
    const token = await adminToken(t);
    const res = await t.http(token).post('/api/v1/teams').set('Origin', 'https://elsewhere.example').send({ name: 'bearer-team' });
    expect(res.status).toBe(201);
  });
});
