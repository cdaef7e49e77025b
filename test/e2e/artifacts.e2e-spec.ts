import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { auditRows, lastSeq } from '../helpers/audit.js';
import { adminToken, createArtifact, createMember, createOrg, createRun, createShare, createSkill, createTeam, expectProblem, FAKE_SECRET, type TestMember } from '../helpers/factories.js';
import { contentPath, sharePageMeta } from '../helpers/share-page.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
let admin: string;
let orgId: string;
let member: TestMember;
let other: TestMember;
let viewer: TestMember;
let skill: string;

beforeAll(async () => {
  t = await createTestApp();
  admin = await adminToken(t);
  orgId = (await t.http(admin).get('/api/v1/me')).body.orgId;
  member = await createMember(t, admin, 'member');
  other = await createMember(t, admin, 'member');
  viewer = await createMember(t, admin, 'viewer');
  skill = (await createSkill(t, admin)).name;
});
afterAll(() => t.close());

describe('artifacts', () => {
  it('creates an artifact at revision 1, owned by the caller, and logs it', async () => {
    const before = await lastSeq(t);
    const res = await t
      .http(member.token)
      .post('/api/v1/artifacts')
      .send({ title: 'PR 42 walkthrough', kind: 'pr-walkthrough', labels: ['pr', 'backend'], content: { format: 'markdown', body: '# PR 42' } });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.any(String),
      title: 'PR 42 walkthrough',
      kind: 'pr-walkthrough',
      runId: null,
      teamId: null,
      classification: 'internal',
      labels: ['pr', 'backend'],
      ownerId: member.id,
      private: false,
      revision: 1,
      containsSecrets: false,
      remixedFrom: null,
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    const events = (await auditRows(t, orgId, before)).filter((e) => e.resource_id === res.body.id);
    expect(events.map((e) => [e.action, e.outcome, e.actor_id])).toEqual([['artifact.create', 'allowed', member.id]]);
    const revision = await t.http(viewer.token).get(`/api/v1/artifacts/${res.body.id}/revisions/1`);
    expect(revision.status).toBe(200);
    expect(revision.body).toEqual(expect.objectContaining({ revision: 1, format: 'markdown', body: '# PR 42', createdBy: member.id, createdByType: 'user', containsSecrets: false, secrets: [] }));
  });

  it.each([
    ['an unknown field', { title: 'x', kind: 'explainer', content: { format: 'markdown', body: 'x' }, owner: 'me' }, 'owner'],
    ['a wrong classification', { title: 'x', kind: 'explainer', classification: 'secret', content: { format: 'markdown', body: 'x' } }, 'classification'],
    ['a wrong format', { title: 'x', kind: 'explainer', content: { format: 'pdf', body: 'x' } }, 'content.format'],
    ['no content', { title: 'x', kind: 'explainer' }, 'content'],
    ['a run-summary without its run', { title: 'x', kind: 'run-summary' }, 'runId'],
    ['a repeated label', { title: 'x', kind: 'explainer', labels: ['a', 'a'], content: { format: 'markdown', body: 'x' } }, 'labels'],
    ['a title of the wrong type', { title: 42, kind: 'explainer', content: { format: 'markdown', body: 'x' } }, 'title'],
  ])('refuses %s, naming the field, and creates nothing', async (_case, body, field) => {
    const before = (await t.db.query('SELECT count(*)::int AS n FROM artifacts'))[0].n;
    const res = await t.http(member.token).post('/api/v1/artifacts').send(body);
    expectProblem(res, 400, 'validation_failed');
    expect(res.body.errors.map((e: { path: string }) => e.path)).toContain(field);
    expect((await t.db.query('SELECT count(*)::int AS n FROM artifacts'))[0].n).toBe(before);
  });

  it('refuses content over 5 MiB, naming content.body', async () => {
    const res = await t
      .http(member.token)
      .post('/api/v1/artifacts')
      .send({ title: 'big', kind: 'explainer', content: { format: 'markdown', body: 'é'.repeat(2.7 * 1024 * 1024) } });
    expectProblem(res, 400, 'validation_failed');
    expect(res.body.errors).toEqual([expect.objectContaining({ path: 'content.body' })]);
  });

  it("refuses another org's team or run as 400, and answers another org's artifact as 404", async () => {
    const org = await createOrg(t, admin);
    const theirTeam = await createTeam(t, org.adminToken);
    const theirSkill = await createSkill(t, org.adminToken);
    const theirRun = await createRun(t, org.adminToken, theirSkill.name, { a: [] });
    const base = { title: 'x', kind: 'explainer', content: { format: 'markdown', body: 'x' } };
    const team = await t.http(member.token).post('/api/v1/artifacts').send({ ...base, teamId: theirTeam.id });
    expectProblem(team, 400, 'validation_failed');
    expect(team.body.errors).toEqual([expect.objectContaining({ path: 'teamId' })]);
    const run = await t.http(member.token).post('/api/v1/artifacts').send({ ...base, runId: theirRun.id });
    expect(run.body.errors).toEqual([expect.objectContaining({ path: 'runId' })]);
    const theirs = await createArtifact(t, org.adminToken);
    expectProblem(await t.http(admin).get(`/api/v1/artifacts/${theirs.id}`), 404, 'not_found');
    expectProblem(await t.http(admin).put(`/api/v1/artifacts/${theirs.id}/content`).send({ format: 'markdown', body: 'mine now' }), 404, 'not_found');
    expectProblem(await t.http(admin).post(`/api/v1/artifacts/${theirs.id}/remix`).send({}), 404, 'not_found');
    expect((await t.http(org.adminToken).get(`/api/v1/artifacts/${theirs.id}/revisions/1`)).body.body).toBe('# Hello\n\nIt works.');
  });

  it('makes every content update a new immutable revision, numbered without gaps under concurrent writers', async () => {
    const artifact = await createArtifact(t, member.token);
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => t.http(member.token).put(`/api/v1/artifacts/${artifact.id}/content`).send({ format: 'html', body: `<p>v${i}</p>`, message: `edit ${i}` })),
    );
    expect(results.map((r) => r.status)).toEqual(Array(12).fill(200));
    expect(results.map((r) => r.body.revision).sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, i) => i + 2));
    const list = await t.http(member.token).get(`/api/v1/artifacts/${artifact.id}/revisions?limit=5`);
    expect(list.body.items.map((r: { revision: number }) => r.revision)).toEqual([13, 12, 11, 10, 9]);
    const next = await t.http(member.token).get(`/api/v1/artifacts/${artifact.id}/revisions?limit=50&cursor=${list.body.nextCursor}`);
    expect(next.body.items.map((r: { revision: number }) => r.revision)).toEqual([8, 7, 6, 5, 4, 3, 2, 1]);
    expect(next.body.nextCursor).toBeNull();
    expect((await t.http(member.token).get(`/api/v1/artifacts/${artifact.id}/revisions/1`)).body.body).toBe('# Hello\n\nIt works.');
    expect((await t.http(member.token).get(`/api/v1/artifacts/${artifact.id}`)).body.revision).toBe(13);
    expectProblem(await t.http(member.token).get(`/api/v1/artifacts/${artifact.id}/revisions/14`), 404, 'not_found');
    expectProblem(await t.http(member.token).get(`/api/v1/artifacts/${artifact.id}/revisions/zero`), 400, 'validation_failed');
  });

  it('flags content that holds a credential, per revision, without storing where the value is beyond its line', async () => {
    const artifact = await createArtifact(t, member.token);
    const leaked = await t.http(member.token).put(`/api/v1/artifacts/${artifact.id}/content`).send({ format: 'markdown', body: `# Setup\n\n${FAKE_SECRET}\n` });
    expect(leaked.body).toEqual({ revision: 2, containsSecrets: true });
    expect((await t.http(member.token).get(`/api/v1/artifacts/${artifact.id}`)).body.containsSecrets).toBe(true);
    const rev = (await t.http(member.token).get(`/api/v1/artifacts/${artifact.id}/revisions/2`)).body;
    expect(rev.secrets).toEqual([expect.objectContaining({ line: 3 })]);
    const cleaned = await t.http(member.token).put(`/api/v1/artifacts/${artifact.id}/content`).send({ format: 'markdown', body: '# Setup\n\nAsk ops for the key.' });
    expect(cleaned.body).toEqual({ revision: 3, containsSecrets: false });
  });

  it("lets a run's reporter token keep its run's artifacts current, and no other artifact", async () => {
    const run = await createRun(t, member.token, skill, { a: [] });
    const otherRun = await createRun(t, member.token, skill, { a: [] });
    const mine = await createArtifact(t, member.token, { runId: run.id });
    const theirs = await createArtifact(t, member.token, { runId: otherRun.id });
    const ok = await t.http(run.reporterToken).put(`/api/v1/artifacts/${mine.id}/content`).send({ format: 'markdown', body: '# 50% done' });
    expect(ok.status).toBe(200);
    const rev = (await t.http(member.token).get(`/api/v1/artifacts/${mine.id}/revisions/2`)).body;
    expect({ createdBy: rev.createdBy, createdByType: rev.createdByType }).toEqual({ createdBy: run.id, createdByType: 'agent' });
    const denied = await t.http(run.reporterToken).put(`/api/v1/artifacts/${theirs.id}/content`).send({ format: 'markdown', body: 'x' });
    expectProblem(denied, 403, 'policy_denied');
    expectProblem(await t.http(run.reporterToken).post('/api/v1/artifacts').send({ title: 'x', kind: 'explainer', content: { format: 'markdown', body: 'x' } }), 403, 'policy_denied');
    expect((await t.http(member.token).get(`/api/v1/artifacts/${theirs.id}`)).body.revision).toBe(1);
  });

  it('keeps a run-summary without content', async () => {
    const run = await createRun(t, member.token, skill, { a: [] });
    const summary = await t.http(member.token).post('/api/v1/artifacts').send({ title: 'Live', kind: 'run-summary', runId: run.id });
    expect(summary.status).toBe(201);
    expect(summary.body.revision).toBe(0);
    expectProblem(await t.http(member.token).put(`/api/v1/artifacts/${summary.body.id}/content`).send({ format: 'markdown', body: 'x' }), 409, 'run_summary_has_no_content');
    expectProblem(await t.http(member.token).post(`/api/v1/artifacts/${summary.body.id}/remix`).send({}), 409, 'nothing_to_remix');
  });

  it('patches title, classification and labels, logging what changed', async () => {
    const artifact = await createArtifact(t, member.token);
    const before = await lastSeq(t);
    const res = await t.http(member.token).patch(`/api/v1/artifacts/${artifact.id}`).send({ title: 'Renamed', classification: 'confidential' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual(expect.objectContaining({ title: 'Renamed', classification: 'confidential', revision: 1 }));
    const [event] = (await auditRows(t, orgId, before)).filter((e) => e.resource_id === artifact.id);
    expect(event!.details).toEqual({ changes: { title: { from: 'Release notes', to: 'Renamed' }, classification: { from: 'internal', to: 'confidential' } } });
    expectProblem(await t.http(member.token).patch(`/api/v1/artifacts/${artifact.id}`).send({}), 400, 'validation_failed');
    const unchanged = await lastSeq(t);
    expect((await t.http(member.token).patch(`/api/v1/artifacts/${artifact.id}`).send({ title: 'Renamed' })).body.title).toBe('Renamed');
    expect((await auditRows(t, orgId, unchanged)).filter((e) => e.resource_id === artifact.id)).toEqual([]);
    expectProblem(await t.http(other.token).patch(`/api/v1/artifacts/${artifact.id}`).send({ title: 'Mine' }), 403, 'policy_denied');
  });

  it('lists what the caller may read, newest first, filtered', async () => {
    const run = await createRun(t, member.token, skill, { a: [] });
    const a = await createArtifact(t, member.token, { runId: run.id, labels: ['weekly'] });
    const b = await createArtifact(t, member.token, { runId: run.id, kind: 'incident' });
    const byRun = await t.http(viewer.token).get(`/api/v1/artifacts?runId=${run.id}`);
    expect(byRun.body.items.map((x: { id: string }) => x.id)).toEqual([b.id, a.id]);
    expect((await t.http(viewer.token).get(`/api/v1/artifacts?runId=${run.id}&kind=incident`)).body.items.map((x: { id: string }) => x.id)).toEqual([b.id]);
    expect((await t.http(viewer.token).get(`/api/v1/artifacts?runId=${run.id}&label=weekly`)).body.items.map((x: { id: string }) => x.id)).toEqual([a.id]);
    expectProblem(await t.http(viewer.token).get('/api/v1/artifacts?colour=red'), 400, 'validation_failed');
  });
});

describe('sharing', () => {
  it('publishes a link once, logs it with the share, and answers who shared what', async () => {
    const artifact = await createArtifact(t, member.token);
    const before = await lastSeq(t);
    const res = await t.http(member.token).post(`/api/v1/artifacts/${artifact.id}/shares`).send({ audience: 'link', expiresInSeconds: 3600 });
    expect(res.status).toBe(201);
    expect(res.body).toEqual(
      expect.objectContaining({ artifactId: artifact.id, audience: 'link', revision: null, createdBy: member.id, state: 'valid', token: expect.stringMatching(/^vtr_shr_[A-Za-z0-9_-]{43}$/) }),
    );
    expect(res.body.url).toMatch(new RegExp(`/s/${res.body.token}$`));
    expect(Date.parse(res.body.expiresAt) - Date.now()).toBeGreaterThan(3500_000);
    const [event] = (await auditRows(t, orgId, before)).filter((e) => e.action === 'artifact.publish');
    expect(event).toEqual(expect.objectContaining({ outcome: 'allowed', resource_id: artifact.id, policy_rule_id: 'members-update-own-artifacts' }));
    expect(JSON.stringify(event)).not.toContain(res.body.token);
    const listed = await t.http(member.token).get(`/api/v1/artifacts/${artifact.id}/shares`);
    expect(listed.body.items).toEqual([expect.objectContaining({ id: res.body.id, url: null, state: 'valid' })]);
    expect(JSON.stringify(listed.body)).not.toContain(res.body.token);
    const shares = await t.http(admin).get(`/api/v1/audit/shares?artifactId=${artifact.id}`);
    expect(shares.body.items).toEqual([expect.objectContaining({ shareId: res.body.id, audience: 'link', createdBy: expect.objectContaining({ id: member.id }), revokedAt: null })]);
  });

  it.each([
    ['a link without expiry', {}, { audience: 'link' }, 'links-must-expire'],
    ['a link for 31 days', {}, { audience: 'link', expiresInSeconds: 31 * 86_400 }, 'links-expire-within-30-days'],
    ['a confidential artifact by link', { classification: 'confidential' }, { audience: 'link', expiresInSeconds: 3600 }, 'confidential-stays-in-team-or-org'],
    ['a restricted artifact to the org', { classification: 'restricted' }, { audience: 'org' }, 'restricted-never-leaves'],
    ['content with a credential by link', { content: { format: 'markdown', body: FAKE_SECRET } }, { audience: 'link', expiresInSeconds: 3600 }, 'no-links-with-secrets'],
  ])('refuses to publish %s with the rule and its reason, logs the denial, and makes no share', async (_case, artifactExtra, share, rule) => {
    const artifact = await createArtifact(t, member.token, artifactExtra);
    const before = await lastSeq(t);
    const res = await t.http(member.token).post(`/api/v1/artifacts/${artifact.id}/shares`).send(share);
    expectProblem(res, 403, 'policy_denied');
    expect(res.body.policy).toEqual(expect.objectContaining({ ruleId: rule }));
    expect((await t.db.query('SELECT count(*)::int AS n FROM shares WHERE artifact_id = $1', [artifact.id]))[0].n).toBe(0);
    const events = (await auditRows(t, orgId, before)).filter((e) => e.resource_id === artifact.id);
    expect(events.map((e) => [e.action, e.outcome, e.policy_rule_id])).toEqual([['artifact.publish', 'denied', rule]]);
  });

  it('decides a pinned share on the pinned revision', async () => {
    const artifact = await createArtifact(t, member.token, { content: { format: 'markdown', body: FAKE_SECRET } });
    await t.http(member.token).put(`/api/v1/artifacts/${artifact.id}/content`).send({ format: 'markdown', body: 'clean' });
    expectProblem(await t.http(member.token).post(`/api/v1/artifacts/${artifact.id}/shares`).send({ audience: 'link', expiresInSeconds: 3600, revision: 1 }), 403, 'policy_denied');
    expect((await createShare(t, member.token, artifact.id, { audience: 'link', expiresInSeconds: 3600, revision: 2 })).revision).toBe(2);
    expectProblem(await t.http(member.token).post(`/api/v1/artifacts/${artifact.id}/shares`).send({ audience: 'link', expiresInSeconds: 3600, revision: 3 }), 400, 'validation_failed');
  });

  it('revokes a share: once logged, again a no-op; only its maker or an admin may', async () => {
    const artifact = await createArtifact(t, member.token);
    const share = await createShare(t, member.token, artifact.id);
    expectProblem(await t.http(other.token).delete(`/api/v1/shares/${share.id}`), 403, 'policy_denied');
    const before = await lastSeq(t);
    expect((await t.http(member.token).delete(`/api/v1/shares/${share.id}`)).status).toBe(204);
    expect((await t.http(member.token).delete(`/api/v1/shares/${share.id}`)).status).toBe(204);
    const events = (await auditRows(t, orgId, before)).filter((e) => e.resource_id === share.id);
    expect(events.map((e) => [e.action, e.actor_id])).toEqual([['share.revoke', member.id]]);
    expectProblem(await t.http(admin).post(`/api/v1/shares/${share.token}/remix`).send({}), 410, 'share_revoked');
    const audit = await t.http(admin).get(`/api/v1/audit/shares?artifactId=${artifact.id}`);
    expect(audit.body.items[0].revokedBy).toEqual(expect.objectContaining({ id: member.id }));
    expectProblem(await t.http(admin).delete('/api/v1/shares/00000000-0000-7000-8000-000000000000'), 404, 'not_found');
  });

  it('refuses a team share of an artifact without a team, naming audience', async () => {
    const artifact = await createArtifact(t, member.token);
    const res = await t.http(member.token).post(`/api/v1/artifacts/${artifact.id}/shares`).send({ audience: 'team' });
    expectProblem(res, 400, 'validation_failed');
    expect(res.body.errors).toEqual([expect.objectContaining({ path: 'audience' })]);
  });
});

describe('remix', () => {
  it('copies a revision into a private artifact of the caller, with lineage', async () => {
    const source = await createArtifact(t, member.token, { labels: ['kb'] });
    await t.http(member.token).put(`/api/v1/artifacts/${source.id}/content`).send({ format: 'markdown', body: 'v2' });
    const before = await lastSeq(t);
    const res = await t.http(other.token).post(`/api/v1/artifacts/${source.id}/remix`).send({ revision: 1 });
    expect(res.status).toBe(201);
    expect(res.body).toEqual(
      expect.objectContaining({ ownerId: other.id, private: true, revision: 1, title: 'Remix of Release notes', labels: ['kb'], remixedFrom: { artifactId: source.id, revision: 1 } }),
    );
    expect((await t.http(other.token).get(`/api/v1/artifacts/${res.body.id}/revisions/1`)).body.body).toBe('# Hello\n\nIt works.');
    // Private: not even the source's owner sees it; an admin does.
    expectProblem(await t.http(member.token).get(`/api/v1/artifacts/${res.body.id}`), 403, 'policy_denied');
    expect((await t.http(admin).get(`/api/v1/artifacts/${res.body.id}`)).status).toBe(200);
    expect((await t.http(member.token).get('/api/v1/artifacts?limit=500')).body.items.map((a: { id: string }) => a.id)).not.toContain(res.body.id);
    const events = (await auditRows(t, orgId, before)).filter((e) => e.action === 'artifact.remix');
    expect(events).toEqual([expect.objectContaining({ resource_id: source.id, actor_id: other.id, policy_rule_id: 'members-remix-org-artifacts' })]);
    const again = await t.http(other.token).post(`/api/v1/artifacts/${res.body.id}/remix`).send({ title: 'Third' });
    const lineage = await t.http(admin).get(`/api/v1/artifacts/${res.body.id}/lineage`);
    expect(lineage.body).toEqual({
      ancestors: [{ artifactId: source.id, title: 'Release notes', revision: 1 }],
      descendants: [{ artifactId: again.body.id, title: 'Third', revision: 1 }],
    });
    const fromMember = await t.http(member.token).get(`/api/v1/artifacts/${source.id}/lineage`);
    expect(fromMember.body.descendants).toEqual([
      { artifactId: res.body.id, title: null, revision: 1 },
      { artifactId: again.body.id, title: null, revision: 1 },
    ]);
  });

  it('remixes through a link into another org, logged in both; a restricted or revoked source cannot be', async () => {
    const org = await createOrg(t, admin);
    const source = await createArtifact(t, member.token);
    const share = await createShare(t, member.token, source.id);
    const res = await t.http(org.adminToken).post(`/api/v1/shares/${share.token}/remix`).send({ title: 'Ours now' });
    expect(res.status).toBe(201);
    expect(res.body).toEqual(expect.objectContaining({ ownerId: org.adminId, private: true, remixedFrom: { artifactId: source.id, revision: 1 } }));
    expect((await t.http(org.adminToken).get(`/api/v1/artifacts/${res.body.id}`)).status).toBe(200);
    expect((await t.db.query('SELECT org_id FROM artifacts WHERE id = $1', [res.body.id]))[0].org_id).toBe(org.id);
    const theirs = (await auditRows(t, org.id)).filter((e) => e.action === 'artifact.remix');
    const ours = (await auditRows(t, orgId)).filter((e) => e.action === 'artifact.remix' && e.resource_id === source.id);
    expect([theirs.length, ours.length]).toEqual([1, 1]);
    // The other org sees its lineage only as far as it may read.
    expect((await t.http(org.adminToken).get(`/api/v1/artifacts/${res.body.id}/lineage`)).body.ancestors).toEqual([{ artifactId: source.id, title: null, revision: 1 }]);
    expectProblem(await t.http(org.adminToken).post('/api/v1/shares/vtr_shr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/remix').send({}), 404, 'not_found');
    expectProblem(await t.http(org.adminToken).post('/api/v1/shares/not-a-token/remix').send({}), 400, 'validation_failed');
    const orgShare = await createShare(t, member.token, source.id, { audience: 'org' });
    expectProblem(await t.http(org.adminToken).post(`/api/v1/shares/${orgShare.token}/remix`).send({}), 404, 'not_found');
  });

  it('never remixes a restricted artifact', async () => {
    const source = await createArtifact(t, member.token, { classification: 'restricted' });
    const res = await t.http(other.token).post(`/api/v1/artifacts/${source.id}/remix`).send({});
    expectProblem(res, 403, 'policy_denied');
    expect(res.body.policy.ruleId).toBe('restricted-never-leaves');
  });
});

describe('explain by id', () => {
  it('reads a Run, Artifact or Share of the org from its row, 404 for another org, 400 for a subject it cannot look up', async () => {
    const explain = (actorId: string, action: string, resource: Record<string, unknown>) => t.http(admin).post('/api/v1/policies/explain').send({ actorId, action, resource });
    const run = await createRun(t, member.token, skill, { a: [] });
    const artifact = await createArtifact(t, member.token);
    const share = await createShare(t, member.token, artifact.id);
    const decided = async (actorId: string, action: string, resource: Record<string, unknown>) => {
      const res = await explain(actorId, action, resource);
      return [res.status, res.body.allowed, res.body.decidedBy?.ruleId ?? null];
    };
    expect(await decided(member.id, 'update', { type: 'Run', id: run.id })).toEqual([200, true, 'members-update-own-runs']);
    expect(await decided(other.id, 'update', { type: 'Run', id: run.id })).toEqual([200, false, null]);
    expect(await decided(member.id, 'update', { type: 'Artifact', id: artifact.id })).toEqual([200, true, 'members-update-own-artifacts']);
    expect(await decided(other.id, 'update', { type: 'Artifact', id: artifact.id })).toEqual([200, false, null]);
    expect(await decided(member.id, 'delete', { type: 'Share', id: share.id })).toEqual([200, true, 'members-own-their-shares']);
    expect(await decided(other.id, 'delete', { type: 'Share', id: share.id })).toEqual([200, false, null]);
    const org = await createOrg(t, admin);
    expectProblem(await explain(member.id, 'read', { type: 'Artifact', id: (await createArtifact(t, org.adminToken)).id }), 404, 'not_found');
    const skillRes = await explain(member.id, 'read', { type: 'Skill', id: run.id });
    expectProblem(skillRes, 400, 'validation_failed');
    expect(skillRes.body.errors).toEqual([expect.objectContaining({ path: 'resource.id' })]);
  });
});

describe('policy dry run over real shares', () => {
  it('lists the valid links a draft bundle would no longer allow, and changes nothing', async () => {
    const kept = await createArtifact(t, member.token);
    const hit = await createArtifact(t, member.token, { labels: ['customer'] });
    const revoked = await createArtifact(t, member.token, { labels: ['customer'] });
    await createShare(t, member.token, kept.id);
    const share = await createShare(t, member.token, hit.id);
    const gone = await createShare(t, member.token, revoked.id);
    await t.http(member.token).delete(`/api/v1/shares/${gone.id}`);
    const active = (await t.http(admin).get('/api/v1/policies')).body;
    const draft = `${active.source}
  - id: no-customer-links
    effect: deny
    actions: [publish]
    subject: Artifact
    conditions: { labels: customer, share.audience: link }
    reason: Customer material is never shared by link
`;
    const res = await t.http(admin).put('/api/v1/policies?dryRun=true').set('content-type', 'application/yaml').send(draft);
    expect(res.status).toBe(200);
    expect(res.body.wouldDeny).toEqual([{ shareId: share.id, artifactId: hit.id, ruleId: 'no-customer-links', reason: 'Customer material is never shared by link' }]);
    expect((await t.http(admin).get('/api/v1/policies')).body.version).toBe(active.version);
  });
});

describe('rendering and share links', () => {
  const csp = (res: { headers: Record<string, string> }) => res.headers['content-security-policy'] ?? '';
  /** The render CSP, every directive (API.md, Artifacts): the page's own inline scripts, sandboxed, and no network at all. */
  const expectRenderCsp = (res: { headers: Record<string, string> }) => {
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    const directives = Object.fromEntries(csp(res).split(/;\s*/).map((directive) => [directive.split(' ')[0], directive.split(' ').slice(1).join(' ')]));
    expect(directives).toEqual({
      sandbox: 'allow-scripts',
      'default-src': "'none'",
      'script-src': "'unsafe-inline'",
      'style-src': "'unsafe-inline'",
      'img-src': 'data:',
      'font-src': 'data:',
      'base-uri': "'none'",
      'form-action': "'none'",
    });
  };

  it('renders Markdown to a self-contained page under a sandboxing CSP, raw HTML shown as text', async () => {
    const artifact = await createArtifact(t, member.token, { content: { format: 'markdown', body: '# Title\n\n<script>alert(1)</script>\n\n![x](https://evil.example/x.png)' } });
    await t.http(member.token).put(`/api/v1/artifacts/${artifact.id}/content`).send({ format: 'html', body: '<h1>Second</h1><script>fetch("/api/v1/me")</script>' });
    const first = await t.http(viewer.token).get(`/api/v1/artifacts/${artifact.id}/render?revision=1`);
    expect(first.status).toBe(200);
    expectRenderCsp(first);
    expect(first.text).toContain('<h1>Title</h1>');
    expect(first.text).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(first.text).not.toContain('<script>');
    const latest = await t.http(viewer.token).get(`/api/v1/artifacts/${artifact.id}/render`);
    expect(latest.text).toBe('<h1>Second</h1><script>fetch("/api/v1/me")</script>');
    expectRenderCsp(latest);
    expectProblem(await t.http(viewer.token).get(`/api/v1/artifacts/${artifact.id}/render?revision=9`), 404, 'not_found');
  });

  it("renders a run-summary from its run's nodes as they are now", async () => {
    const run = await createRun(t, member.token, skill, { build: [], test: ['build'] });
    await t.http(run.reporterToken).post(`/api/v1/runs/${run.id}/events`).send({ events: [{ node: 'build', type: 'progress', percent: 40, message: 'compiling' }] });
    const summary = (await t.http(member.token).post('/api/v1/artifacts').send({ title: 'Nightly', kind: 'run-summary', runId: run.id })).body;
    const page = await t.http(member.token).get(`/api/v1/artifacts/${summary.id}/render`);
    expect(page.text).toMatch(/<td>build<\/td><td>build<\/td><td>running<\/td><td>40<\/td><td>compiling<\/td>/);
    expect(page.text).toMatch(/<td>test<\/td><td>test<\/td><td>pending<\/td>/);
    // Shared by link, the viewer page's frame shows the same (a run-summary has no revision to name).
    const share = await createShare(t, member.token, summary.id);
    const meta = sharePageMeta((await t.http().get(`/s/${share.token}`)).text)!;
    expect(meta.artifact).toEqual({ title: 'Nightly', kind: 'run-summary', revision: 0 });
    const framed = await t.http().get(contentPath(share.token, { ticket: meta.ticket as string }));
    expect(framed.text).toMatch(/<td>build<\/td><td>build<\/td><td>running<\/td><td>40<\/td><td>compiling<\/td>/);
  });

  it('opens a link for anyone as the viewer page, which counts and audits its view once and tells the page what the link serves', async () => {
    // A title is the agent's text: it reaches the page as data, never as markup.
    const title = `Release "notes" <b>&amp;</b> 'final'`;
    const artifact = await createArtifact(t, member.token, { title, kind: 'dashboard' });
    const live = await createShare(t, member.token, artifact.id);
    await t.http(member.token).put(`/api/v1/artifacts/${artifact.id}/content`).send({ format: 'markdown', body: '# Updated' });
    const page = await t.http().get(`/s/${live.token}`);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['cache-control']).toBe('no-store');
    expect(csp(page)).toContain("script-src 'self'");
    expect(csp(page)).toMatch(/frame-src [^;]*http:\/\/127\.0\.0\.1:\d+\/s\//);
    expect(page.text).toContain('<div id="root"></div>');
    expect(page.text).not.toContain('Updated');
    expect(page.text).not.toContain('<b>');
    const meta = sharePageMeta(page.text)!;
    expect(meta).toEqual({
      state: 'valid',
      token: live.token,
      now: expect.any(String),
      share: { id: live.id, audience: 'link', revision: null, expiresAt: live.expiresAt },
      artifact: { title, kind: 'dashboard', revision: 2 },
      sharedBy: 'A member',
      ticket: expect.any(String),
    });
    const views = () => t.db.query(`SELECT actor_type, details FROM audit_events WHERE action = 'share.view' AND resource_id = $1`, [live.id]);
    expect(await views()).toEqual([expect.objectContaining({ actor_type: 'public', details: { artifactId: artifact.id, revision: 2, audience: 'link' } })]);
    // The page's frame, with the page's ticket: the same view, not another.
    const framed = await t.http().get(contentPath(live.token, { revision: 2, ticket: meta.ticket as string }));
    expect(framed.status).toBe(200);
    expectRenderCsp(framed);
    expect(framed.text).toContain('<h1>Updated</h1>');
    expect(await views()).toHaveLength(1);
  });

  it('serves the content only under the render CSP, and counts it as a view without a valid ticket of its own link', async () => {
    const artifact = await createArtifact(t, member.token);
    const live = await createShare(t, member.token, artifact.id);
    const pinned = await createShare(t, member.token, artifact.id, { audience: 'link', expiresInSeconds: 3600, revision: 1 });
    await t.http(member.token).put(`/api/v1/artifacts/${artifact.id}/content`).send({ format: 'markdown', body: '# Updated' });
    const pinnedTicket = sharePageMeta((await t.http().get(`/s/${pinned.token}`)).text)!.ticket as string;
    const seen = await t.http().get(contentPath(live.token));
    expectRenderCsp(seen);
    expect(seen.headers['cache-control']).toBe('private, no-store');
    expect(seen.text).toContain('<h1>Updated</h1>');
    // Another link's ticket, or a forged one, proves nothing here.
    await t.http().get(contentPath(live.token, { ticket: pinnedTicket }));
    await t.http().get(contentPath(live.token, { ticket: `${pinnedTicket.split('.')[0]}.${'A'.repeat(43)}` }));
    expect((await t.http().get(contentPath(pinned.token, { revision: 1, ticket: pinnedTicket }))).text).toContain('<h1>Hello</h1>');
    const views = await t.db.query(`SELECT resource_id, details FROM audit_events WHERE action = 'share.view' AND resource_id = ANY($1) ORDER BY seq`, [[live.id, pinned.id]]);
    expect(views.map((v: { resource_id: string }) => v.resource_id)).toEqual([pinned.id, live.id, live.id, live.id]);
    expect(views[1].details).toEqual({ artifactId: artifact.id, revision: 2, audience: 'link' });
    const audited = await t.http(admin).get(`/api/v1/audit/shares?artifactId=${artifact.id}`);
    expect(Object.fromEntries(audited.body.items.map((i: { shareId: string; views: number }) => [i.shareId, i.views]))).toEqual({ [live.id]: 3, [pinned.id]: 1 });
  });

  it("serves a live link's latest revision whatever older one is asked for, and a pinned link's own only", async () => {
    const artifact = await createArtifact(t, member.token);
    const live = await createShare(t, member.token, artifact.id);
    const pinned = await createShare(t, member.token, artifact.id, { audience: 'link', expiresInSeconds: 3600, revision: 1 });
    await t.http(member.token).put(`/api/v1/artifacts/${artifact.id}/content`).send({ format: 'markdown', body: '# Updated' });
    // A live link shares the artifact as it is now, never what it was before.
    expect((await t.http().get(contentPath(live.token, { revision: 1 }))).text).toContain('<h1>Updated</h1>');
    expectProblem(await t.http().get(contentPath(live.token, { revision: 3 })), 404, 'not_found');
    expect((await t.http().get(contentPath(pinned.token))).text).toContain('<h1>Hello</h1>');
    const wrong = await t.http().get(contentPath(pinned.token, { revision: 2 }));
    expectProblem(wrong, 400, 'validation_failed');
    expect(wrong.body.errors).toEqual([expect.objectContaining({ path: 'revision' })]);
    const bad = await t.http().get(`/s/${live.token}/content?revision=first&colour=red`);
    expectProblem(bad, 400, 'validation_failed');
    expect(bad.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['colour', 'revision']);
  });

  it('answers a revoked, expired or unknown link with 410 or 404: the viewer page saying so for a browser, the problem for a JSON client', async () => {
    const artifact = await createArtifact(t, member.token);
    const revoked = await createShare(t, member.token, artifact.id);
    const expired = await createShare(t, member.token, artifact.id);
    await t.http(member.token).delete(`/api/v1/shares/${revoked.id}`);
    await t.db.query(`UPDATE shares SET expires_at = now() - interval '1 second' WHERE id = $1`, [expired.id]);
    const unknown = 'vtr_shr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
    const cases: [string, number, string, string][] = [
      [revoked.token, 410, 'share_revoked', 'revoked'],
      [expired.token, 410, 'share_expired', 'expired'],
      [unknown, 404, 'not_found', 'not_found'],
      ['whatever', 404, 'not_found', 'not_found'],
    ];
    for (const [token, status, code, state] of cases) {
      const page = await t.http().get(`/s/${token}`).set('Accept', 'text/html,application/xhtml+xml,*/*;q=0.8');
      expect([token, page.status, page.headers['content-type']]).toEqual([token, status, expect.stringMatching(/^text\/html/)]);
      expect(csp(page)).toContain("script-src 'self'");
      expect(sharePageMeta(page.text)).toEqual({ state, token, now: expect.any(String) });
      expectProblem(await t.http().get(`/s/${token}`).set('Accept', 'application/json'), status, code);
      // curl's */* and a client sending no Accept are not browsers: they get the problem too.
      expectProblem(await t.http().get(`/s/${token}`).set('Accept', '*/*'), status, code);
      expectProblem(await t.http().get(`/s/${token}`).unset('Accept'), status, code);
      expectProblem(await t.http().get(contentPath(token)), status, code);
    }
    const views = await t.db.query(`SELECT 1 FROM audit_events WHERE action = 'share.view' AND resource_id = ANY($1)`, [[revoked.id, expired.id]]);
    expect(views).toEqual([]);
  });

  it('remixes through a pinned link only at its revision, naming revision otherwise', async () => {
    const artifact = await createArtifact(t, member.token);
    await t.http(member.token).put(`/api/v1/artifacts/${artifact.id}/content`).send({ format: 'markdown', body: 'v2' });
    const pinned = await createShare(t, member.token, artifact.id, { audience: 'link', expiresInSeconds: 3600, revision: 1 });
    const wrong = await t.http(other.token).post(`/api/v1/shares/${pinned.token}/remix`).send({ revision: 2 });
    expectProblem(wrong, 400, 'validation_failed');
    expect(wrong.body.errors).toEqual([expect.objectContaining({ path: 'revision' })]);
    const copy = await t.http(other.token).post(`/api/v1/shares/${pinned.token}/remix`).send({});
    expect(copy.body.remixedFrom).toEqual({ artifactId: artifact.id, revision: 1 });
  });

  it('serves an org share only to signed-in members of that org', async () => {
    const artifact = await createArtifact(t, member.token, { classification: 'confidential' });
    const share = await createShare(t, member.token, artifact.id, { audience: 'org' });
    const org = await createOrg(t, admin);
    for (const stranger of [undefined, org.adminToken]) {
      expectProblem(await t.http(stranger).get(`/s/${share.token}`).set('Accept', 'application/json'), 404, 'not_found');
      expect((await t.http(stranger).get(`/s/${share.token}`)).status).toBe(404);
      expectProblem(await t.http(stranger).get(contentPath(share.token)), 404, 'not_found');
    }
    expect((await t.http(viewer.token).get(`/s/${share.token}`)).status).toBe(200);
    expect((await t.http(viewer.token).get(contentPath(share.token))).text).toContain('<h1>Hello</h1>');
  });
});
