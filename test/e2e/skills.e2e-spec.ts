import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { adminToken, createMember, expectProblem, type TestMember } from '../helpers/factories.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
let admin: string;
let member: TestMember;

beforeAll(async () => {
  t = await createTestApp();
  admin = await adminToken(t);
  member = await createMember(t, admin, 'member');
  for (const [name, risk] of [['web-fetch', 'low'], ['code-edit', 'medium'], ['shell', 'high']] as const) {
    const res = await t.http(admin).post('/api/v1/tools').send({ name, description: `the ${name} tool`, risk });
    if (res.status !== 201) throw new Error(`creating tool ${name} answered ${res.status}`);
  }
});
afterAll(() => t.close());

const skill = (token: string, body: Record<string, unknown>) => t.http(token).post('/api/v1/skills').send({ description: 'does things', tools: [], ...body });

describe('tools', () => {
  it('lists the org\'s tools, and a name is taken once', async () => {
    const res = await t.http(member.token).get('/api/v1/tools');
    expect(res.body.items.map((x: { name: string }) => x.name).sort()).toEqual(['code-edit', 'shell', 'web-fetch']);
    expectProblem(await t.http(admin).post('/api/v1/tools').send({ name: 'shell', description: 'again', risk: 'low' }), 409, 'conflict');
    const bad = await t.http(admin).post('/api/v1/tools').send({ name: 'Bad Name', description: '', risk: 'extreme' });
    expectProblem(bad, 400, 'validation_failed');
    expect(bad.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['description', 'name', 'risk']);
  });

  it('is registered by admins only', async () => {
    expectProblem(await t.http(member.token).post('/api/v1/tools').send({ name: 'mine', description: 'x', risk: 'low' }), 403, 'policy_denied');
  });
});

describe('skills', () => {
  it('keeps each name+version immutable and finds the latest by semver', async () => {
    for (const version of ['1.0.0', '1.2.0', '1.10.0', '2.0.0-beta.1']) {
      const res = await skill(admin, { name: 'summarise', version, tools: ['web-fetch'] });
      expect(res.status).toBe(201);
      expect(res.body).toEqual(expect.objectContaining({ name: 'summarise', version, tools: [{ name: 'web-fetch', risk: 'low' }], maxToolRisk: 'low' }));
    }
    expectProblem(await skill(admin, { name: 'summarise', version: '1.2.0' }), 409, 'conflict');
    expect((await t.http(member.token).get('/api/v1/skills/summarise')).body.version).toBe('1.10.0');
    expect((await t.http(member.token).get('/api/v1/skills/summarise/versions/1.2.0')).body.version).toBe('1.2.0');
    expectProblem(await t.http(member.token).get('/api/v1/skills/summarise/versions/9.9.9'), 404, 'not_found');
    expectProblem(await t.http(member.token).get('/api/v1/skills/nothing-here'), 404, 'not_found');
    const all = await t.http(member.token).get('/api/v1/skills').query({ name: 'summarise' });
    expect(all.body.items).toHaveLength(4);
  });

  it('lets members register skills on low and medium tools, and only admins those on high-risk tools', async () => {
    expect((await skill(member.token, { name: 'refactor', version: '0.1.0', tools: ['code-edit', 'web-fetch'] })).status).toBe(201);
    const denied = await skill(member.token, { name: 'deploy', version: '1.0.0', tools: ['shell'] });
    expectProblem(denied, 403, 'policy_denied');
    expect(denied.body.policy.ruleId).toBe('high-risk-skills-admins-only');
    expect(denied.body.detail).toBe('Only admins register skills that use high-risk tools');
    const byAdmin = await skill(admin, { name: 'deploy', version: '1.0.0', tools: ['shell'] });
    expect(byAdmin.status).toBe(201);
    expect(byAdmin.body.maxToolRisk).toBe('high');
  });

  it('registers a name+version once when admins race to register it, and a tool name once', async () => {
    const skills = await Promise.all(Array.from({ length: 6 }, (_, i) => skill(admin, { name: 'raced', version: '1.0.0', description: `attempt ${i}`, tools: ['web-fetch'] })));
    expect(skills.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409, 409]);
    for (const refused of skills.filter((r) => r.status !== 201)) expectProblem(refused, 409, 'conflict');
    expect((await t.http(member.token).get('/api/v1/skills').query({ name: 'raced' })).body.items).toHaveLength(1);
    const tools = await Promise.all(Array.from({ length: 6 }, () => t.http(admin).post('/api/v1/tools').send({ name: 'raced-tool', description: 'x', risk: 'low' })));
    expect(tools.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409, 409]);
  });

  it('names unknown tools and bad versions, and changes nothing', async () => {
    const res = await skill(admin, { name: 'ghost', version: '1.0.0', tools: ['web-fetch', 'nope'] });
    expectProblem(res, 400, 'validation_failed');
    expect(res.body.errors).toEqual([{ path: 'tools.1', message: 'no tool named "nope" in this org' }]);
    expectProblem(await skill(admin, { name: 'ghost', version: 'one' }), 400, 'validation_failed');
    expectProblem(await t.http(admin).get('/api/v1/skills/ghost'), 404, 'not_found');
  });
});
