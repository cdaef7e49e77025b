import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DomainEvents, type DomainEventMap } from '../../src/common/domain-events.js';
import { auditRows, lastSeq } from '../helpers/audit.js';
import { adminToken, createArtifact, createMember, createShare, createTeam, expectProblem, FAKE_SECRET, type TestMember } from '../helpers/factories.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const DEFAULT_SOURCE = readFileSync(path.join(root, 'policies/default.yaml'), 'utf8');
/** The default bundle less `no-links-with-secrets`: links to content with secrets can be made under it. */
const PERMISSIVE = DEFAULT_SOURCE.replace(/  - id: no-links-with-secrets\n(    .*\n)+/, '');
/** The default bundle with one more rule of each shape a link can fail: classification, labels, audience, expiry (secrets: the default's own). */
const STRICT = `${DEFAULT_SOURCE}
  - id: confidential-not-org-wide
    effect: deny
    actions: [publish]
    subject: Artifact
    conditions: { classification: confidential, share.audience: org }
    reason: Confidential artifacts are shared with a team only
  - id: embargoed-stays-in
    effect: deny
    actions: [publish]
    subject: Artifact
    conditions: { labels: embargoed }
    reason: Embargoed artifacts are not shared
  - id: no-team-shares
    effect: deny
    actions: [publish]
    subject: Artifact
    conditions: { share.audience: team }
    reason: Share with the org or by link, not with a team
  - id: links-within-a-week
    effect: deny
    actions: [publish]
    subject: Artifact
    conditions: { share.audience: link, share.expiresInSeconds: { $gt: 604800 } }
    reason: Links must expire within 7 days
`;

// Links follow policy: what a link may serve is decided again whenever what policy looked at changes.
let t: TestApp;
let admin: string;
let orgId: string;
let member: TestMember;
let colleague: TestMember;
let teamId: string;
const revocations: DomainEventMap['share.revoked'][] = [];

beforeAll(async () => {
  t = await createTestApp();
  admin = await adminToken(t);
  orgId = (await t.http(admin).get('/api/v1/me')).body.orgId;
  teamId = (await createTeam(t, admin)).id;
  member = await createMember(t, admin, 'member', { teamIds: [teamId] });
  colleague = await createMember(t, admin, 'member');
  t.app.get(DomainEvents).subscribe('share.revoked', (event) => revocations.push(event));
});
afterAll(() => t.close());

const putYaml = (source: string, query = '') => t.http(admin).put(`/api/v1/policies${query}`).set('Content-Type', 'application/yaml').send(source);
/** What the link serves (the viewer page's frame): 200 with the content, or 410 once revoked. */
const view = (token: string) => t.http().get(`/s/${token}/content`);
/** The share as its artifact's list shows it to the admin. */
const shareOf = async (artifactId: string, shareId: string) => (await t.http(admin).get(`/api/v1/artifacts/${artifactId}/shares?limit=500`)).body.items.find((s: { id: string }) => s.id === shareId);
/** Revocations the system made after `seq`, as the audit log has them. */
const systemRevocations = async (seq: number) => (await auditRows(t, orgId, seq)).filter((e) => e.action === 'share.revoke' && e.actor_type === 'system');

describe('a live link', () => {
  it('is revoked when a revision with a secret is put, and stops serving', async () => {
    const artifact = await createArtifact(t, member.token);
    const share = await createShare(t, member.token, artifact.id);
    expect((await view(share.token)).status).toBe(200);
    const seq = await lastSeq(t);
    const heard = revocations.length;
    const put = await t.http(member.token).put(`/api/v1/artifacts/${artifact.id}/content`).send({ format: 'markdown', body: `deploy with\n${FAKE_SECRET}` });
    expect(put.status).toBe(200);
    const served = await view(share.token);
    expect(served.status).toBe(410);
    expect(served.text).not.toContain('AKIA');
    expect(await shareOf(artifact.id, share.id)).toEqual(expect.objectContaining({ state: 'revoked', revokedReason: expect.stringContaining('no-links-with-secrets') }));
    const [audited, ...more] = await systemRevocations(seq);
    expect(more).toEqual([]);
    expect(audited).toEqual(expect.objectContaining({ resource_id: share.id, outcome: 'allowed', actor_id: null, policy_rule_id: 'no-links-with-secrets', policy_version: '1' }));
    expect(revocations.slice(heard)).toEqual([{ orgId, shareId: share.id, artifactId: artifact.id, by: 'system', reason: expect.stringContaining('secrets') }]);
  });

  it('opens its page, never the API: its token as a bearer is 401, valid or not', async () => {
    const artifact = await createArtifact(t, member.token);
    const share = await createShare(t, member.token, artifact.id);
    for (const token of [share.token, `vtr_shr_${'x'.repeat(43)}`]) expectProblem(await t.http(token).get('/api/v1/runs'), 401, 'unauthenticated');
    expect((await view(share.token)).status).toBe(200);
  });

  it('pinned to a clean revision keeps serving that revision after a secret revision', async () => {
    const artifact = await createArtifact(t, member.token);
    const pinned = await createShare(t, member.token, artifact.id, { audience: 'link', expiresInSeconds: 3600, revision: 1 });
    const live = await createShare(t, member.token, artifact.id);
    expect((await t.http(member.token).put(`/api/v1/artifacts/${artifact.id}/content`).send({ format: 'markdown', body: FAKE_SECRET })).status).toBe(200);
    const served = await view(pinned.token);
    expect(served.status).toBe(200);
    expect(served.text).toContain('It works.');
    expect((await view(live.token)).status).toBe(410);
  });

  it('is revoked when its artifact becomes confidential, while its org share stays', async () => {
    const artifact = await createArtifact(t, member.token);
    const link = await createShare(t, member.token, artifact.id);
    const org = await createShare(t, member.token, artifact.id, { audience: 'org' });
    const seq = await lastSeq(t);
    expect((await t.http(member.token).patch(`/api/v1/artifacts/${artifact.id}`).send({ classification: 'confidential' })).status).toBe(200);
    expect((await view(link.token)).status).toBe(410);
    expect((await shareOf(artifact.id, link.id)).revokedReason).toContain('confidential-stays-in-team-or-org');
    expect((await shareOf(artifact.id, org.id)).state).toBe('valid');
    expect((await systemRevocations(seq)).map((e) => e.resource_id)).toEqual([link.id]);
  });

  it('is left alone by a change that keeps it allowed, and by a denied change', async () => {
    const artifact = await createArtifact(t, member.token);
    const link = await createShare(t, member.token, artifact.id);
    const seq = await lastSeq(t);
    expect((await t.http(member.token).patch(`/api/v1/artifacts/${artifact.id}`).send({ labels: ['weekly'], classification: 'public' })).status).toBe(403);
    expect((await t.http(member.token).patch(`/api/v1/artifacts/${artifact.id}`).send({ labels: ['weekly'] })).status).toBe(200);
    expect((await t.http(member.token).put(`/api/v1/artifacts/${artifact.id}/content`).send({ format: 'markdown', body: 'clean' })).status).toBe(200);
    expect((await view(link.token)).status).toBe(200);
    expect(await systemRevocations(seq)).toEqual([]);
  });
});

describe('a new bundle', () => {
  it('revokes on activation exactly the links its dry run lists, for every shape of rule', async () => {
    expect((await putYaml(PERMISSIVE)).status).toBe(200);
    const make = async (artifact: Record<string, unknown>, share: Record<string, unknown>, as = member) => {
      const a = await createArtifact(t, as.token, artifact);
      return { artifactId: a.id, share: await createShare(t, as.token, a.id, share) };
    };
    const day = 86_400;
    const doomed = [
      await make({ classification: 'confidential' }, { audience: 'org' }),
      await make({ labels: ['embargoed'] }, { audience: 'link', expiresInSeconds: day }),
      await make({ content: { format: 'markdown', body: FAKE_SECRET } }, { audience: 'link', expiresInSeconds: day }),
      await make({ teamId }, { audience: 'team' }),
      await make({}, { audience: 'link', expiresInSeconds: 20 * day }),
    ];
    const kept = [
      await make({}, { audience: 'link', expiresInSeconds: day }),
      await make({ labels: ['weekly'] }, { audience: 'org' }),
      await make({ content: { format: 'markdown', body: FAKE_SECRET } }, { audience: 'org' }),
      await make({ content: { format: 'markdown', body: 'clean' }, classification: 'public' }, { audience: 'link', expiresInSeconds: 7 * day }),
    ];

    const dry = await putYaml(STRICT, '?dryRun=true');
    expect(dry.status).toBe(200);
    const listed = new Map<string, string | null>(dry.body.wouldDeny.map((d: { shareId: string; ruleId: string | null }) => [d.shareId, d.ruleId]));
    const doomedIds = doomed.map((d) => d.share.id);
    for (const id of doomedIds) expect(listed.has(id)).toBe(true);
    for (const k of kept) expect(listed.has(k.share.id)).toBe(false);
    expect([...listed.entries()].filter(([id]) => doomedIds.includes(id)).map(([, rule]) => rule).sort()).toEqual(
      ['confidential-not-org-wide', 'embargoed-stays-in', 'links-within-a-week', 'no-links-with-secrets', 'no-team-shares'].sort(),
    );
    // The dry run changed nothing.
    for (const d of doomed) expect((await shareOf(d.artifactId, d.share.id)).state).toBe('valid');

    const seq = await lastSeq(t);
    const heard = revocations.length;
    const put = await putYaml(STRICT);
    expect(put.status).toBe(200);
    const revoked = await systemRevocations(seq);
    expect(new Set(revoked.map((e) => e.resource_id))).toEqual(new Set(listed.keys()));
    expect(revoked.every((e) => e.policy_version === String(put.body.version) && e.policy_rule_id === listed.get(e.resource_id!))).toBe(true);
    expect(new Set(revocations.slice(heard).map((e) => e.shareId))).toEqual(new Set(listed.keys()));
    for (const d of doomed) expect((await shareOf(d.artifactId, d.share.id)).revokedReason).toContain(listed.get(d.share.id)!);
    for (const k of kept) expect((await shareOf(k.artifactId, k.share.id)).state).toBe('valid');
    expect((await view(doomed[1]!.share.token)).status).toBe(410);
    expect((await view(kept[0]!.share.token)).status).toBe(200);

    // Rolling back to the permissive version brings no link back; rolling forward again re-checks links made meanwhile.
    const permissive = put.body.version - 1;
    expect((await t.http(admin).post(`/api/v1/policies/versions/${permissive}/activate`)).status).toBe(200);
    expect((await shareOf(doomed[0]!.artifactId, doomed[0]!.share.id)).state).toBe('revoked');
    const later = await make({ labels: ['embargoed'] }, { audience: 'link', expiresInSeconds: day });
    const dryAgain = await putYaml(STRICT, '?dryRun=true');
    expect(dryAgain.body.wouldDeny.map((d: { shareId: string }) => d.shareId)).toEqual([later.share.id]);
    const before = await lastSeq(t);
    expect((await t.http(admin).post(`/api/v1/policies/versions/${put.body.version}/activate`)).status).toBe(200);
    expect((await systemRevocations(before)).map((e) => e.resource_id)).toEqual([later.share.id]);
    expect((await putYaml(DEFAULT_SOURCE)).status).toBe(200);
  });
});

describe('lockout', () => {
  const withoutAdminPolicyRule = DEFAULT_SOURCE.replace(/  - id: admins-manage-policies\n(    .*\n)+/, '');

  it('refuses a bundle under which no admin could change policy again, on PUT and on the dry run', async () => {
    expect(withoutAdminPolicyRule).not.toBe(DEFAULT_SOURCE);
    const before = (await t.http(admin).get('/api/v1/policies')).body.version;
    for (const query of ['', '?dryRun=true']) {
      const res = await putYaml(withoutAdminPolicyRule, query);
      expectProblem(res, 409, 'policy_lockout');
      expect(res.body.detail).toMatch(/no rule allows the admin role to update Policy/);
    }
    const denied = await putYaml(`${DEFAULT_SOURCE}
  - id: freeze-policy
    effect: deny
    actions: [update]
    subject: Policy
    reason: Policy is frozen
`);
    expectProblem(denied, 409, 'policy_lockout');
    expect(denied.body.detail).toContain('freeze-policy');
    expect((await t.http(admin).get('/api/v1/policies')).body.version).toBe(before);
  });

  it('refuses to roll back to a stored version that would lock the org out', async () => {
    // Stored before lockouts were refused: written to the table as an older release would have.
    const [{ next }] = await t.db.query('SELECT max(version) + 1 AS next FROM policy_versions WHERE org_id = $1', [orgId]);
    await t.db.query(`INSERT INTO policy_versions (id, org_id, version, hash, source, parent_version, created_by) VALUES (gen_random_uuid(), $1, $2, $3, $4, NULL, NULL)`, [
      orgId,
      next,
      'f'.repeat(64),
      withoutAdminPolicyRule,
    ]);
    const before = (await t.http(admin).get('/api/v1/policies')).body.version;
    expectProblem(await t.http(admin).post(`/api/v1/policies/versions/${next}/activate`), 409, 'policy_lockout');
    expect((await t.http(admin).get('/api/v1/policies')).body.version).toBe(before);
  });
});

describe('declassify', () => {
  it('stops a confidential artifact from being laundered through a remix: the PATCH lowering it is denied', async () => {
    const secret = await createArtifact(t, colleague.token, { classification: 'confidential', content: { format: 'markdown', body: 'the merger is on' } });
    expectProblem(await t.http(member.token).post(`/api/v1/artifacts/${secret.id}/shares`).send({ audience: 'link', expiresInSeconds: 3600 }), 403, 'policy_denied');
    const copy = await t.http(member.token).post(`/api/v1/artifacts/${secret.id}/remix`).send({});
    expect(copy.status).toBe(201);
    expect(copy.body.classification).toBe('confidential');
    const lowered = await t.http(member.token).patch(`/api/v1/artifacts/${copy.body.id}`).send({ classification: 'public' });
    expectProblem(lowered, 403, 'policy_denied');
    expect(lowered.body.policy.ruleId).toBe('only-admins-declassify');
    expect(lowered.body.detail).toMatch(/admin/);
    expect((await t.http(member.token).get(`/api/v1/artifacts/${copy.body.id}`)).body.classification).toBe('confidential');
    expectProblem(await t.http(member.token).post(`/api/v1/artifacts/${copy.body.id}/shares`).send({ audience: 'link', expiresInSeconds: 3600 }), 403, 'policy_denied');
  });

  it('lets a member raise a classification (update), and an admin lower it (declassify)', async () => {
    const artifact = await createArtifact(t, member.token);
    expect((await t.http(member.token).patch(`/api/v1/artifacts/${artifact.id}`).send({ classification: 'restricted' })).status).toBe(200);
    expectProblem(await t.http(member.token).patch(`/api/v1/artifacts/${artifact.id}`).send({ classification: 'confidential' }), 403, 'policy_denied');
    const byAdmin = await t.http(admin).patch(`/api/v1/artifacts/${artifact.id}`).send({ classification: 'public' });
    expect(byAdmin.status).toBe(200);
    expect(byAdmin.body.classification).toBe('public');
    // A denied declassification changes nothing, the title sent with it included.
    expect((await t.http(member.token).patch(`/api/v1/artifacts/${artifact.id}`).send({ classification: 'internal' })).status).toBe(200);
    expectProblem(await t.http(member.token).patch(`/api/v1/artifacts/${artifact.id}`).send({ title: 'Renamed', classification: 'public' }), 403, 'policy_denied');
    expect((await t.http(member.token).get(`/api/v1/artifacts/${artifact.id}`)).body).toEqual(expect.objectContaining({ title: 'Release notes', classification: 'internal' }));
  });
});
