import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type request from 'supertest';
import { adminToken, createArtifact, createMember, createOrg, createRun, createShare, createSkill, createTeam, FAKE_SECRET, type TestMember } from '../helpers/factories.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

// The default bundle's rules, each allowed and denied through the real API,
// with explain predicting the outcome.
let t: TestApp;
let admin: string;
let adminId: string;
let orgId: string;
let member: TestMember;
let teammate: TestMember;
let outsider: TestMember;
let viewer: TestMember;
let auditor: TestMember;
let teamId: string;
let skill: string;
let otherOrg: { id: string; adminToken: string; adminId: string };
let otherViewer: TestMember;

beforeAll(async () => {
  t = await createTestApp();
  admin = await adminToken(t);
  ({ id: adminId, orgId } = (await t.http(admin).get('/api/v1/me')).body);
  teamId = (await createTeam(t, admin)).id;
  member = await createMember(t, admin, 'member');
  teammate = await createMember(t, admin, 'member', { teamIds: [teamId] });
  outsider = await createMember(t, admin, 'member');
  viewer = await createMember(t, admin, 'viewer');
  auditor = await createMember(t, admin, 'auditor');
  skill = (await createSkill(t, admin, 'rules-skill')).name;
  otherOrg = await createOrg(t, admin);
  otherViewer = await createMember(t, otherOrg.adminToken, 'viewer');
});
afterAll(() => t.close());

interface Case {
  rule: string;
  name: string;
  actor: () => TestMember | { id: string; token: string };
  action: 'read' | 'create' | 'update' | 'delete' | 'report' | 'publish' | 'remix' | 'declassify';
  /** Makes what the request is about; returns the real request and what explain is asked about. */
  request: (token: string) => Promise<{ send: () => request.Test; type: 'Run' | 'Skill' | 'Tool' | 'AuditEvent' | 'Artifact' | 'Share' | 'Member' | 'Team' | 'Org' | 'Policy'; attributes: Record<string, unknown>; share?: Record<string, unknown> }>;
  allowed: boolean;
  /** Whose explain to ask: an admin of the actor's org (default: this org's). */
  explainAs?: () => string;
}

const runOf = async (owner: TestMember | string, extra: Record<string, unknown> = {}) => {
  const token = typeof owner === 'string' ? owner : owner.token;
  const run = await createRun(t, token, skill, { a: [] }, extra);
  const body = (await t.http(admin).get(`/api/v1/runs/${run.id}`)).body;
  return { run, attributes: { id: body.id, orgId, teamId: body.teamId, createdBy: body.createdBy, status: body.status, labels: body.labels, title: body.title } };
};
const cancel = async (owner: TestMember | string, extra: Record<string, unknown> = {}) => {
  const { run, attributes } = await runOf(owner, extra);
  return (token: string) => ({ send: () => t.http(token).post(`/api/v1/runs/${run.id}/cancel`), type: 'Run' as const, attributes });
};

/** What policy sees of an artifact, read back through the API. */
const artifactAttributes = async (id: string) => {
  const a = (await t.http(admin).get(`/api/v1/artifacts/${id}`)).body;
  return { id: a.id, orgId, teamId: a.teamId, ownerId: a.ownerId, runId: a.runId, kind: a.kind, title: a.title, classification: a.classification, labels: a.labels, containsSecrets: a.containsSecrets, private: a.private };
};
const artifactOf = async (owner: TestMember | string, extra: Record<string, unknown> = {}) => {
  const artifact = await createArtifact(t, typeof owner === 'string' ? owner : owner.token, extra);
  return { artifact, attributes: { ...(await artifactAttributes(artifact.id)), sameOrg: true, publishedByLink: false } };
};
const update = (owner: () => TestMember, ofTeam = false) => async (tok: string) => {
  const { artifact, attributes } = await artifactOf(owner(), ofTeam ? { teamId } : {});
  return { send: () => t.http(tok).put(`/api/v1/artifacts/${artifact.id}/content`).send({ format: 'markdown', body: 'edited' }), type: 'Artifact' as const, attributes };
};
const publish = (artifactExtra: Record<string, unknown>, share: { audience: string; expiresInSeconds?: number }) => async (tok: string) => {
  const { artifact, attributes } = await artifactOf(member, artifactExtra);
  return {
    send: () => t.http(tok).post(`/api/v1/artifacts/${artifact.id}/shares`).send(share),
    type: 'Artifact' as const,
    attributes,
    share: { audience: share.audience, expiresInSeconds: share.expiresInSeconds ?? null, pinned: false },
  };
};
const remix = (owner: () => TestMember, extra: Record<string, unknown> = {}) => async (tok: string) => {
  const { artifact, attributes } = await artifactOf(owner(), extra);
  return { send: () => t.http(tok).post(`/api/v1/artifacts/${artifact.id}/remix`).send({}), type: 'Artifact' as const, attributes };
};
const remixByLink = async (tok: string) => {
  const { artifact, attributes } = await artifactOf(member);
  const share = await createShare(t, member.token, artifact.id);
  return { send: () => t.http(tok).post(`/api/v1/shares/${share.token}/remix`).send({}), type: 'Artifact' as const, attributes: { ...attributes, sameOrg: false, publishedByLink: true } };
};
const revoke = (makerOf: () => TestMember) => async (tok: string) => {
  const maker = makerOf();
  const { artifact } = await artifactOf(maker);
  const share = await createShare(t, maker.token, artifact.id);
  const attributes = { id: share.id, artifactId: artifact.id, audience: 'link', createdBy: maker.id, revision: null, expiresAt: share.expiresAt };
  return { send: () => t.http(tok).delete(`/api/v1/shares/${share.id}`), type: 'Share' as const, attributes };
};
const readPrivateRemix = async (tok: string) => {
  const source = await createArtifact(t, member.token);
  const copy = (await t.http(outsider.token).post(`/api/v1/artifacts/${source.id}/remix`).send({})).body;
  return { send: () => t.http(tok).get(`/api/v1/artifacts/${copy.id}`), type: 'Artifact' as const, attributes: { ...(await artifactAttributes(copy.id)), sameOrg: true, publishedByLink: false } };
};
const listShares = async (tok: string) => {
  const { artifact } = await artifactOf(member);
  const share = await createShare(t, member.token, artifact.id);
  const attributes = { id: share.id, artifactId: artifact.id, audience: 'link', createdBy: member.id, revision: null, expiresAt: share.expiresAt };
  return { send: () => t.http(tok).get(`/api/v1/artifacts/${artifact.id}/shares`), type: 'Share' as const, attributes };
};
const oneDay = 86_400;
const suffix = () => Math.random().toString(36).slice(2, 8);
/** A skill on a fresh tool of `risk`, registered with the caller's token. */
const registerSkill = (risk: 'low' | 'high') => async (tok: string) => {
  const tool = `tool-${suffix()}`;
  expect((await t.http(admin).post('/api/v1/tools').send({ name: tool, description: 'd', risk })).status).toBe(201);
  const body = { name: `skill-${suffix()}`, version: '1.0.0', description: 'd', tools: [tool] };
  return { send: () => t.http(tok).post('/api/v1/skills').send(body), type: 'Skill' as const, attributes: { name: body.name, version: body.version, tools: [tool], maxToolRisk: risk } };
};
const addMember = async (tok: string) => ({
  send: () => t.http(tok).post('/api/v1/members').send({ email: `m-${suffix()}@test.local`, name: 'M', password: 'a-long-password-1', role: 'viewer' }),
  type: 'Member' as const,
  attributes: {},
});
const addTeam = async (tok: string) => ({ send: () => t.http(tok).post('/api/v1/teams').send({ name: `team-${suffix()}` }), type: 'Team' as const, attributes: {} });
const addOrg = async (tok: string) => ({
  send: () => t.http(tok).post('/api/v1/orgs').send({ name: `org-${suffix()}`, admin: { email: `a-${suffix()}@org.test`, name: 'A', password: 'a-long-password-1' } }),
  type: 'Org' as const,
  attributes: {},
});
const lowerClassification = (owner: () => TestMember) => async (tok: string) => {
  const { artifact, attributes } = await artifactOf(owner(), { classification: 'confidential' });
  return { send: () => t.http(tok).patch(`/api/v1/artifacts/${artifact.id}`).send({ classification: 'internal' }), type: 'Artifact' as const, attributes };
};
const readPolicy = async (tok: string) => ({ send: () => t.http(tok).get('/api/v1/policies'), type: 'Policy' as const, attributes: {} });

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
  { rule: 'admins-manage-skills', name: 'an admin registers a skill on a high-risk tool', actor: () => ({ id: adminId, token: admin }), action: 'create', allowed: true, request: registerSkill('high') },
  { rule: 'admins-manage-skills', name: 'a viewer cannot register a skill', actor: () => viewer, action: 'create', allowed: false, request: registerSkill('low') },
  { rule: 'members-register-skills', name: 'a member registers a skill on a low-risk tool', actor: () => member, action: 'create', allowed: true, request: registerSkill('low') },
  { rule: 'high-risk-skills-admins-only', name: 'a member cannot register a skill on a high-risk tool', actor: () => member, action: 'create', allowed: false, request: registerSkill('high') },
  { rule: 'admins-manage-members', name: 'an admin adds a member', actor: () => ({ id: adminId, token: admin }), action: 'create', allowed: true, request: addMember },
  { rule: 'admins-manage-members', name: 'a member cannot add a member', actor: () => member, action: 'create', allowed: false, request: addMember },
  { rule: 'admins-manage-teams', name: 'an admin adds a team', actor: () => ({ id: adminId, token: admin }), action: 'create', allowed: true, request: addTeam },
  { rule: 'admins-manage-teams', name: 'an auditor cannot add a team', actor: () => auditor, action: 'create', allowed: false, request: addTeam },
  { rule: 'org-reads-members', name: "a viewer lists the org's members", actor: () => viewer, action: 'read', allowed: true, request: async (tok) => ({ send: () => t.http(tok).get('/api/v1/members'), type: 'Member', attributes: {} }) },
  { rule: 'org-reads-teams', name: "a viewer lists the org's teams", actor: () => viewer, action: 'read', allowed: true, request: async (tok) => ({ send: () => t.http(tok).get('/api/v1/teams'), type: 'Team', attributes: {} }) },
  { rule: 'installation-admin-creates-orgs', name: 'the installation admin creates an org', actor: () => ({ id: adminId, token: admin }), action: 'create', allowed: true, request: addOrg },
  { rule: 'installation-admin-creates-orgs', name: "another org's admin cannot create an org", actor: () => ({ id: otherOrg.adminId, token: otherOrg.adminToken }), action: 'create', allowed: false, request: addOrg, explainAs: () => otherOrg.adminToken },
  { rule: 'auditors-read-policies', name: "an auditor reads the org's policy bundle", actor: () => auditor, action: 'read', allowed: true, request: readPolicy },
  { rule: 'auditors-read-policies', name: 'a viewer cannot read the policy bundle', actor: () => viewer, action: 'read', allowed: false, request: readPolicy },
  // Artifacts
  { rule: 'members-create-artifacts', name: 'a member writes an artifact', actor: () => member, action: 'create', allowed: true, request: async (tok) => ({ send: () => t.http(tok).post('/api/v1/artifacts').send({ title: 'x', kind: 'explainer', content: { format: 'markdown', body: 'x' } }), type: 'Artifact', attributes: {} }) },
  { rule: 'members-create-artifacts', name: 'a viewer cannot write an artifact', actor: () => viewer, action: 'create', allowed: false, request: async (tok) => ({ send: () => t.http(tok).post('/api/v1/artifacts').send({ title: 'x', kind: 'explainer', content: { format: 'markdown', body: 'x' } }), type: 'Artifact', attributes: {} }) },
  { rule: 'admins-manage-artifacts', name: "an admin updates a member's artifact", actor: () => ({ id: adminId, token: admin }), action: 'update', allowed: true, request: update(() => member) },
  { rule: 'admins-manage-artifacts', name: 'a viewer cannot update an artifact', actor: () => viewer, action: 'update', allowed: false, request: update(() => member) },
  { rule: 'members-update-own-artifacts', name: 'a member updates their own artifact', actor: () => member, action: 'update', allowed: true, request: update(() => member) },
  { rule: 'members-update-own-artifacts', name: "a member cannot update another member's artifact", actor: () => outsider, action: 'update', allowed: false, request: update(() => member) },
  { rule: 'members-update-team-artifacts', name: "a member updates their team's artifact", actor: () => teammate, action: 'update', allowed: true, request: update(() => member, true) },
  { rule: 'members-update-team-artifacts', name: "a member outside the team cannot update the team's artifact", actor: () => outsider, action: 'update', allowed: false, request: update(() => member, true) },
  { rule: 'org-reads-artifacts', name: "a viewer reads the org's artifact", actor: () => viewer, action: 'read', allowed: true, request: async (tok) => { const { artifact, attributes } = await artifactOf(member); return { send: () => t.http(tok).get(`/api/v1/artifacts/${artifact.id}`), type: 'Artifact', attributes }; } },
  { rule: 'remixes-stay-private', name: "a viewer cannot read a member's private remix", actor: () => viewer, action: 'read', allowed: false, request: readPrivateRemix },
  { rule: 'remixes-stay-private', name: 'an admin reads a private remix', actor: () => ({ id: adminId, token: admin }), action: 'read', allowed: true, request: readPrivateRemix },
  { rule: 'only-admins-declassify', name: "an admin lowers a member's artifact from confidential to internal", actor: () => ({ id: adminId, token: admin }), action: 'declassify', allowed: true, request: lowerClassification(() => member) },
  { rule: 'only-admins-declassify', name: 'a member cannot lower the classification of an artifact they own', actor: () => member, action: 'declassify', allowed: false, request: lowerClassification(() => member) },
  { rule: 'only-admins-declassify', name: "a member cannot lower their team's artifact's classification", actor: () => teammate, action: 'declassify', allowed: false, request: async (tok) => { const { artifact, attributes } = await artifactOf(member, { classification: 'confidential', teamId }); return { send: () => t.http(tok).patch(`/api/v1/artifacts/${artifact.id}`).send({ classification: 'public' }), type: 'Artifact', attributes }; } },
  // Publishing
  { rule: 'links-must-expire', name: 'a member publishes a link that expires in a day', actor: () => member, action: 'publish', allowed: true, request: publish({}, { audience: 'link', expiresInSeconds: oneDay }) },
  { rule: 'links-must-expire', name: 'a member cannot publish a link that never expires', actor: () => member, action: 'publish', allowed: false, request: publish({}, { audience: 'link' }) },
  { rule: 'links-expire-within-30-days', name: 'a link may last 30 days', actor: () => member, action: 'publish', allowed: true, request: publish({}, { audience: 'link', expiresInSeconds: 30 * oneDay }) },
  { rule: 'links-expire-within-30-days', name: 'a link may not last 31 days', actor: () => member, action: 'publish', allowed: false, request: publish({}, { audience: 'link', expiresInSeconds: 31 * oneDay }) },
  { rule: 'confidential-stays-in-team-or-org', name: 'a confidential artifact is shared with the org', actor: () => member, action: 'publish', allowed: true, request: publish({ classification: 'confidential' }, { audience: 'org' }) },
  { rule: 'confidential-stays-in-team-or-org', name: 'a confidential artifact is never shared by link', actor: () => member, action: 'publish', allowed: false, request: publish({ classification: 'confidential' }, { audience: 'link', expiresInSeconds: oneDay }) },
  { rule: 'restricted-never-leaves', name: 'a public artifact is shared by link', actor: () => member, action: 'publish', allowed: true, request: publish({ classification: 'public' }, { audience: 'link', expiresInSeconds: oneDay }) },
  { rule: 'restricted-never-leaves', name: 'a restricted artifact is never published, even to the org', actor: () => member, action: 'publish', allowed: false, request: publish({ classification: 'restricted' }, { audience: 'org' }) },
  { rule: 'no-links-with-secrets', name: 'content with a credential may go to the org', actor: () => member, action: 'publish', allowed: true, request: publish({ content: { format: 'markdown', body: FAKE_SECRET } }, { audience: 'org' }) },
  { rule: 'no-links-with-secrets', name: 'content with a credential never goes out by link', actor: () => member, action: 'publish', allowed: false, request: publish({ content: { format: 'markdown', body: FAKE_SECRET } }, { audience: 'link', expiresInSeconds: oneDay }) },
  { rule: 'admins-manage-shares', name: "an admin revokes a member's link", actor: () => ({ id: adminId, token: admin }), action: 'delete', allowed: true, request: revoke(() => member) },
  { rule: 'admins-manage-shares', name: 'a viewer cannot revoke a link', actor: () => viewer, action: 'delete', allowed: false, request: revoke(() => member) },
  { rule: 'auditors-read-shares', name: "an auditor sees an artifact's links", actor: () => auditor, action: 'read', allowed: true, request: listShares },
  { rule: 'auditors-read-shares', name: "a viewer does not see an artifact's links", actor: () => viewer, action: 'read', allowed: false, request: listShares },
  { rule: 'members-own-their-shares', name: 'a member revokes their own link', actor: () => member, action: 'delete', allowed: true, request: revoke(() => member) },
  { rule: 'members-own-their-shares', name: "a member cannot revoke another member's link", actor: () => outsider, action: 'delete', allowed: false, request: revoke(() => member) },
  // Remixing
  { rule: 'members-remix-org-artifacts', name: "a member remixes another member's artifact", actor: () => outsider, action: 'remix', allowed: true, request: remix(() => member) },
  { rule: 'members-remix-org-artifacts', name: 'a viewer cannot remix', actor: () => viewer, action: 'remix', allowed: false, request: remix(() => member) },
  { rule: 'restricted-never-leaves', name: 'a restricted artifact is never remixed', actor: () => outsider, action: 'remix', allowed: false, request: remix(() => member, { classification: 'restricted' }) },
  { rule: 'members-remix-link-published', name: "another org's admin remixes a link-published artifact", actor: () => ({ id: otherOrg.adminId, token: otherOrg.adminToken }), action: 'remix', allowed: true, request: remixByLink, explainAs: () => otherOrg.adminToken },
  { rule: 'members-remix-link-published', name: "another org's viewer cannot remix through the link", actor: () => otherViewer, action: 'remix', allowed: false, request: remixByLink, explainAs: () => otherOrg.adminToken },
];

describe('default rules through the API', () => {
  it.each(cases.map((c) => [c.rule, c.name, c] as const))('%s: %s', async (_rule, _name, c) => {
    const actor = c.actor();
    const { send, type, attributes, share } = await c.request(actor.token);
    const explained = await t
      .http(c.explainAs?.() ?? admin)
      .post('/api/v1/policies/explain')
      .send({ actorId: actor.id, action: c.action, resource: { type, attributes }, ...(share && { share }) });
    expect(explained.status).toBe(200);
    const real = await send();
    // Allowed: a 2xx. Denied: a 403 naming the rule explain names.
    const outcome = real.status < 400 ? { allowed: true } : { allowed: false, status: real.status, ruleId: real.body.policy?.ruleId ?? null };
    const predicted = explained.body.allowed ? { allowed: true } : { allowed: false, status: 403, ruleId: explained.body.decidedBy?.ruleId ?? null };
    expect(outcome).toEqual(predicted);
    expect(outcome.allowed).toBe(c.allowed);
  });

  // The reporter token's rules (reporter-reports-to-its-run, reporter-updates-its-artifacts) and its denials of the
  // org-wide read rules: explain takes a member as actorId, so these cases sit outside the table.
  // remix-stays-in-org has no request of its own: another org's artifact is 404 by id, and a link remix is published by link.
  it("keeps a run's reporter token to reporting on and reading its own run", async () => {
    const mine = await createRun(t, member.token, skill, { a: [] });
    const other = await createRun(t, member.token, skill, { a: [] });
    const post = (runId: string) => t.http(mine.reporterToken).post(`/api/v1/runs/${runId}/events`).send({ events: [{ node: 'a', type: 'started' }] });
    expect((await post(mine.id)).status).toBe(200);
    const denied = await post(other.id);
    expect(denied.status).toBe(403);
    expect(denied.body.policy.ruleId).toBeNull();
    for (const path of ['/api/v1/skills', '/api/v1/members', '/api/v1/teams', '/api/v1/tools']) expect((await t.http(mine.reporterToken).get(path)).status).toBe(403);
  });

  it("lets a run's reporter token update its run's artifacts and no other", async () => {
    const run = await createRun(t, member.token, skill, { a: [] });
    const other = await createRun(t, member.token, skill, { a: [] });
    const mine = await createArtifact(t, member.token, { runId: run.id });
    const theirs = await createArtifact(t, member.token, { runId: other.id });
    const put = (id: string) => t.http(run.reporterToken).put(`/api/v1/artifacts/${id}/content`).send({ format: 'markdown', body: 'progress' });
    expect((await put(mine.id)).status).toBe(200);
    const denied = await put(theirs.id);
    expect({ status: denied.status, ruleId: denied.body.policy?.ruleId }).toEqual({ status: 403, ruleId: null });
    expect((await t.http(run.reporterToken).get(`/api/v1/artifacts/${mine.id}`)).status).toBe(200);
    // Listing, it sees its run's artifacts only.
    expect((await t.http(run.reporterToken).get('/api/v1/artifacts?limit=500')).body.items.map((a: { id: string }) => a.id)).toEqual([mine.id]);
  });
});
