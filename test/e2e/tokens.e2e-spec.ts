import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { adminToken, createMember, expectProblem } from '../helpers/factories.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, createTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
let admin: string;
beforeAll(async () => {
  t = await createTestApp();
  admin = await adminToken(t);
});
afterAll(() => t.close());

describe('personal access tokens', () => {
  it('shows the token once, with the vtr_pat_ prefix, and stores only its hash', async () => {
    const res = await t.http().post('/api/v1/auth/token').send({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD, name: 'ci', expiresInSeconds: 3600 });
    expect(res.status).toBe(201);
    expect(res.body.token).toMatch(/^vtr_pat_[A-Za-z0-9_-]{43}$/);
    const expiresIn = Date.parse(res.body.expiresAt) - Date.now();
    expect(expiresIn).toBeGreaterThan(3500_000);
    expect(expiresIn).toBeLessThanOrEqual(3600_000);

    const list = await t.http(admin).get('/api/v1/tokens');
    expect(list.status).toBe(200);
    const listed = list.body.items.find((i: { id: string }) => i.id === res.body.id);
    expect(listed).toEqual(expect.objectContaining({ name: 'ci', revokedAt: null }));
    expect(JSON.stringify(list.body)).not.toContain(res.body.token);

    const [stored] = await t.db.query('SELECT token_hash FROM access_tokens WHERE id = $1', [res.body.id]);
    expect(stored.token_hash.toString('hex')).not.toContain(Buffer.from(res.body.token).toString('hex'));
    expect(JSON.stringify(await t.db.query('SELECT * FROM access_tokens'))).not.toContain(res.body.token);
  });

  it('authenticates the API as its member', async () => {
    const res = await t.http(admin).get('/api/v1/me');
    expect(res.status).toBe(200);
    expect(res.body).toEqual(expect.objectContaining({ email: ADMIN_EMAIL, role: 'admin' }));
  });

  it('lets a signed-in member create one more token for themselves', async () => {
    const res = await t.http(admin).post('/api/v1/tokens').send({ name: 'second' });
    expect(res.status).toBe(201);
    expect((await t.http(res.body.token).get('/api/v1/me')).status).toBe(200);
  });

  it('answers 401 for a revoked token, at once', async () => {
    const created = await t.http(admin).post('/api/v1/tokens').send({ name: 'to-revoke' });
    expect((await t.http(created.body.token).get('/api/v1/me')).status).toBe(200);
    await t.http(admin).delete(`/api/v1/tokens/${created.body.id}`).expect(204);
    expectProblem(await t.http(created.body.token).get('/api/v1/me'), 401, 'unauthenticated');
    const listed = (await t.http(admin).get('/api/v1/tokens')).body.items.find((i: { id: string }) => i.id === created.body.id);
    expect(listed.revokedAt).not.toBeNull();
  });

  it('answers 401 for an expired token', async () => {
    const created = await t.http(admin).post('/api/v1/tokens').send({ name: 'short', expiresInSeconds: 60 });
    expect((await t.http(created.body.token).get('/api/v1/me')).status).toBe(200);
    // Let its minute pass.
    await t.db.query(`UPDATE access_tokens SET expires_at = now() - interval '1 second' WHERE id = $1`, [created.body.id]);
    expectProblem(await t.http(created.body.token).get('/api/v1/me'), 401, 'unauthenticated');
  });

  it('answers 401 for unknown, malformed and foreign tokens', async () => {
    expectProblem(await t.http('vtr_pat_' + 'A'.repeat(43)).get('/api/v1/me'), 401, 'unauthenticated');
    expectProblem(await t.http('not-a-token').get('/api/v1/me'), 401, 'unauthenticated');
    expectProblem(await t.http().get('/api/v1/me').set('Authorization', 'Basic YWRtaW46YWRtaW4='), 401, 'unauthenticated');
    expectProblem(await t.http().get('/api/v1/me'), 401, 'unauthenticated');
  });

  it('revokes every token of a member who is deactivated', async () => {
    const m = await createMember(t, admin, 'member');
    expect((await t.http(m.token).get('/api/v1/me')).status).toBe(200);
    await t.http(admin).delete(`/api/v1/members/${m.id}`).expect(204);
    expectProblem(await t.http(m.token).get('/api/v1/me'), 401, 'unauthenticated');
  });

  it("cannot revoke another member's token (404, and it keeps working)", async () => {
    const m = await createMember(t, admin, 'member');
    const mine = await t.http(m.token).post('/api/v1/tokens').send({ name: 'mine' });
    expectProblem(await t.http(admin).delete(`/api/v1/tokens/${mine.body.id}`), 404, 'not_found');
    expect((await t.http(mine.body.token).get('/api/v1/me')).status).toBe(200);
  });

  it('rejects expiries outside a minute to a year, naming the field', async () => {
    const res = await t.http(admin).post('/api/v1/tokens').send({ name: 'x', expiresInSeconds: 10 });
    expectProblem(res, 400, 'validation_failed');
    expect(res.body.errors).toEqual([expect.objectContaining({ path: 'expiresInSeconds' })]);
    const tooLong = await t.http(admin).post('/api/v1/tokens').send({ name: 'x', expiresInSeconds: 400 * 24 * 3600 });
    expectProblem(tooLong, 400, 'validation_failed');
  });

  it('pages through tokens newest first with a cursor', async () => {
    for (let i = 0; i < 3; i++) await t.http(admin).post('/api/v1/tokens').send({ name: `page-${i}` });
    const all = (await t.http(admin).get('/api/v1/tokens?limit=500')).body.items.map((i: { id: string }) => i.id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await t.http(admin).get(`/api/v1/tokens?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      seen.push(...res.body.items.map((i: { id: string }) => i.id));
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(all);
    expect([...all].sort().reverse()).toEqual(all);
    expectProblem(await t.http(admin).get('/api/v1/tokens?cursor=garbage'), 400, 'validation_failed');
  });
});
