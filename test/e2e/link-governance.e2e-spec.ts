import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { adminToken, createArtifact, createMember, expectProblem, type TestMember } from '../helpers/factories.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

// Links follow policy: what a link may serve is decided again whenever what policy looked at changes.
let t: TestApp;
let admin: string;
let member: TestMember;
let colleague: TestMember;

beforeAll(async () => {
  t = await createTestApp();
  admin = await adminToken(t);
  member = await createMember(t, admin, 'member');
  colleague = await createMember(t, admin, 'member');
});
afterAll(() => t.close());

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
