import { randomBytes } from 'node:crypto';
import { expect } from '@jest/globals';
import type { Role } from '../../src/identity/member.entity.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, type TestApp } from './test-app.js';

export async function tokenFor(t: TestApp, email: string, password: string, name = 'test'): Promise<string> {
  const res = await t.http().post('/api/v1/auth/token').send({ email, password, name });
  expect(res.status).toBe(201);
  return res.body.token as string;
}

export function adminToken(t: TestApp): Promise<string> {
  return tokenFor(t, ADMIN_EMAIL, ADMIN_PASSWORD);
}

export interface TestMember {
  id: string;
  email: string;
  password: string;
  role: Role;
  token: string;
}

/** A member of the admin's org, with a token of their own. */
export async function createMember(t: TestApp, asAdmin: string, role: Role, extra: { teamIds?: string[] } = {}): Promise<TestMember> {
  const email = `${role}-${randomBytes(4).toString('hex')}@test.local`;
  const password = `pw-${randomBytes(8).toString('hex')}`;
  const res = await t.http(asAdmin).post('/api/v1/members').send({ email, name: `A ${role}`, password, role, ...extra });
  expect(res.status).toBe(201);
  return { id: res.body.id, email, password, role, token: await tokenFor(t, email, password) };
}

export async function createTeam(t: TestApp, asAdmin: string, name = `team-${randomBytes(4).toString('hex')}`): Promise<{ id: string; name: string }> {
  const res = await t.http(asAdmin).post('/api/v1/teams').send({ name });
  expect(res.status).toBe(201);
  return res.body;
}

/** Another org with its own admin, created by the installation admin. */
export async function createOrg(t: TestApp, installationAdmin: string): Promise<{ id: string; adminToken: string; adminId: string }> {
  const suffix = randomBytes(4).toString('hex');
  const admin = { email: `admin-${suffix}@other.test`, name: 'Other admin', password: `pw-${suffix}-other` };
  const res = await t.http(installationAdmin).post('/api/v1/orgs').send({ name: `org-${suffix}`, admin });
  expect(res.status).toBe(201);
  return { id: res.body.id, adminId: res.body.admin.id, adminToken: await tokenFor(t, admin.email, admin.password) };
}

export function expectProblem(res: { status: number; headers: Record<string, string>; body: Record<string, unknown> }, status: number, code: string): void {
  expect({ status: res.status, code: res.body.code }).toEqual({ status, code });
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.body).toEqual(expect.objectContaining({ type: expect.any(String), title: expect.any(String), status, detail: expect.any(String), requestId: expect.any(String) }));
}

/** A tool and a skill that uses it, so runs have something to name. */
export async function createSkill(t: TestApp, token: string, name = `skill-${randomBytes(3).toString('hex')}`, version = '1.0.0', risk: 'low' | 'medium' | 'high' = 'low') {
  const tool = `tool-${randomBytes(3).toString('hex')}`;
  expect((await t.http(token).post('/api/v1/tools').send({ name: tool, description: 'a tool', risk })).status).toBe(201);
  const res = await t.http(token).post('/api/v1/skills').send({ name, version, description: 'a skill', tools: [tool] });
  expect(res.status).toBe(201);
  return res.body as { id: string; name: string; version: string };
}

/** A run of `nodes` (key → dependencies) on one skill. */
export async function createRun(t: TestApp, token: string, skill: string, nodes: Record<string, string[]>, extra: Record<string, unknown> = {}) {
  const res = await t
    .http(token)
    .post('/api/v1/runs')
    .send({ title: 'a run', nodes: Object.entries(nodes).map(([key, dependsOn]) => ({ key, skill, dependsOn })), ...extra });
  expect(res.status).toBe(201);
  return res.body as { id: string; reporterToken: string; lastSeq: number; nodes: { key: string; status: string }[] };
}

export interface TestArtifact {
  id: string;
  title: string;
  revision: number;
  ownerId: string;
  containsSecrets: boolean;
  private: boolean;
  remixedFrom: { artifactId: string; revision: number } | null;
}

/** An artifact with a small markdown body, unless `extra` says otherwise. */
export async function createArtifact(t: TestApp, token: string, extra: Record<string, unknown> = {}): Promise<TestArtifact> {
  const res = await t
    .http(token)
    .post('/api/v1/artifacts')
    .send({ title: 'Release notes', kind: 'explainer', content: { format: 'markdown', body: '# Hello\n\nIt works.' }, ...extra });
  expect(res.status).toBe(201);
  return res.body as TestArtifact;
}

/** A share of the artifact; a link for a day unless `body` says otherwise. */
export async function createShare(t: TestApp, token: string, artifactId: string, body: Record<string, unknown> = { audience: 'link', expiresInSeconds: 86_400 }) {
  const res = await t.http(token).post(`/api/v1/artifacts/${artifactId}/shares`).send(body);
  expect(res.status).toBe(201);
  return res.body as { id: string; token: string; url: string; audience: string; revision: number | null; expiresAt: string | null };
}

/** A credential-looking line the secret scan flags, built at run time so the repository itself holds none. */
export const FAKE_SECRET = `aws_access_key_id = ${'AKIA'}${'Z7QX2M4K9PLR3TWB'}`;
