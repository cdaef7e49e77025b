import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { adminToken, expectProblem } from '../helpers/factories.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
let admin: string;
beforeAll(async () => {
  t = await createTestApp({ VITRINE_BODY_LIMIT: '64kb' });
  admin = await adminToken(t);
});
afterAll(() => t.close());

async function counts() {
  const [row] = await t.db.query('SELECT (SELECT count(*) FROM members)::int AS members, (SELECT count(*) FROM teams)::int AS teams');
  return row;
}

describe('one error shape', () => {
  it('answers malformed JSON with 400 malformed_json', async () => {
    const res = await t.http(admin).post('/api/v1/teams').set('Content-Type', 'application/json').send('{"name": ');
    expectProblem(res, 400, 'malformed_json');
  });

  it('lists every wrong, missing and unknown field at once, and changes nothing', async () => {
    const before = await counts();
    const res = await t.http(admin).post('/api/v1/members').send({ email: 42, name: '', role: 'overlord', teamIds: 'all', nickname: 'x' });
    expectProblem(res, 400, 'validation_failed');
    const paths = res.body.errors.map((e: { path: string }) => e.path).sort();
    expect(paths).toEqual(['email', 'name', 'nickname', 'password', 'role', 'teamIds']);
    for (const e of res.body.errors) expect(e.message).toEqual(expect.any(String));
    expect(await counts()).toEqual(before);
  });

  it('names nested fields by their path', async () => {
    const res = await t.http(admin).post('/api/v1/orgs').send({ name: 'Bad Name', admin: { email: 'nope', name: 'A' } });
    expectProblem(res, 400, 'validation_failed');
    expect(res.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['admin.email', 'admin.password', 'name']);
  });

  it('answers a body that is not an object as a validation error of the body', async () => {
    const res = await t.http(admin).post('/api/v1/teams').send([1, 2, 3]);
    expectProblem(res, 400, 'validation_failed');
    expect(res.body.errors).toEqual([expect.objectContaining({ path: 'body' })]);
    const empty = await t.http(admin).post('/api/v1/teams');
    expectProblem(empty, 400, 'validation_failed');
  });

  it('answers an oversize body with 413 before touching anything', async () => {
    const before = await counts();
    const res = await t.http(admin).post('/api/v1/teams').send({ name: 'x'.repeat(70 * 1024) });
    expectProblem(res, 413, 'payload_too_large');
    expect(await counts()).toEqual(before);
  });

  it('answers unknown routes with a 404 problem', async () => {
    expectProblem(await t.http(admin).get('/api/v1/nothing-here'), 404, 'not_found');
    expectProblem(await t.http().delete('/api/v1/me'), 404, 'not_found');
  });

  it('answers unknown ids with 404 and malformed ids with a validation error', async () => {
    expectProblem(await t.http(admin).get('/api/v1/members/01900000-0000-7000-8000-000000000000'), 404, 'not_found');
    expectProblem(await t.http(admin).patch('/api/v1/teams/01900000-0000-7000-8000-000000000000').send({ name: 'x' }), 404, 'not_found');
    const bad = await t.http(admin).get('/api/v1/members/not-a-uuid');
    expectProblem(bad, 400, 'validation_failed');
    expect(bad.body.errors).toEqual([expect.objectContaining({ path: 'id' })]);
  });

  it('validates query parameters, naming them', async () => {
    const res = await t.http(admin).get('/api/v1/members?limit=0');
    expectProblem(res, 400, 'validation_failed');
    expect(res.body.errors[0].path).toBe('limit');
    expectProblem(await t.http(admin).get('/api/v1/teams?limit=501'), 400, 'validation_failed');
    expectProblem(await t.http(admin).get('/api/v1/teams?limit=abc'), 400, 'validation_failed');
  });

  it('refuses text the database cannot store (NUL, unpaired surrogates) in a body, a key or a query, naming where, changing nothing', async () => {
    const before = await counts();
    const nul = await t.http(admin).post('/api/v1/teams').send({ name: 'a\u0000b' });
    expectProblem(nul, 400, 'validation_failed');
    expect(nul.body.errors).toEqual([{ path: 'name', message: expect.stringMatching(/NUL character or an unpaired surrogate/) }]);
    // JSON.stringify escapes the lone surrogate (\ud800), and the server's parser turns it back into one.
    const surrogate = await t.http(admin).post('/api/v1/teams').send({ name: 'x', description: { nested: ['ok', 'y\ud800'] } });
    expect(surrogate.body.errors).toEqual([expect.objectContaining({ path: 'description.nested.1' })]);
    const key = await t.http(admin).post('/api/v1/teams').send({ name: 'x', ['k\u0000']: 1 });
    expect(key.body.errors).toEqual([expect.objectContaining({ path: 'k\u0000' })]);
    const query = await t.http(admin).get('/api/v1/audit?action=a%00b');
    expectProblem(query, 400, 'validation_failed');
    expect(query.body.errors).toEqual([expect.objectContaining({ path: 'action' })]);
    expect(await counts()).toEqual(before);
  });

  it('refuses a body nested deeper than 64 levels (it overflowed the stack: a 500), naming where, changing nothing', async () => {
    const before = await counts();
    const depth = 30_000;
    const res = await t.http(admin).post('/api/v1/teams').set('Content-Type', 'application/json').send(`{"name":"deep","description":${'['.repeat(depth)}${']'.repeat(depth)}}`);
    expectProblem(res, 400, 'validation_failed');
    expect(res.body.errors).toEqual([{ path: ['description', ...Array(63).fill(0)].join('.'), message: 'nests deeper than 64 levels of objects and arrays' }]);
    expect(await counts()).toEqual(before);
  });

  it("echoes the caller's X-Request-Id in the problem and the response header", async () => {
    const res = await t.http(admin).get('/api/v1/members/01900000-0000-7000-8000-000000000000').set('X-Request-Id', 'trace-abc-123');
    expect(res.body.requestId).toBe('trace-abc-123');
    expect(res.headers['x-request-id']).toBe('trace-abc-123');
    const generated = await t.http(admin).get('/api/v1/nothing');
    expect(generated.body.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('drops prototype-polluting keys before validation, polluting nothing', async () => {
    const res = await t.http(admin).post('/api/v1/teams').set('Content-Type', 'application/json').send('{"name":"proto-team","__proto__":{"admin":true}}');
    expect(res.status).toBe(201);
    expect(res.body.name).toBe('proto-team');
    expect(res.body.admin).toBeUndefined();
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });

  it('never sends a stack trace', async () => {
    const responses = [
      await t.http(admin).post('/api/v1/teams').set('Content-Type', 'application/json').send('{oops'),
      await t.http(admin).get('/api/v1/members/not-a-uuid'),
      await t.http(admin).post('/api/v1/members').send({}),
    ];
    for (const res of responses) expect(JSON.stringify(res.body)).not.toMatch(/\bat .+\.(ts|js):\d+/);
  });
});
