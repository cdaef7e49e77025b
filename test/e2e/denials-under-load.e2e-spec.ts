import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { auditRows, lastSeq } from '../helpers/audit.js';
import { adminToken, createArtifact, createMember, type TestMember } from '../helpers/factories.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
let orgId: string;
let member: TestMember;

beforeAll(async () => {
  t = await createTestApp();
  const admin = await adminToken(t);
  orgId = (await t.http(admin).get('/api/v1/me')).body.orgId;
  member = await createMember(t, admin, 'member');
});
afterAll(() => t.close());

describe('denials under load', () => {
  it('answers three times the pool size of concurrent denied publishes with 403 each, every denial audited once', async () => {
    const pool = t.db.options.poolSize!;
    const burst = 3 * pool;
    const artifact = await createArtifact(t, member.token, { classification: 'confidential' });
    const seq = await lastSeq(t);
    const answers = await Promise.all(
      Array.from({ length: burst }, () => t.http(member.token).post(`/api/v1/artifacts/${artifact.id}/shares`).send({ audience: 'link', expiresInSeconds: 3600 })),
    );
    expect(answers.map((a) => `${a.status} ${a.body.code}`)).toEqual(Array(burst).fill('403 policy_denied'));
    const denials = (await auditRows(t, orgId, seq)).filter((e) => e.action === 'artifact.publish' && e.outcome === 'denied');
    expect(denials.map((e) => e.request_id).sort()).toEqual(answers.map((a) => a.body.requestId).sort());
    expect(denials.every((e) => e.resource_id === artifact.id && e.policy_rule_id === 'confidential-stays-in-team-or-org')).toBe(true);
  });

  it('audits a denial by the route guard once, too', async () => {
    const seq = await lastSeq(t);
    const answers = await Promise.all(Array.from({ length: 10 }, () => t.http(member.token).get('/api/v1/audit')));
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(403));
    const denials = (await auditRows(t, orgId, seq)).filter((e) => e.action === 'audit.read' && e.outcome === 'denied');
    expect(denials.map((e) => e.request_id).sort()).toEqual(answers.map((a) => a.body.requestId).sort());
  });
});
