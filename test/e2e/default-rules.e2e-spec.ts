import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type request from 'supertest';
import { adminToken, createMember, createRun, createSkill, createTeam, type TestMember } from '../helpers/factories.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

// The default bundle's rules on runs, skills, tools and the audit log, each
// allowed and denied through the real API, with explain predicting the outcome.
let t: TestApp;
let admin: string;
let adminId: string;
let member: TestMember;
let teammate: TestMember;
let outsider: TestMember;
let viewer: TestMember;
let auditor: TestMember;
let teamId: string;
let skill: string;

beforeAll(async () => {
  t = await createTestApp();
  admin = await adminToken(t);
  adminId = (await t.http(admin).get('/api/v1/me')).body.id;
  teamId = (await createTeam(t, admin)).id;
  member = await createMember(t, admin, 'member');
  teammate = await createMember(t, admin, 'member', { teamIds: [teamId] });
  outsider = await createMember(t, admin, 'member');
  viewer = await createMember(t, admin, 'viewer');
  auditor = await createMember(t, admin, 'auditor');
  skill = (await createSkill(t, admin, 'rules-skill')).name;
});
afterAll(() => t.close());

interface Case {
  rule: string;
  name: string;
  actor: () => TestMember | { id: string; token: string };
  action: 'read' | 'create' | 'update' | 'report';
  /** Makes the run (or nothing) the request is about; returns the real request and the attributes explain is asked about. */
  request: (token: string) => Promise<{ send: () => request.Test; type: 'Run' | 'Skill' | 'Tool' | 'AuditEvent'; attributes: Record<string, unknown> }>;
  allowed: boolean;
}

const runOf = async (owner: TestMember | string, extra: Record<string, unknown> = {}) => {
  const token = typeof owner === 'string' ? owner : owner.token;
  const run = await createRun(t, token, skill, { a: [] }, extra);
  const body = (await t.http(admin).get(`/api/v1/runs/${run.id}`)).body;
  return { run, attributes: { id: body.id, orgId: (await t.http(admin).get('/api/v1/me')).body.orgId, teamId: body.teamId, createdBy: body.createdBy, status: body.status, labels: body.labels, title: body.title } };
};
const cancel = async (owner: TestMember | string, extra: Record<string, unknown> = {}) => {
  const { run, attributes } = await runOf(owner, extra);
  return (token: string) => ({ send: () => t.http(token).post(`/api/v1/runs/${run.id}/cancel`), type: 'Run' as const, attributes });
};

const cases: Case[] = [
  { rule: 'admins-manage-runs', name: 'an admin cancels a run someone else started', actor: () => ({ id: adminId, token: admin }), action: 'update', allowed: true, request: async (tok) => (await cancel(member))(tok) },
  { rule: 'members-update-own-runs', name: 'a member cancels a run they started', actor: () => member, action: 'update', allowed: true, request: async (tok) => (await cancel(member))(tok) },
  { rule: 'members-update-own-runs', name: "a member cannot cancel another member's run", actor: () => outsider, action: 'update', allowed: false, request: async (tok) => (await cancel(member))(tok) },
  { rule: 'members-update-team-runs', name: "a member cancels their team's run", actor: () => teammate, action: 'update', allowed: true, request: async (tok) => (await cancel(member, { teamId }))(tok) },
  { rule: 'members-update-team-runs', name: "a member outside the team cannot cancel the team's run", actor: () => outsider, action: 'update', allowed: false, request: async (tok) => (await cancel(member, { teamId }))(tok) },
  { rule: 'admins-manage-runs', name: 'a viewer cannot cancel a run', actor: () => viewer, action: 'update', allowed: false, request: async (tok) => (await cancel(member))(tok) },
  {
    rule: 'members-update-team-runs',
    name: "a member reports to their team's run",
    actor: () => teammate,
    action: 'report',
    allowed: true,
    request: async (tok) => {
      const { run, attributes } = await runOf(member, { teamId });
      return { send: () => t.http(tok).post(`/api/v1/runs/${run.id}/events`).send({ events: [{ node: 'a', type: 'started' }] }), type: 'Run', attributes };
    },
  },
  {
    rule: 'org-reads-runs',
    name: "a viewer reads the org's runs",
    actor: () => viewer,
    action: 'read',
    allowed: true,
    request: async (tok) => {
      const { run, attributes } = await runOf(member);
      return { send: () => t.http(tok).get(`/api/v1/runs/${run.id}`), type: 'Run', attributes };
    },
  },
  { rule: 'members-create-runs-and-artifacts', name: 'a member starts a run', actor: () => member, action: 'create', allowed: true, request: async (tok) => ({ send: () => t.http(tok).post('/api/v1/runs').send({ title: 'x', nodes: [{ key: 'a', skill }] }), type: 'Run', attributes: {} }) },
  { rule: 'members-create-runs-and-artifacts', name: 'a viewer cannot start a run', actor: () => viewer, action: 'create', allowed: false, request: async (tok) => ({ send: () => t.http(tok).post('/api/v1/runs').send({ title: 'x', nodes: [{ key: 'a', skill }] }), type: 'Run', attributes: {} }) },
  { rule: 'admins-manage-tools', name: 'an admin registers a tool', actor: () => ({ id: adminId, token: admin }), action: 'create', allowed: true, request: async (tok) => ({ send: () => t.http(tok).post('/api/v1/tools').send({ name: `t-${Date.now()}`, description: 'd', risk: 'low' }), type: 'Tool', attributes: {} }) },
  { rule: 'admins-manage-tools', name: 'a member cannot register a tool', actor: () => member, action: 'create', allowed: false, request: async (tok) => ({ send: () => t.http(tok).post('/api/v1/tools').send({ name: `t-${Date.now()}`, description: 'd', risk: 'low' }), type: 'Tool', attributes: {} }) },
  { rule: 'org-reads-tools', name: "a viewer sees the org's tools", actor: () => viewer, action: 'read', allowed: true, request: async (tok) => ({ send: () => t.http(tok).get('/api/v1/tools'), type: 'Tool', attributes: {} }) },
  { rule: 'org-reads-skills', name: "an auditor sees the org's skills", actor: () => auditor, action: 'read', allowed: true, request: async (tok) => ({ send: () => t.http(tok).get('/api/v1/skills'), type: 'Skill', attributes: {} }) },
  { rule: 'admins-and-auditors-read-audit', name: 'an auditor reads the audit log', actor: () => auditor, action: 'read', allowed: true, request: async (tok) => ({ send: () => t.http(tok).get('/api/v1/audit'), type: 'AuditEvent', attributes: {} }) },
  { rule: 'admins-and-auditors-read-audit', name: 'a member cannot read the audit log', actor: () => member, action: 'read', allowed: false, request: async (tok) => ({ send: () => t.http(tok).get('/api/v1/audit'), type: 'AuditEvent', attributes: {} }) },
];

describe('default rules through the API', () => {
  it.each(cases.map((c) => [c.rule, c.name, c] as const))('%s: %s', async (_rule, _name, c) => {
    const actor = c.actor();
    const { send, type, attributes } = await c.request(actor.token);
    const explained = await t.http(admin).post('/api/v1/policies/explain').send({ actorId: actor.id, action: c.action, resource: { type, attributes } });
    expect(explained.status).toBe(200);
    const real = await send();
    // Allowed: a 2xx. Denied: a 403 naming the rule explain names.
    const outcome = real.status < 400 ? { allowed: true } : { allowed: false, status: real.status, ruleId: real.body.policy?.ruleId ?? null };
    const predicted = explained.body.allowed ? { allowed: true } : { allowed: false, status: 403, ruleId: explained.body.decidedBy?.ruleId ?? null };
    expect(outcome).toEqual(predicted);
    expect(outcome.allowed).toBe(c.allowed);
  });

  it("keeps a run's reporter token to reporting on and reading its own run", async () => {
    const mine = await createRun(t, member.token, skill, { a: [] });
    const other = await createRun(t, member.token, skill, { a: [] });
    const post = (runId: string) => t.http(mine.reporterToken).post(`/api/v1/runs/${runId}/events`).send({ events: [{ node: 'a', type: 'started' }] });
    expect((await post(mine.id)).status).toBe(200);
    const denied = await post(other.id);
    expect(denied.status).toBe(403);
    expect(denied.body.policy.ruleId).toBeNull();
    expect((await t.http(mine.reporterToken).get('/api/v1/skills')).status).toBe(403);
  });
});
