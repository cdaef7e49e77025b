import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Role } from '../../src/identity/member.entity.js';
import { adminToken, createMember, createOrg, createTeam, expectProblem, type TestMember } from '../helpers/factories.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const DEFAULT_SOURCE = readFileSync(path.join(root, 'policies/default.yaml'), 'utf8');

let t: TestApp;
let admin: string;
const as = {} as Record<Role, TestMember>;

beforeAll(async () => {
  t = await createTestApp();
  admin = await adminToken(t);
  for (const role of ['admin', 'member', 'auditor', 'viewer'] as const) as[role] = await createMember(t, admin, role);
});
afterAll(() => t.close());

const putYaml = (token: string, source: string, query = '') => t.http(token).put(`/api/v1/policies${query}`).set('Content-Type', 'application/yaml').send(source);

/** The default bundle with one more rule: viewers may not read teams. */
const WITH_VIEWER_TEAM_DENY = `${DEFAULT_SOURCE}
  - id: viewers-do-not-see-teams
    effect: deny
    roles: [viewer]
    actions: [read]
    subject: Team
    reason: Viewers do not see the team structure
`;

describe('the active bundle', () => {
  it('is the default bundle, version 1, for an org that never wrote one', async () => {
    const res = await t.http(admin).get('/api/v1/policies');
    expect(res.status).toBe(200);
    expect(res.body).toEqual(expect.objectContaining({ version: 1, source: DEFAULT_SOURCE, hash: expect.stringMatching(/^[0-9a-f]{64}$/), activatedBy: null }));
  });

  it('is readable by auditors, not by members or viewers', async () => {
    expect((await t.http(as.auditor.token).get('/api/v1/policies')).status).toBe(200);
    expectProblem(await t.http(as.member.token).get('/api/v1/policies'), 403, 'policy_denied');
    expectProblem(await t.http(as.viewer.token).get('/api/v1/policies'), 403, 'policy_denied');
  });

  it('can be replaced only by admins', async () => {
    for (const role of ['member', 'auditor', 'viewer'] as const) {
      expectProblem(await putYaml(as[role].token, WITH_VIEWER_TEAM_DENY), 403, 'policy_denied');
    }
    expect((await t.http(admin).get('/api/v1/policies')).body.version).toBe(1);
  });
});

describe('invalid bundles', () => {
  const invalid: [string, string, string, number][] = [
    ['an unknown key', `${DEFAULT_SOURCE}  - id: extra\n    effect: allow\n    actions: [read]\n    subject: Run\n    reason: r\n    colour: red\n`, 'rules[', 0],
    ['an unknown operator', `${DEFAULT_SOURCE}  - id: extra\n    effect: allow\n    actions: [read]\n    subject: Run\n    conditions: { status: { $like: run } }\n    reason: r\n`, 'conditions.status.$like', 0],
    ['an unknown subject', `${DEFAULT_SOURCE}  - id: extra\n    effect: allow\n    actions: [read]\n    subject: Rocket\n    reason: r\n`, 'subject', 0],
    ['an unknown action', `${DEFAULT_SOURCE}  - id: extra\n    effect: allow\n    actions: [launch]\n    subject: Run\n    reason: r\n`, 'actions.0', 0],
    ['an unknown attribute', `${DEFAULT_SOURCE}  - id: extra\n    effect: allow\n    actions: [read]\n    subject: Run\n    conditions: { budget: 3 }\n    reason: r\n`, 'conditions.budget', 0],
    ['__proto__', `${DEFAULT_SOURCE}  - id: extra\n    effect: allow\n    actions: [read]\n    subject: Run\n    conditions: { __proto__: { x: 1 } }\n    reason: r\n`, '__proto__', 0],
    ['a rule without a reason', `${DEFAULT_SOURCE}  - id: extra\n    effect: allow\n    actions: [read]\n    subject: Run\n`, 'reason', 0],
    ['conditions nested 65 levels deep', `${DEFAULT_SOURCE}  - id: extra\n    effect: allow\n    actions: [read]\n    subject: Artifact\n    conditions: { labels: ${'['.repeat(61)}x${']'.repeat(61)} }\n    reason: r\n`, 'conditions.labels.0.0', 0],
  ];

  it.each(invalid)('answers %s with 400 policy_invalid naming the rule and its line; the active version stays', async (_what, source, pathPart) => {
    const before = (await t.http(admin).get('/api/v1/policies')).body;
    const res = await putYaml(admin, source);
    expectProblem(res, 400, 'policy_invalid');
    const extraRuleLine = DEFAULT_SOURCE.split('\n').length;
    expect(res.body.errors).toEqual([expect.objectContaining({ path: expect.stringContaining(pathPart), line: expect.any(Number) })]);
    expect(res.body.errors[0].path).toMatch(/^rules\[\d+\] \(extra\)/);
    expect(res.body.errors[0].line).toBeGreaterThanOrEqual(extraRuleLine);
    const after = (await t.http(admin).get('/api/v1/policies')).body;
    expect(after.hash).toBe(before.hash);
    expect(after.version).toBe(before.version);
  });

  it('answers a bundle nested too deep for the YAML parser with 400 policy_invalid naming the depth; the active version stays', async () => {
    const before = (await t.http(admin).get('/api/v1/policies')).body;
    const res = await putYaml(admin, `${DEFAULT_SOURCE}  - id: extra\n    effect: allow\n    actions: [read]\n    subject: Artifact\n    conditions: { labels: ${'['.repeat(20_000)}x${']'.repeat(20_000)} }\n    reason: r\n`);
    expectProblem(res, 400, 'policy_invalid');
    expect(res.body.errors).toEqual([{ path: '', message: 'nests deeper than 64 levels of maps and lists', line: DEFAULT_SOURCE.split('\n').length + 4 }]);
    expect((await t.http(admin).get('/api/v1/policies')).body.version).toBe(before.version);
  });

  it('answers a body that is neither YAML text nor an object with 400 policy_invalid', async () => {
    expectProblem(await t.http(admin).put('/api/v1/policies').send([1, 2]), 400, 'policy_invalid');
  });

  it.each(['__proto__', 'constructor', 'prototype'])('refuses a JSON bundle with a %s key where keys are read, naming the path; nothing is activated', async (key) => {
    const before = (await t.http(admin).get('/api/v1/policies')).body.version;
    const rule = { id: 'members-read-audit', effect: 'allow', roles: ['member'], actions: ['read'], subject: 'AuditEvent', reason: 'r' };
    // Sent as text: an object literal would lose the key before it is sent.
    const bodies: [string, string][] = [
      [`{"rules":[${JSON.stringify(rule).slice(0, -1)},"conditions":{"${key}":{"outcome":"allowed"}}}]}`, 'rules[0] (members-read-audit).conditions.' + key],
      [`{"rules":[${JSON.stringify(rule).slice(0, -1)},"conditions":{"outcome":{"${key}":"x"}}}]}`, 'rules[0] (members-read-audit).conditions.outcome.' + key],
      [`{"${key}":{"rules":[]},"rules":[${JSON.stringify(rule)}]}`, key],
    ];
    for (const [body, where] of bodies) {
      for (const query of ['', '?dryRun=true']) {
        const res = await t.http(admin).put(`/api/v1/policies${query}`).set('Content-Type', 'application/json').send(body);
        expectProblem(res, 400, 'policy_invalid');
        expect(res.body.errors).toEqual([expect.objectContaining({ path: where, message: `the key "${key}" is not allowed` })]);
      }
    }
    expect((await t.http(admin).get('/api/v1/policies')).body.version).toBe(before);
  });
});

describe('versions', () => {
  it('activates a new version, decides by it, and rolls back to the old decisions', async () => {
    expect((await t.http(as.viewer.token).get('/api/v1/teams')).status).toBe(200);

    const dry = await putYaml(admin, WITH_VIEWER_TEAM_DENY, '?dryRun=true');
    expect(dry.status).toBe(200);
    expect(dry.body).toEqual(expect.objectContaining({ dryRun: true, valid: true, wouldDeny: [] }));
    expect((await t.http(admin).get('/api/v1/policies')).body.version).toBe(1);

    const put = await putYaml(admin, WITH_VIEWER_TEAM_DENY);
    expect(put.status).toBe(200);
    expect(put.body).toEqual(expect.objectContaining({ version: 2, source: WITH_VIEWER_TEAM_DENY, activatedBy: expect.any(String) }));

    const denied = await t.http(as.viewer.token).get('/api/v1/teams');
    expectProblem(denied, 403, 'policy_denied');
    expect(denied.body.policy).toEqual({ version: '2', ruleId: 'viewers-do-not-see-teams' });
    expect(denied.body.detail).toBe('Viewers do not see the team structure');
    expect((await t.http(as.member.token).get('/api/v1/teams')).status).toBe(200);

    const versions = await t.http(admin).get('/api/v1/policies/versions');
    expect(versions.body.items.map((v: { version: number; active: boolean; parentVersion: number | null }) => [v.version, v.active, v.parentVersion])).toEqual([
      [2, true, 1],
      [1, false, null],
    ]);

    const rollback = await t.http(admin).post('/api/v1/policies/versions/1/activate');
    expect(rollback.status).toBe(200);
    expect(rollback.body.version).toBe(1);
    expect((await t.http(as.viewer.token).get('/api/v1/teams')).status).toBe(200);
    expect((await t.http(admin).get('/api/v1/policies/versions')).body.items.length).toBe(2);

    expectProblem(await t.http(admin).post('/api/v1/policies/versions/99/activate'), 404, 'not_found');
    expectProblem(await t.http(as.member.token).post('/api/v1/policies/versions/2/activate'), 403, 'policy_denied');
  });

  it('accepts a JSON bundle object, and re-sending the active bundle makes no new version', async () => {
    const bundle = { rules: [{ id: 'admins-manage-policies', effect: 'allow', roles: ['admin'], actions: ['manage'], subject: 'Policy', reason: 'Admins keep control' }] };
    const fresh = await createTestApp();
    try {
      const token = await adminToken(fresh);
      const first = await fresh.http(token).put('/api/v1/policies').send(bundle);
      expect(first.status).toBe(200);
      expect(first.body.version).toBe(2);
      const again = await fresh.http(token).put('/api/v1/policies').send(bundle);
      expect(again.body.version).toBe(2);
      // Under this bundle nobody reads teams: an action no rule allows is denied.
      const denied = await fresh.http(token).get('/api/v1/teams');
      expectProblem(denied, 403, 'policy_denied');
      expect(denied.body.policy).toEqual({ version: '2', ruleId: null });
    } finally {
      await fresh.close();
    }
  });

  it('keeps every org on its own bundle', async () => {
    const other = await createOrg(t, admin);
    await putYaml(admin, WITH_VIEWER_TEAM_DENY);
    expect((await t.http(other.adminToken).get('/api/v1/policies')).body.version).toBe(1);
    await t.http(admin).post('/api/v1/policies/versions/1/activate').expect(200);
  });
});

describe('explain', () => {
  const actions = [
    { action: 'read', method: 'get', path: () => '/api/v1/teams', resource: () => ({ type: 'Team', attributes: {} }) },
    { action: 'create', method: 'post', path: () => '/api/v1/teams', body: () => ({ name: `t-${Math.random()}` }), resource: () => ({ type: 'Team', attributes: {} }) },
    { action: 'update', method: 'patch', path: (id: string) => `/api/v1/teams/${id}`, body: () => ({ name: `r-${Math.random()}` }), resource: (id: string) => ({ type: 'Team', id }) },
    { action: 'delete', method: 'delete', path: (id: string) => `/api/v1/teams/${id}`, resource: (id: string) => ({ type: 'Team', id }) },
    { action: 'read', method: 'get', path: () => '/api/v1/members', resource: () => ({ type: 'Member', attributes: {} }) },
    { action: 'create', method: 'post', path: () => '/api/v1/members', body: () => ({ email: `e-${Math.random()}@x.test`, name: 'E', password: 'a-long-password', role: 'viewer' }), resource: () => ({ type: 'Member', attributes: {} }) },
    { action: 'update', method: 'patch', path: (id: string) => `/api/v1/members/${id}`, body: () => ({ name: 'Renamed' }), resource: (_id: string, memberId: string) => ({ type: 'Member', id: memberId }) },
    { action: 'read', method: 'get', path: () => '/api/v1/policies', resource: () => ({ type: 'Policy', attributes: {} }) },
  ] as const;

  it('agrees with the real outcome for every role × action × resource', async () => {
    const table: string[] = [];
    for (const role of ['admin', 'member', 'auditor', 'viewer'] as const) {
      for (const a of actions) {
        const team = await createTeam(t, admin);
        const target = await createMember(t, admin, 'viewer');
        const resource = a.resource(team.id, target.id);
        const explained = await t.http(admin).post('/api/v1/policies/explain').send({ actorId: as[role].id, action: a.action, resource });
        expect(explained.status).toBe(200);
        const url = a.path(a.action === 'update' && resource.type === 'Member' ? target.id : team.id);
        const request = t.http(as[role].token)[a.method](url);
        const real = 'body' in a ? await request.send(a.body()) : await request;
        // Allowed: a 2xx. Denied: a 403 naming the rule explain names.
        const outcome = real.status < 400 ? { allowed: true, status: 'ok', ruleId: null } : { allowed: false, status: real.status, ruleId: real.body.policy?.ruleId };
        const predicted = explained.body.allowed
          ? { allowed: true, status: 'ok', ruleId: null }
          : { allowed: false, status: 403, ruleId: explained.body.decidedBy?.ruleId ?? null };
        table.push(`${role} ${a.action} ${resource.type}: explain=${explained.body.allowed} real=${outcome.allowed}`);
        expect({ case: `${role} ${a.action} ${resource.type}`, ...outcome }).toEqual({ case: `${role} ${a.action} ${resource.type}`, ...predicted });
      }
    }
    expect(table).toHaveLength(32);
  });

  it('names the deciding rule and every rule considered', async () => {
    const res = await t.http(admin).post('/api/v1/policies/explain').send({
      action: 'publish',
      resource: { type: 'Artifact', attributes: { ownerId: as.admin.id, classification: 'confidential', containsSecrets: false } },
      share: { audience: 'link', expiresInSeconds: 3600 },
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual(
      expect.objectContaining({
        allowed: false,
        version: '1',
        decidedBy: { ruleId: 'confidential-stays-in-team-or-org', effect: 'deny', reason: expect.stringContaining('Confidential') },
      }),
    );
    const considered = Object.fromEntries(res.body.rules.map((r: { id: string; applies: boolean; matched: boolean }) => [r.id, [r.applies, r.matched]]));
    expect(considered['confidential-stays-in-team-or-org']).toEqual([true, true]);
    expect(considered['no-links-with-secrets']).toEqual([true, false]);
    expect(considered['org-reads-teams']).toEqual([false, false]);
  });

  it('evaluates a draft bundle without activating it', async () => {
    const draft = await t.http(admin).post('/api/v1/policies/explain').send({ actorId: as.viewer.id, action: 'read', resource: { type: 'Team', attributes: {} }, source: WITH_VIEWER_TEAM_DENY });
    expect(draft.body).toEqual(expect.objectContaining({ allowed: false, version: 'draft', decidedBy: expect.objectContaining({ ruleId: 'viewers-do-not-see-teams' }) }));
    expect((await t.http(as.viewer.token).get('/api/v1/teams')).status).toBe(200);
    expectProblem(await t.http(admin).post('/api/v1/policies/explain').send({ action: 'read', resource: { type: 'Team', attributes: {} }, source: 'rules: [' }), 400, 'policy_invalid');
  });

  it("answers 404 for another org's member and validates its input", async () => {
    const other = await createOrg(t, admin);
    expectProblem(await t.http(admin).post('/api/v1/policies/explain').send({ actorId: other.adminId, action: 'read', resource: { type: 'Team', attributes: {} } }), 404, 'not_found');
    const bad = await t.http(admin).post('/api/v1/policies/explain').send({ action: 'fly', resource: { type: 'Team' } });
    expectProblem(bad, 400, 'validation_failed');
    expect(bad.body.errors.map((e: { path: string }) => e.path)).toEqual(expect.arrayContaining(['action']));
  });
});
