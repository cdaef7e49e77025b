import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { adminToken, createMember, createRun, createSkill, type TestMember } from '../helpers/factories.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
let admin: string;
let member: TestMember;
let skill: string;

beforeAll(async () => {
  t = await createTestApp();
  admin = await adminToken(t);
  member = await createMember(t, admin, 'member');
  skill = (await createSkill(t, admin, 'build')).name;
});
afterAll(() => t.close());

type Reply = { status: number; headers: Record<string, string>; body: { code?: unknown } };
type Call = (url: string) => { query(q: object): { send(body?: unknown): Promise<Reply> } };

describe('every route of the OpenAPI document, fed malformed input', () => {
  // Each path and method (but logout, which would end the admin's token), with unknown,
  // upper-case and malformed ids, as an admin and as a run's reporter, with broken bodies or
  // queries: a refusal is a problem document, never a 5xx.
  // Such a sweep found that event times in the year 0000 reached PostgreSQL (a 500).
  it('answers each with a problem document or success, never a server error', async () => {
    const doc = (await t.http(admin).get('/api/openapi.json')).body as { paths: Record<string, Record<string, unknown>> };
    const run = await createRun(t, member.token, skill, { a: [] });
    const artifact = (await t.http(member.token).post('/api/v1/artifacts').send({ title: 'x', kind: 'explainer', content: { format: 'markdown', body: 'x' } })).body as { id: string };
    const ids = [randomUUID(), run.id.toUpperCase(), artifact.id, 'x', '9'.repeat(30), 'a'.repeat(5_000)];
    // Broken bodies, then bodies each right for one route but for one ugly value, so that
    // value gets past the shape checks to the service and the database.
    const upper = () => randomUUID().toUpperCase();
    const bodies: unknown[] = [
      [],
      'text',
      { a: '\u0000' },
      { events: [{ node: 'a', type: 'progress', percent: 1, at: '0000-01-01T00:00:00Z' }] },
      { events: [{ node: 'a', type: 'progress', percent: 1, at: '9999-12-31T23:59:59-05:00' }] },
      { events: [{ id: upper(), node: 'a', type: 'progress', percent: 1e-320, message: '\ud800' }] },
      { title: 'x', nodes: [{ key: 'a', skill: `${skill}@99999999999999999999.0.0` }], teamId: upper() },
      { title: 'x', nodes: [{ key: 'a', skill, dependsOn: ['a'] }], staleAfterSeconds: 2 ** 31 },
      { title: 'x', kind: 'explainer', content: { format: 'markdown', body: 'x' }, runId: upper(), teamId: upper() },
      { format: 'markdown', body: 'x'.repeat(100) + '\u0000' },
      { audience: 'team', expiresInSeconds: 1e20, revision: 2 ** 31 },
      { audience: 'link', revision: 0 },
      { email: 'A@B.TEST', name: 'x', password: 'a-long-password', role: 'member', teamIds: [upper(), upper()] },
      { name: 'x'.repeat(1_000) },
      { name: 'fuzz-tool', description: 'd', risk: 'low' },
      { name: 'fuzz-skill', version: `1.0.0-${'a'.repeat(300)}`, description: 'd', tools: ['fuzz-tool', 'fuzz-tool'] },
      { action: 'publish', resource: { type: 'Artifact', id: upper() }, actorId: upper() },
      { name: 'token', expiresInSeconds: 2 ** 53 },
    ];
    const queries = [
      {},
      { limit: '0' },
      { cursor: Buffer.from('{"a":1}').toString('base64url') },
      { after: '9007199254740993' },
      { from: '0000-01-01T00:00:00Z' },
      { to: '9999-12-31T23:59:59-05:00' },
      { status: 'x' },
      { label: 'a:b' },
      { revision: '99999999999' },
      { teamId: upper() },
      { runId: upper() },
      { name: '\u0000' },
    ];
    const calls = Object.entries(doc.paths)
      .filter(([path]) => !path.endsWith('/auth/logout'))
      .flatMap(([path, operations]) =>
        Object.keys(operations)
          .filter((method) => ['get', 'post', 'put', 'patch', 'delete'].includes(method))
          .flatMap((method) => {
            const sends = method === 'get' || method === 'delete' ? queries.map((query) => ({ query, body: undefined as unknown })) : bodies.map((body) => ({ query: {}, body }));
            // {id} and the like take each id; {version} and {revision} a plausible one.
            const urls = ids.map((id) => encodeURI(path.replace(/\{([^}]+)\}/g, (_, name: string) => (/version|revision/i.test(name) ? '1' : id))));
            return urls.flatMap((url) => [admin, run.reporterToken].flatMap((token) => sends.map((send) => ({ method, url, token, ...send }))));
          }),
      );
    const failures: string[] = [];
    // Four callers at once: the sweep stays within its time on a busy machine, and calls overlap as clients' do.
    let next = 0;
    const caller = async () => {
      while (next < calls.length) await call(calls[next++]!);
    };
    const call = async ({ method, url, token, query, body }: (typeof calls)[number]) => {
      const what = `${method.toUpperCase()} ${url.slice(0, 60)} ${JSON.stringify(query)} ${JSON.stringify(body)?.slice(0, 60)}`;
      const res = await (t.http(token) as unknown as Record<string, Call>)[method]!(url)
        .query(query)
        .send(body)
        .catch((error: unknown) => String(error));
      if (typeof res === 'string') {
        failures.push(`${what} → ${res}`);
        return;
      }
      const problemDocument = /^application\/problem\+json/.test(res.headers['content-type'] ?? '') && typeof res.body.code === 'string';
      if (res.status >= 500 || (res.status >= 400 && !problemDocument)) failures.push(`${what} → ${res.status}`);
    };
    await Promise.all(Array.from({ length: 4 }, caller));
    expect(calls.length).toBeGreaterThan(9_000);
    expect(failures).toEqual([]);
  }, 240_000);
});
