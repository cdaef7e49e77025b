import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Artifact } from '../../src/artifacts/artifact.entity.js';
import { ARTIFACT_SQL_ATTRIBUTES, artifactAttributes } from '../../src/artifacts/artifacts.service.js';
import { auditSqlAttributes } from '../../src/audit/audit.service.js';
import { Member } from '../../src/identity/member.entity.js';
import { MEMBER_SQL_ATTRIBUTES, memberAttributes } from '../../src/identity/members.service.js';
import { Team } from '../../src/identity/team.entity.js';
import { TEAM_SQL_ATTRIBUTES, teamAttributes } from '../../src/identity/teams.service.js';
import type { SqlAttributes } from '../../src/policy/policy-sql.js';
import { Run } from '../../src/runs/run.entity.js';
import { RUN_SQL_ATTRIBUTES, runAttributes } from '../../src/runs/runs.service.js';
import { Share } from '../../src/sharing/share.entity.js';
import { SHARE_SQL_ATTRIBUTES, shareAttributes } from '../../src/sharing/sharing.service.js';
import { SKILL_SQL_ATTRIBUTES, TOOL_SQL_ATTRIBUTES } from '../../src/skills/skills.service.js';
import { adminToken, createArtifact, createMember, createRun, createShare, createSkill, createTeam } from '../helpers/factories.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

// A list's visibility condition is only as right as the SQL each module gives
// for its subject's attributes: over real rows, every expression must read
// exactly the value the module hands policy.decide for that row.

let t: TestApp;
let admin: string;
let orgId: string;
const linked = new Set<string>();

/** Each row's attributes as the module's SQL reads them, keyed by `key`. */
async function fromSql(attributes: SqlAttributes, from: string, key: string): Promise<Map<string, Record<string, unknown>>> {
  const columns = Object.entries(attributes).map(([name, a]) => `${a.sql} AS "${name}"`);
  const rows: Record<string, unknown>[] = await t.db.query(`SELECT ${key}::text AS "__key", ${columns.join(', ')} FROM ${from} ORDER BY ${key}`);
  expect(rows.length).toBeGreaterThan(1);
  return new Map(rows.map(({ __key, ...rest }) => [String(__key), rest]));
}

beforeAll(async () => {
  t = await createTestApp();
  admin = await adminToken(t);
  orgId = (await t.http(admin).get('/api/v1/me')).body.orgId;
  const [t1, t2] = [await createTeam(t, admin), await createTeam(t, admin)];
  const m = await createMember(t, admin, 'member', { teamIds: [t2.id, t1.id] });
  const n = await createMember(t, admin, 'member');
  await createMember(t, admin, 'auditor', { teamIds: [t1.id] });

  const skill = await createSkill(t, admin, 'low-skill', '1.0.0', 'low');
  await createSkill(t, admin, 'high-skill', '1.0.0', 'high');
  for (const [name, risk] of [
    ['a-medium', 'medium'],
    ['b-high', 'high'],
  ] as const) {
    assert.equal((await t.http(admin).post('/api/v1/tools').send({ name, description: 'a tool', risk })).status, 201);
  }
  assert.equal((await t.http(admin).post('/api/v1/skills').send({ name: 'mixed', version: '2.0.0-rc.1', description: 'two tools', tools: ['b-high', 'a-medium'] })).status, 201);
  assert.equal((await t.http(admin).post('/api/v1/skills').send({ name: 'no-tools', version: '1.0.0', description: 'no tools', tools: [] })).status, 201);

  const run = await createRun(t, m.token, skill.name, { a: [] }, { teamId: t1.id, labels: { env: 'prod', 'a.b': 'x' } });
  await createRun(t, n.token, skill.name, { a: [], b: ['a'] });

  const a1 = await createArtifact(t, m.token, { teamId: t1.id, labels: ['x', 'y z'], classification: 'confidential', runId: run.id });
  const a2 = await createArtifact(t, m.token, { title: 'Linked' });
  await createShare(t, m.token, a2.id);
  linked.add(a2.id);
  const remix = await t.http(n.token).post(`/api/v1/artifacts/${a1.id}/remix`).send({});
  assert.equal(remix.status, 201);
  // A link that has expired or was revoked no longer publishes.
  const a3 = await createArtifact(t, m.token, { title: 'Expired link' });
  const expired = await createShare(t, m.token, a3.id);
  await t.db.query(`UPDATE shares SET expires_at = now() - interval '1 second' WHERE id = $1`, [expired.id]);
  const a4 = await createArtifact(t, m.token, { title: 'Revoked link' });
  const revoked = await createShare(t, m.token, a4.id);
  assert.equal((await t.http(m.token).delete(`/api/v1/shares/${revoked.id}`)).status, 204);

  await createShare(t, m.token, a1.id, { audience: 'team', revision: 1 });
  const noExpiry = await createShare(t, m.token, a2.id, { audience: 'org' });
  // Expiry times at millisecond edges and with microseconds, which node-postgres truncates to milliseconds.
  for (const [i, at] of ['2027-01-01T00:00:00.577Z', '2027-01-01T00:00:00.999Z', '2027-01-01T00:00:00.123456Z', '2027-01-01T00:00:00.000001Z', '2027-01-01T00:00:00Z'].entries()) {
    const share = await createShare(t, m.token, a2.id, { audience: 'org', expiresInSeconds: 3_600 + i });
    await t.db.query(`UPDATE shares SET expires_at = $2::timestamptz WHERE id = $1`, [share.id, at]);
  }
  assert.equal(noExpiry.expiresAt, null);
  // An event with no actor id: a sign-in with an unknown email.
  assert.equal((await t.http().post('/api/v1/auth/login').send({ email: 'nobody@test.local', password: 'wrong-password-1' })).status, 401);
});
afterAll(() => t.close());

describe("each module's SQL reads its subject's attributes as policy sees them", () => {
  it('Run', async () => {
    const sql = await fromSql(RUN_SQL_ATTRIBUTES, 'runs r', 'r.id');
    const runs = await t.db.getRepository(Run).find();
    expect(Object.fromEntries(sql)).toEqual(Object.fromEntries(runs.map((r) => [r.id, runAttributes(r)])));
  });

  it('Artifact', async () => {
    const sql = await fromSql(ARTIFACT_SQL_ATTRIBUTES, 'artifacts a', 'a.id');
    const artifacts = await t.db.getRepository(Artifact).find();
    expect(Object.fromEntries(sql)).toEqual(Object.fromEntries(artifacts.map((a) => [a.id, artifactAttributes(a, orgId, linked.has(a.id))])));
  });

  it('Share', async () => {
    const sql = await fromSql(SHARE_SQL_ATTRIBUTES, 'shares s', 's.id');
    const shares = await t.db.getRepository(Share).find();
    expect(Object.fromEntries(sql)).toEqual(Object.fromEntries(shares.map((s) => [s.id, shareAttributes(s)])));
  });

  it('Member', async () => {
    const sql = await fromSql(MEMBER_SQL_ATTRIBUTES, 'members m', 'm.id');
    const members = await t.db.getRepository(Member).find({ relations: { teams: true } });
    expect(Object.fromEntries(sql)).toEqual(Object.fromEntries(members.map((m) => [m.id, memberAttributes(m)])));
  });

  it('Team', async () => {
    const sql = await fromSql(TEAM_SQL_ATTRIBUTES, 'teams r', 'r.id');
    const teams = await t.db.getRepository(Team).find();
    expect(Object.fromEntries(sql)).toEqual(Object.fromEntries(teams.map((x) => [x.id, teamAttributes(x)])));
  });

  it('Tool and Skill, as their views show them', async () => {
    const tools = (await t.http(admin).get('/api/v1/tools?limit=500')).body.items as { id: string; name: string; risk: string; createdBy: string }[];
    expect(Object.fromEntries(await fromSql(TOOL_SQL_ATTRIBUTES, 'tools r', 'r.id'))).toEqual(
      Object.fromEntries(tools.map((x) => [x.id, { id: x.id, orgId, name: x.name, risk: x.risk, createdBy: x.createdBy }])),
    );
    const skills = (await t.http(admin).get('/api/v1/skills?limit=500')).body.items as { id: string; name: string; version: string; createdBy: string; tools: { name: string }[]; maxToolRisk: string | null }[];
    expect(skills.map((s) => s.maxToolRisk)).toEqual(expect.arrayContaining(['low', 'high', null]));
    expect(Object.fromEntries(await fromSql(SKILL_SQL_ATTRIBUTES, 'skills s', 's.id'))).toEqual(
      Object.fromEntries(
        skills.map((s) => [
          s.id,
          { id: s.id, orgId, name: s.name, version: s.version, createdBy: s.createdBy, tools: s.tools.map((x) => x.name).sort(), maxToolRisk: s.maxToolRisk },
        ]),
      ),
    );
  });

  it('AuditEvent, as the log shows it', async () => {
    const events = (await t.http(admin).get('/api/v1/audit?limit=500')).body.items as { seq: number; actor: { id: string | null }; action: string; resource: { type: string }; outcome: string }[];
    expect(events.some((e) => e.actor.id === null)).toBe(true);
    const sql = await fromSql(auditSqlAttributes('e'), 'audit_events e', 'e.seq');
    const expected = Object.fromEntries(events.map((e) => [String(e.seq), { orgId, actorId: e.actor.id, action: e.action, resourceType: e.resource.type, outcome: e.outcome }]));
    expect(Object.fromEntries([...sql].filter(([seq]) => seq in expected))).toEqual(expected);
  });
});
