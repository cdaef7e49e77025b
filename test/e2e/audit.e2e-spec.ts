import { createHash, createPublicKey, verify as verifySignature } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import canonicalize from 'canonicalize';
import { canonicalEvent, canonicalEventPrefix } from '../../src/audit/audit-event.js';
import { AuditService, EVENT_COLUMNS, eventFromRow } from '../../src/audit/audit.service.js';
import { verifyExport } from '../../src/audit/export-verifier.js';
import { auditRows, lastSeq, tamper } from '../helpers/audit.js';
import { adminToken, createArtifact, createMember, createOrg, createShare, createTeam, expectProblem, tokenFor, type TestMember } from '../helpers/factories.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, createTestApp, type TestApp } from '../helpers/test-app.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

let t: TestApp;
let admin: string;
let orgId: string;
let auditor: TestMember;
let member: TestMember;

beforeAll(async () => {
  t = await createTestApp();
  admin = await adminToken(t);
  orgId = (await t.http(admin).get('/api/v1/me')).body.orgId;
  auditor = await createMember(t, admin, 'auditor');
  member = await createMember(t, admin, 'member');
});
afterAll(() => t.close());

/** Runs a step and returns the events it appended to the org's log. */
async function eventsOf(step: () => Promise<unknown>, org = orgId) {
  const before = await lastSeq(t);
  await step();
  return auditRows(t, org, before);
}

const summary = (rows: { action: string; outcome: string }[]) => rows.map((r) => `${r.action}:${r.outcome}`);

/** An org of its own with a few events, so tampering with it leaves the other tests' chains alone. */
async function orgWithEvents(teams = 4) {
  const org = await createOrg(t, admin);
  for (let i = 0; i < teams; i++) await createTeam(t, org.adminToken);
  const verified = await t.http(org.adminToken).get('/api/v1/audit/verify');
  expect(verified.body).toEqual(expect.objectContaining({ ok: true }));
  const rows = await auditRows(t, org.id);
  return { ...org, rows };
}

describe('one event per change', () => {
  it('records members created, changed and deactivated, each citing the rule that allowed it', async () => {
    const email = 'audited-member@test.local';
    let id = '';
    const created = await eventsOf(async () => {
      const res = await t.http(admin).post('/api/v1/members').send({ email, name: 'Aud Ited', password: 'a-long-password', role: 'member' });
      id = res.body.id;
    });
    expect(summary(created)).toEqual(['member.create:allowed']);
    expect(created[0]).toEqual(
      expect.objectContaining({ resource_type: 'Member', resource_id: id, policy_version: expect.any(String), policy_rule_id: expect.any(String) }),
    );
    expect(created[0]!.details).toEqual({ email, role: 'member', teamIds: [] });

    const changed = await eventsOf(() => t.http(admin).patch(`/api/v1/members/${id}`).send({ role: 'viewer', password: 'another-long-password' }));
    expect(summary(changed)).toEqual(['member.update:allowed']);
    expect(changed[0]!.details).toEqual({ changed: ['password', 'role'], role: { from: 'member', to: 'viewer' } });

    const removed = await eventsOf(() => t.http(admin).delete(`/api/v1/members/${id}`));
    expect(summary(removed)).toEqual(['member.delete:allowed']);
  });

  it('records teams created, renamed and deleted', async () => {
    let id = '';
    expect(summary(await eventsOf(async () => (id = (await createTeam(t, admin, 'audited team')).id)))).toEqual(['team.create:allowed']);
    const renamed = await eventsOf(() => t.http(admin).patch(`/api/v1/teams/${id}`).send({ name: 'renamed team' }));
    expect(summary(renamed)).toEqual(['team.update:allowed']);
    expect(renamed[0]!.details).toEqual({ name: { from: 'audited team', to: 'renamed team' } });
    expect(summary(await eventsOf(() => t.http(admin).delete(`/api/v1/teams/${id}`)))).toEqual(['team.delete:allowed']);
  });

  it('records artifacts, revisions, shares made and revoked, and remixes; never a share token', async () => {
    let id = '';
    expect(summary(await eventsOf(async () => (id = (await createArtifact(t, member.token)).id)))).toEqual(['artifact.create:allowed']);
    const revised = await eventsOf(() => t.http(member.token).put(`/api/v1/artifacts/${id}/content`).send({ format: 'markdown', body: 'v2', message: 'second' }));
    expect(summary(revised)).toEqual(['artifact.update:allowed']);
    expect(revised[0]!.details).toEqual(expect.objectContaining({ revision: 2, format: 'markdown', message: 'second' }));
    expect(summary(await eventsOf(() => t.http(member.token).patch(`/api/v1/artifacts/${id}`).send({ labels: ['audited'] })))).toEqual(['artifact.update:allowed']);
    let share = { id: '', token: '' };
    const published = await eventsOf(async () => (share = await createShare(t, member.token, id)));
    expect(summary(published)).toEqual(['artifact.publish:allowed']);
    expect(published[0]!.details).toEqual(expect.objectContaining({ shareId: share.id, audience: 'link', revision: null }));
    expect(JSON.stringify(published)).not.toContain(share.token);
    expect(summary(await eventsOf(() => t.http(admin).post(`/api/v1/artifacts/${id}/remix`).send({})))).toEqual(['artifact.remix:allowed']);
    expect(summary(await eventsOf(() => t.http(member.token).delete(`/api/v1/shares/${share.id}`)))).toEqual(['share.revoke:allowed']);
    const denied = await eventsOf(() => t.http(member.token).post(`/api/v1/artifacts/${id}/shares`).send({ audience: 'link' }));
    expect(denied.map((e) => [e.action, e.outcome, e.policy_rule_id])).toEqual([['artifact.publish', 'denied', 'links-must-expire']]);
  });

  it('records tokens created and revoked (a second revoke is no change), never the token itself', async () => {
    let token = '';
    const viaPassword = await eventsOf(async () => (token = await tokenFor(t, ADMIN_EMAIL, ADMIN_PASSWORD, 'audited')));
    expect(summary(viaPassword)).toEqual(['token.create:allowed']);
    let id = '';
    const viaApi = await eventsOf(async () => (id = (await t.http(token).post('/api/v1/tokens').send({ name: 'second' })).body.id));
    expect(summary(viaApi)).toEqual(['token.create:allowed']);
    expect(viaApi[0]).toEqual(expect.objectContaining({ resource_type: 'Token', resource_id: id }));
    expect(summary(await eventsOf(() => t.http(token).delete(`/api/v1/tokens/${id}`)))).toEqual(['token.revoke:allowed']);
    expect(await eventsOf(() => t.http(token).delete(`/api/v1/tokens/${id}`))).toEqual([]);
  });

  it('records logins, failed logins of known members and logouts', async () => {
    const login = (password: string, email = member.email) => t.http().post('/api/v1/auth/login').send({ email, password });
    let cookie = '';
    const ok = await eventsOf(async () => (cookie = String((await login(member.password)).headers['set-cookie']).split(';')[0]!));
    expect(summary(ok)).toEqual(['auth.login:allowed']);
    expect(ok[0]).toEqual(expect.objectContaining({ actor_type: 'user', actor_id: member.id }));

    const failed = await eventsOf(() => login('wrong-password'));
    expect(summary(failed)).toEqual(['auth.login:denied']);
    expect(failed[0]).toEqual(expect.objectContaining({ actor_type: 'public', resource_id: member.id, reason: 'wrong password' }));
    // An unknown email belongs to no org, so no org's log records it.
    const before = await lastSeq(t);
    await login('x', 'nobody@test.local');
    expect(await lastSeq(t)).toBe(before);

    const out = await eventsOf(() => t.http().post('/api/v1/auth/logout').set('Cookie', cookie).set('Sec-Fetch-Site', 'same-origin'));
    expect(summary(out)).toEqual(['auth.logout:allowed']);
  });

  it('records policy versions and activations, and not a re-sent bundle', async () => {
    const source = readFileSync(path.join(root, 'policies/default.yaml'), 'utf8') + '\n# audited\n';
    const put = () => t.http(admin).put('/api/v1/policies').set('Content-Type', 'application/yaml').send(source);
    const updated = await eventsOf(put);
    expect(summary(updated)).toEqual(['policy.update:allowed']);
    expect(await eventsOf(put)).toEqual([]);
    const activated = await eventsOf(() => t.http(admin).post('/api/v1/policies/versions/1/activate'));
    expect(summary(activated)).toEqual(['policy.activate:allowed']);
    expect(activated[0]).toEqual(expect.objectContaining({ resource_type: 'Policy', resource_id: '1' }));
  });

  it('starts a new org\'s log with its creation', async () => {
    const before = await lastSeq(t);
    const org = await createOrg(t, admin);
    const rows = await auditRows(t, org.id, before);
    expect(summary(rows).slice(0, 2)).toEqual(['org.create:allowed', 'token.create:allowed']);
    expect(rows[0]).toEqual(expect.objectContaining({ actor_type: 'user', resource_type: 'Org', resource_id: org.id }));
  });

  it('records a denied request in its own right, with the deciding rule and reason', async () => {
    const viewer = await createMember(t, admin, 'viewer');
    const denied = await eventsOf(() => t.http(viewer.token).post('/api/v1/teams').send({ name: 'not allowed' }));
    expect(summary(denied)).toEqual(['team.create:denied']);
    expect(denied[0]).toEqual(expect.objectContaining({ actor_id: viewer.id, reason: expect.any(String), policy_version: expect.any(String) }));
    const forbiddenRead = await eventsOf(() => t.http(member.token).get('/api/v1/audit'));
    expect(summary(forbiddenRead)).toEqual(['audit.read:denied']);
  });

  it('records nothing for reads, and nothing for a change that was refused or rolled back', async () => {
    expect(await eventsOf(() => t.http(admin).get('/api/v1/members'))).toEqual([]);
    expect(await eventsOf(() => t.http(admin).post('/api/v1/members').send({ email: member.email, name: 'Dup', password: 'a-long-password', role: 'member' }))).toEqual([]);
    const other = await createOrg(t, admin);
    const foreignTeam = await createTeam(t, other.adminToken);
    expect(
      await eventsOf(() =>
        t.http(admin).post('/api/v1/members').send({ email: 'new@test.local', name: 'N', password: 'a-long-password', role: 'member', teamIds: [foreignTeam.id] }),
      ),
    ).toEqual([]);
    // The last admin cannot be demoted: the change and its event roll back together.
    const me = (await t.http(other.adminToken).get('/api/v1/me')).body;
    const demote = await eventsOf(() => t.http(other.adminToken).patch(`/api/v1/members/${me.id}`).send({ role: 'viewer' }), other.id);
    expect(demote).toEqual([]);
  });

  it('gives each event the request it came from, also where no token or session names the actor', async () => {
    const as = (id: string) => ({ 'X-Request-Id': id, 'User-Agent': `agent-${id}` });
    const steps: [string, () => Promise<unknown>][] = [
      ['login', () => t.http().post('/api/v1/auth/login').set(as('login')).send({ email: member.email, password: member.password })],
      ['login-failed', () => t.http().post('/api/v1/auth/login').set(as('login-failed')).send({ email: member.email, password: 'wrong-password' })],
      ['token-by-password', () => t.http().post('/api/v1/auth/token').set(as('token-by-password')).send({ email: member.email, password: member.password, name: 'ctx' })],
      ['token-by-token', () => t.http(member.token).post('/api/v1/tokens').set(as('token-by-token')).send({ name: 'ctx 2' })],
      ['denied', () => t.http(auditor.token).post('/api/v1/teams').set(as('denied')).send({ name: 'not mine to make' })],
    ];
    const artifact = await createArtifact(t, member.token);
    const share = await createShare(t, member.token, artifact.id);
    steps.push(['share-view', () => t.http().get(`/s/${share.token}`).set(as('share-view'))]);
    steps.push(['share-content-view', () => t.http().get(`/s/${share.token}/content`).set(as('share-content-view'))]);
    const cookie = String((await t.http().post('/api/v1/auth/login').send({ email: member.email, password: member.password })).headers['set-cookie']).split(';')[0]!;
    steps.push(['logout', () => t.http().post('/api/v1/auth/logout').set(as('logout')).set('Cookie', cookie).set('Sec-Fetch-Site', 'same-origin')]);
    for (const [id, step] of steps) {
      const rows = await eventsOf(step);
      expect([id, rows.map((r) => r.request_id)]).toEqual([id, [id]]);
      const [{ user_agent: userAgent }] = await t.db.query('SELECT user_agent FROM audit_events WHERE seq = $1', [rows[0]!.seq]);
      expect(userAgent).toBe(`agent-${id}`);
    }
  });

  it('carries the request context and no secrets', async () => {
    const rows = await eventsOf(() => t.http(admin).post('/api/v1/teams').set('User-Agent', 'audit-test/1.0').set('X-Request-Id', 'req-audit-ctx').send({ name: 'ctx' }));
    const [event] = (await t.http(auditor.token).get('/api/v1/audit').query({ resourceId: rows[0]!.resource_id })).body.items;
    expect(event.context).toEqual({ ip: expect.stringContaining('127.0.0.1'), userAgent: 'audit-test/1.0', requestId: 'req-audit-ctx' });
    const all: { text: string }[] = await t.db.query(`SELECT row_to_json(e)::text AS text FROM audit_events e`);
    for (const { text } of all) {
      expect(text).not.toMatch(/vtr_(pat|ses)_/);
      expect(text).not.toContain(ADMIN_PASSWORD);
      expect(text).not.toContain(member.password);
    }
  });
});

describe('append-only', () => {
  it('refuses UPDATE, DELETE and TRUNCATE at the database level', async () => {
    // Seal first, so audit_blocks has rows for the row-level triggers to refuse.
    await t.http(auditor.token).get('/api/v1/audit/verify');
    for (const sql of ['UPDATE audit_events SET reason = $$x$$', 'DELETE FROM audit_events', 'TRUNCATE audit_events', 'DELETE FROM audit_blocks', 'UPDATE audit_blocks SET at = now()']) {
      await expect(t.db.query(sql)).rejects.toThrow(/append-only/);
    }
    expect((await t.http(auditor.token).get('/api/v1/audit/verify')).body.ok).toBe(true);
  });
});

describe('tamper evidence', () => {
  it('verifies an untouched chain, reporting its head', async () => {
    const org = await orgWithEvents();
    const res = await t.http(org.adminToken).get('/api/v1/audit/verify');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ok: true, checked: org.rows.length, blocks: expect.any(Number), head: { seq: expect.any(Number), hash: expect.stringMatching(/^[0-9a-f]{64}$/) } });
    expect(res.body.head.seq).toBe(org.rows[org.rows.length - 1]!.seq);
  });

  it('names an altered event', async () => {
    const org = await orgWithEvents();
    const target = org.rows[2]!;
    await tamper(t, `UPDATE audit_events SET details = '{"name":"forged"}' WHERE seq = $1`, [target.seq]);
    const res = await t.http(org.adminToken).get('/api/v1/audit/verify');
    expect(res.body).toEqual(expect.objectContaining({ ok: false, firstInvalid: { seq: target.seq, reason: expect.stringMatching(/^altered/) } }));
  });

  it('names an altered event even when its hash was recomputed to match', async () => {
    const org = await orgWithEvents();
    const target = org.rows[1]!;
    const [row] = await t.db.query(`SELECT ${EVENT_COLUMNS} FROM audit_events e WHERE seq = $1`, [target.seq]);
    const { hash: _stored, ...event } = eventFromRow(row);
    const forged = { ...event, actor: { ...event.actor, name: 'Someone else' } };
    const hash = createHash('sha256').update(canonicalEvent(forged)).digest();
    await tamper(t, `UPDATE audit_events SET actor_name = 'Someone else', hash = $2 WHERE seq = $1`, [target.seq, hash]);
    const res = await t.http(org.adminToken).get('/api/v1/audit/verify');
    expect(res.body.firstInvalid).toEqual({ seq: target.seq, reason: expect.stringMatching(/differs from the one block \d+ sealed/) });
  });

  it('names a deleted event', async () => {
    const org = await orgWithEvents();
    const target = org.rows[3]!;
    await tamper(t, `DELETE FROM audit_events WHERE seq = $1`, [target.seq]);
    const res = await t.http(org.adminToken).get('/api/v1/audit/verify');
    expect(res.body.firstInvalid).toEqual({ seq: target.seq, reason: expect.stringMatching(/^missing/) });
  });

  it('names two events whose contents were swapped', async () => {
    const org = await orgWithEvents();
    const [a, b] = [org.rows[1]!, org.rows[2]!];
    const columns = ['at', 'actor_type', 'actor_id', 'actor_name', 'action', 'resource_type', 'resource_id', 'outcome', 'reason', 'details', 'hash'];
    await tamper(
      t,
      `UPDATE audit_events e SET ${columns.map((c) => `${c} = o.${c}`).join(', ')}
         FROM audit_events o WHERE (e.seq = $1 AND o.seq = $2) OR (e.seq = $2 AND o.seq = $1)`,
      [a.seq, b.seq],
    );
    const res = await t.http(org.adminToken).get('/api/v1/audit/verify');
    expect(res.body.firstInvalid).toEqual({ seq: a.seq, reason: expect.stringMatching(/^altered/) });
  });

  it('names an event inserted behind the seal, with a well-formed hash', async () => {
    const org = await orgWithEvents(1);
    // A seq drawn and never used, as a rolled-back change leaves one.
    const [{ gap }] = await t.db.query(`SELECT nextval('audit_events_seq')::int AS gap`);
    await createTeam(t, org.adminToken);
    expect((await t.http(org.adminToken).get('/api/v1/audit/verify')).body.ok).toBe(true);
    const forged = {
      id: '0195f0a0-7b7e-7000-8000-00000000f00d',
      orgId: org.id,
      at: new Date().toISOString(),
      actor: { type: 'system' as const, id: null, name: 'Vitrine' },
      action: 'policy.activate',
      resource: { type: 'Policy', id: '1' },
      outcome: 'allowed' as const,
      reason: null,
      policy: null,
      context: { ip: null, userAgent: null, requestId: null },
      details: {},
    };
    const hash = createHash('sha256').update(`${canonicalEventPrefix(forged)}${gap}}`).digest();
    await tamper(
      t,
      `INSERT INTO audit_events (seq, id, org_id, at, actor_type, actor_name, action, resource_type, resource_id, outcome, details, hash)
       VALUES ($1, $2, $3, $4, 'system', 'Vitrine', 'policy.activate', 'Policy', '1', 'allowed', '{}', $5)`,
      [gap, forged.id, org.id, forged.at, hash],
    );
    const res = await t.http(org.adminToken).get('/api/v1/audit/verify');
    expect(res.body.firstInvalid).toEqual({ seq: gap, reason: expect.stringMatching(/^inserted/) });
  });

  it('names an event inserted into a sealed block\'s range', async () => {
    const org = await orgWithEvents(2);
    const [{ gap }] = await t.db.query(`SELECT nextval('audit_events_seq')::int AS gap`);
    const [{ xid }] = await t.db.query(`SELECT xid::text FROM audit_events WHERE seq = $1`, [org.rows[1]!.seq]);
    await tamper(
      t,
      `INSERT INTO audit_events (seq, id, org_id, at, actor_type, action, resource_type, outcome, details, hash, xid)
       SELECT $1, '0195f0a0-7b7e-7000-8000-00000000beef', $2, now(), 'system', 'team.delete', 'Team', 'allowed', '{}', sha256('x'), $3::xid8`,
      [gap, org.id, xid],
    );
    const res = await t.http(org.adminToken).get('/api/v1/audit/verify');
    expect(res.body.firstInvalid).toEqual({ seq: gap, reason: expect.stringMatching(/^inserted/) });
  });

  it('detects a forged block', async () => {
    const org = await orgWithEvents(1);
    await createTeam(t, org.adminToken);
    await t.http(org.adminToken).get('/api/v1/audit/verify');
    await tamper(t, `UPDATE audit_blocks SET signature = decode(repeat('00', 64), 'hex') WHERE org_id = $1 AND block_no = 1`, [org.id]);
    const res = await t.http(org.adminToken).get('/api/v1/audit/verify');
    expect(res.body).toEqual(expect.objectContaining({ ok: false, firstInvalid: { seq: expect.any(Number), reason: 'block 1: its signature is invalid' } }));
  });

  it('keeps the chain valid under 20 concurrent writers', async () => {
    const org = await createOrg(t, admin);
    const before = await auditRows(t, org.id);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => t.http(org.adminToken).post('/api/v1/teams').send({ name: `parallel ${i}` })));
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(201));
    const res = await t.http(org.adminToken).get('/api/v1/audit/verify');
    const after = await auditRows(t, org.id);
    // The 20 teams, and the org's default policy, made on its first decision.
    expect(summary(after.slice(before.length)).sort()).toEqual(['policy.update:allowed', ...Array(20).fill('team.create:allowed')]);
    expect(res.body).toEqual(expect.objectContaining({ ok: true, checked: after.length }));
  });
});

describe('checkpoints', () => {
  it('signs each block head with the published Ed25519 key', async () => {
    await t.http(admin).get('/api/v1/audit/verify');
    const key = await t.http(auditor.token).get('/api/v1/audit/public-key');
    expect(key.body).toEqual({ algorithm: 'Ed25519', publicKey: expect.stringContaining('BEGIN PUBLIC KEY'), keyId: expect.any(String) });
    const res = await t.http(auditor.token).get('/api/v1/audit/checkpoints').query({ limit: 3 });
    expect(res.status).toBe(200);
    expect(res.body.items.length).toBeGreaterThan(0);
    const publicKey = createPublicKey(key.body.publicKey);
    for (const c of res.body.items) {
      expect(c.orgId).toBe(orgId);
      const message = Buffer.from(canonicalize({ orgId: c.orgId, seq: c.seq, hash: c.hash, at: c.at })!);
      expect(verifySignature(null, message, publicKey, Buffer.from(c.signature, 'base64'))).toBe(true);
      expect(verifySignature(null, Buffer.from(canonicalize({ ...c, seq: c.seq + 1 })!), publicKey, Buffer.from(c.signature, 'base64'))).toBe(false);
    }
    const heads = res.body.items.map((c: { blockNo: number }) => c.blockNo);
    expect(heads).toEqual([...heads].sort((a, b) => b - a));
  });
});

describe('query', () => {
  it('filters by actor, action, resource, outcome and time, newest first', async () => {
    const get = (query: Record<string, string>) => t.http(auditor.token).get('/api/v1/audit').query({ limit: '500', ...query });
    const byAction = (await get({ action: 'team.create' })).body.items;
    expect(byAction.length).toBeGreaterThan(0);
    expect(byAction.every((e: { action: string }) => e.action === 'team.create')).toBe(true);
    const byActor = (await get({ actorId: member.id })).body.items;
    expect(byActor.length).toBeGreaterThan(0);
    expect(byActor.every((e: { actor: { id: string } }) => e.actor.id === member.id)).toBe(true);
    const denied = (await get({ outcome: 'denied' })).body.items;
    expect(denied.length).toBeGreaterThan(0);
    expect(denied.every((e: { outcome: string }) => e.outcome === 'denied')).toBe(true);
    const byType = (await get({ resourceType: 'Token' })).body.items;
    expect(new Set(byType.map((e: { resource: { type: string } }) => e.resource.type))).toEqual(new Set(['Token']));
    const one = byType[0];
    const byId = (await get({ resourceId: one.resource.id })).body.items;
    expect(byId.every((e: { resource: { id: string } }) => e.resource.id === one.resource.id)).toBe(true);

    const all = (await get({})).body.items as { at: string; seq: number }[];
    const times = all.map((e) => e.at);
    expect(times).toEqual([...times].sort().reverse());
    const middle = all[Math.floor(all.length / 2)]!;
    const window = (await get({ from: middle.at, to: all[0]!.at })).body.items as { at: string }[];
    expect(window.length).toBeGreaterThan(0);
    expect(window.every((e) => e.at >= middle.at && e.at < all[0]!.at)).toBe(true);
    expect(all.every((e) => (e as unknown as { orgId: string }).orgId === orgId)).toBe(true);
  });

  it('pages with a keyset cursor, without gaps or repeats', async () => {
    const all = (await t.http(auditor.token).get('/api/v1/audit').query({ limit: 500 })).body.items.map((e: { seq: number }) => e.seq);
    const paged: number[] = [];
    let cursor: string | null = null;
    do {
      const res = await t.http(auditor.token).get('/api/v1/audit').query(cursor ? { limit: 7, cursor } : { limit: 7 });
      expect(res.status).toBe(200);
      paged.push(...res.body.items.map((e: { seq: number }) => e.seq));
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(paged).toEqual(all.slice(0, paged.length));
    expect(paged.length).toBeGreaterThanOrEqual(Math.min(all.length, 500) - 20);
  });

  it('names every bad filter', async () => {
    const res = await t.http(auditor.token).get('/api/v1/audit').query({ outcome: 'maybe', from: 'yesterday', limit: 0, colour: 'red' });
    expectProblem(res, 400, 'validation_failed');
    expect(res.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['colour', 'from', 'limit', 'outcome']);
    expectProblem(await t.http(auditor.token).get('/api/v1/audit').query({ cursor: 'garbage' }), 400, 'validation_failed');
    // Calendar dates PostgreSQL cannot take: named, not a 500.
    const outOfRange = await t.http(auditor.token).get('/api/v1/audit').query({ from: '0000-01-01T00:00:00Z', to: '9999-12-31T23:00:00-05:00' });
    expectProblem(outOfRange, 400, 'validation_failed');
    expect(outOfRange.body.errors).toEqual([
      { path: 'from', message: 'must fall in the years 0001-9999, in UTC' },
      { path: 'to', message: 'must fall in the years 0001-9999, in UTC' },
    ]);
    expect((await t.http(auditor.token).get('/api/v1/audit').query({ from: '0001-01-01T00:00:00Z', to: '9999-12-31T23:59:59Z' })).status).toBe(200);
  });

  it('lets admins and auditors read their own org only', async () => {
    expectProblem(await t.http(member.token).get('/api/v1/audit'), 403, 'policy_denied');
    expectProblem(await t.http(member.token).get('/api/v1/audit/export'), 403, 'policy_denied');
    const other = await createOrg(t, admin);
    const theirs = (await t.http(other.adminToken).get('/api/v1/audit').query({ limit: 500 })).body.items;
    expect(theirs.every((e: { orgId: string }) => e.orgId === other.id)).toBe(true);
    const mine = (await t.http(other.adminToken).get('/api/v1/audit').query({ actorId: member.id })).body.items;
    expect(mine).toEqual([]);
  });
});

describe('export', () => {
  const download = async (query: Record<string, string>) => {
    const res = await t
      .http(auditor.token)
      .get('/api/v1/audit/export')
      .query(query)
      .buffer(true)
      .parse((response, callback) => {
        let data = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (data += chunk));
        response.on('end', () => callback(null, data));
      });
    expect(res.status).toBe(200);
    return { text: res.body as string, type: res.headers['content-type'] as string };
  };
  const lines = async function* (text: string) {
    yield* text.split('\n');
  };
  /** The lines of an NDJSON body, each ended by a newline, none empty. */
  const ndjsonLines = (text: string) => {
    expect(text === '' || text.endsWith('\n')).toBe(true);
    const all = text.split('\n').slice(0, -1);
    expect(all.every((l) => l.trim() !== '')).toBe(true);
    return all;
  };
  /** Every event the list route gives for a query, page after page, newest first. */
  const listAll = async (query: Record<string, string>) => {
    const items: unknown[] = [];
    let cursor: string | null = null;
    do {
      const res = await t.http(auditor.token).get('/api/v1/audit').query({ ...query, limit: '500', ...(cursor ? { cursor } : {}) });
      expect(res.status).toBe(200);
      items.push(...res.body.items);
      cursor = res.body.nextCursor;
    } while (cursor);
    return items;
  };
  const proofDownload = (query: Record<string, string> = {}) => download({ ...query, proof: 'true' });
  const cli = path.join(root, 'dist/src/audit/audit-verify-cli.js');
  const verifyCli = (file: string, key?: string) =>
    spawnSync(process.execPath, [cli, file, ...(key ? ['--public-key', key] : [])], { encoding: 'utf8' });

  it('writes plain NDJSON as one AuditEvent per line and nothing else, each as GET /audit lists it', async () => {
    const { text, type } = await download({ format: 'ndjson' });
    expect(type).toMatch(/^application\/x-ndjson/);
    const events = ndjsonLines(text).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.length).toBeGreaterThan(10);
    for (const e of events) {
      expect(e).toEqual(expect.objectContaining({ seq: expect.any(Number), hash: expect.stringMatching(/^[0-9a-f]{64}$/), action: expect.any(String) }));
      expect(e).not.toHaveProperty('type');
      expect(e).not.toHaveProperty('export');
      expect(e).not.toHaveProperty('seal');
    }
    // The export sealed everything before it read, and reads record nothing: the list now holds the same events.
    expect(events).toEqual(await listAll({}));
    // Without a format, the export is the same plain NDJSON, newest first: the export just recorded comes first.
    const byDefault = (await download({})).text;
    expect(JSON.parse(byDefault.slice(0, byDefault.indexOf('\n')))).toEqual(expect.objectContaining({ action: 'audit.export', details: { format: 'ndjson', proof: false, filters: {} } }));
  });

  it('applies every filter to a plain NDJSON export', async () => {
    const cases: Record<string, string>[] = [
      { action: 'team.create' },
      { actorId: member.id },
      { outcome: 'denied' },
      { resourceType: 'Token' },
      { resourceType: 'Member', action: 'member.create', outcome: 'allowed' },
    ];
    const all = await listAll({});
    const middle = all[Math.floor(all.length / 2)] as { at: string };
    cases.push({ from: middle.at, to: (all[0] as { at: string }).at });
    for (const query of cases) {
      const events = ndjsonLines((await download(query)).text).map((l) => JSON.parse(l));
      expect([query, events.length > 0]).toEqual([query, true]);
      expect([query, events]).toEqual([query, await listAll(query)]);
    }
  });

  it('marks every line a proof export adds, so that each line is either a marked header or seal or an event', async () => {
    const { text, type } = await proofDownload();
    expect(type).toMatch(/^application\/x-ndjson/);
    const parsed = ndjsonLines(text).map((l) => JSON.parse(l) as Record<string, unknown>);
    // A marked line holds its mark and its content, no seq or hash; any other line is an event.
    const shapes = parsed.map((line) =>
      'type' in line
        ? { type: line.type, keys: Object.keys(line).sort() }
        : { event: typeof line.seq === 'number' && typeof line.action === 'string' && /^[0-9a-f]{64}$/.test(String(line.hash)) },
    );
    const header = parsed[0]!.header as { orgId: string; complete: boolean; blocks: number; publicKey: string };
    expect(header).toEqual(expect.objectContaining({ orgId, complete: true, blocks: expect.any(Number), publicKey: expect.stringContaining('BEGIN PUBLIC KEY') }));
    const events = parsed.length - 1 - header.blocks;
    expect(events).toBeGreaterThan(10);
    // One header, then the events, then one seal per block: nothing else, in that order.
    expect(shapes).toEqual([
      { type: 'vitrine.audit.header', keys: ['header', 'type'] },
      ...Array(events).fill({ event: true }),
      ...Array(header.blocks).fill({ type: 'vitrine.audit.seal', keys: ['seal', 'type'] }),
    ]);
  });

  it('holds in a proof export exactly the lines of the plain export, and records which was asked for', async () => {
    const query = { action: 'team.create' };
    const proof = await proofDownload(query);
    const plain = await download(query);
    expect(ndjsonLines(plain.text).length).toBeGreaterThan(0);
    expect(ndjsonLines(proof.text).filter((l) => !l.startsWith('{"type":"vitrine.audit.')).join('\n')).toBe(ndjsonLines(plain.text).join('\n'));
    const recorded = (await t.http(auditor.token).get('/api/v1/audit').query({ action: 'audit.export', limit: 2 })).body.items.map((e: { details: unknown }) => e.details);
    expect(recorded).toEqual([
      { format: 'ndjson', proof: false, filters: query },
      { format: 'ndjson', proof: true, filters: query },
    ]);
  });

  it('streams a proof export that verifies offline, and fails on a one-byte edit, a missing line or an unmarked line', async () => {
    const { text } = await proofDownload();
    const report = await verifyExport(lines(text));
    expect(report).toEqual(expect.objectContaining({ ok: true, complete: true, eventsOnly: false }));
    expect(report.events).toBeGreaterThan(10);

    const at = text.indexOf('"action":"team.create"') + '"action":"team.'.length;
    const edited = `${text.slice(0, at)}d${text.slice(at + 1)}`;
    const bad = await verifyExport(lines(edited));
    expect(bad).toEqual(expect.objectContaining({ ok: false, firstInvalid: expect.objectContaining({ reason: expect.stringMatching(/^altered/) }) }));

    const withoutLine = text.split('\n').filter((_, i) => i !== 2).join('\n');
    expect((await verifyExport(lines(withoutLine))).firstInvalid?.reason).toMatch(/^missing/);

    // A seal line stripped of its mark is no event and no seal.
    const unmarked = text.replace(/\{"type":"vitrine\.audit\.seal","seal":(.*)\}\n/, '{"seal":$1}\n');
    expect(unmarked).not.toBe(text);
    expect(await verifyExport(lines(unmarked))).toEqual(expect.objectContaining({ ok: false, firstInvalid: expect.objectContaining({ reason: 'not an audit event' }) }));
  });

  it('still verifies a proof export written before its lines were marked', async () => {
    const { text } = await proofDownload();
    const legacy = ndjsonLines(text)
      .map((l) => {
        const line = JSON.parse(l);
        if (line.type === 'vitrine.audit.header') return JSON.stringify({ export: line.header });
        if (line.type === 'vitrine.audit.seal') return JSON.stringify({ seal: line.seal });
        return l;
      })
      .join('\n');
    expect(await verifyExport(lines(legacy))).toEqual(expect.objectContaining({ ok: true, complete: true }));
    const at = legacy.indexOf('"action":"team.create"') + '"action":"team.'.length;
    expect((await verifyExport(lines(`${legacy.slice(0, at)}d${legacy.slice(at + 1)}`))).firstInvalid?.reason).toMatch(/^altered/);
  });

  it('verifies a proof export with the CLI, pinned to the published key, and exits 1 on an edited file', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vitrine-export-'));
    const { text } = await proofDownload();
    writeFileSync(path.join(dir, 'export.ndjson'), text);
    writeFileSync(path.join(dir, 'key.pem'), (await t.http(auditor.token).get('/api/v1/audit/public-key')).body.publicKey);
    const ok = verifyCli(path.join(dir, 'export.ndjson'), path.join(dir, 'key.pem'));
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/OK: the chain verifies/);
    expect(ok.stderr).toMatch(/verifying/);

    const at = text.lastIndexOf('"seq":') + '"seq":'.length;
    writeFileSync(path.join(dir, 'edited.ndjson'), `${text.slice(0, at)}9${text.slice(at + 1)}`);
    const bad = verifyCli(path.join(dir, 'edited.ndjson'), path.join(dir, 'key.pem'));
    expect(bad.status).toBe(1);
    expect(bad.stdout).toMatch(/INVALID at line \d+/);
  });

  it('tells the CLI user in one line that a plain export is events only, to export again with proof=true', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vitrine-export-'));
    const file = path.join(dir, 'plain.ndjson');
    writeFileSync(file, (await download({})).text);
    const res = verifyCli(file);
    expect(res.status).toBe(2);
    expect(res.stdout).toBe('');
    const said = res.stderr.split('\n').filter((l) => l.includes(file));
    expect(said).toEqual([`${file}: an events-only export: it has no header and no seals to check its events against; export again with &proof=true`]);
  });

  it('exports a filtered selection with its proof, whose events still verify against their seals', async () => {
    const { text } = await proofDownload({ action: 'team.create' });
    const events = ndjsonLines(text)
      .map((l) => JSON.parse(l))
      .filter((line) => !('type' in line));
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((e: { action: string }) => e.action === 'team.create')).toBe(true);
    expect(await verifyExport(lines(text))).toEqual(expect.objectContaining({ ok: true, complete: false }));
  });

  it('streams CSV with a header row', async () => {
    const { text, type } = await download({ format: 'csv', action: 'member.create' });
    expect(type).toMatch(/^text\/csv/);
    const rows = text.trim().split('\n');
    expect(rows[0]).toBe('seq,id,org_id,at,actor_type,actor_id,actor_name,action,resource_type,resource_id,outcome,reason,policy_version,policy_rule_id,ip,user_agent,request_id,details,hash');
    expect(rows.length).toBeGreaterThan(1);
    expect(rows.slice(1).every((r) => r.includes(',member.create,'))).toBe(true);
  });

  it('refuses proof=true with CSV, and a proof that is not true or false, naming proof and changing nothing', async () => {
    const get = (query: Record<string, string>) => t.http(auditor.token).get('/api/v1/audit/export').query(query);
    let res!: Awaited<ReturnType<typeof get>>;
    expect(await eventsOf(async () => (res = await get({ format: 'csv', proof: 'true' })))).toEqual([]);
    expectProblem(res, 400, 'validation_failed');
    expect(res.body.errors).toEqual([{ path: 'proof', message: expect.stringContaining('format=ndjson') }]);
    const both = await get({ format: 'csv', proof: 'true', colour: 'red' });
    expectProblem(both, 400, 'validation_failed');
    expect(both.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['colour', 'proof']);
    const notBoolean = await get({ format: 'csv', proof: 'yes' });
    expectProblem(notBoolean, 400, 'validation_failed');
    expect(notBoolean.body.errors.map((e: { path: string }) => e.path)).toEqual(['proof']);
    expect((await download({ format: 'csv', proof: 'false', action: 'member.create' })).text.split('\n')[0]).toMatch(/^seq,id,/);
  });

  it('documents proof and both line shapes in the OpenAPI document', async () => {
    const doc = (await t.http().get('/api/openapi.json')).body;
    const operation = doc.paths['/api/v1/audit/export'].get;
    const proof = operation.parameters.find((p: { name: string }) => p.name === 'proof');
    expect(proof).toEqual(expect.objectContaining({ in: 'query', required: false, description: expect.stringContaining('audit:verify') }));
    expect(proof.schema).toEqual(expect.objectContaining({ enum: ['true', 'false'], default: 'false' }));
    const line = operation.responses['200'].content['application/x-ndjson'].schema;
    expect(line.oneOf[0]).toEqual({ $ref: '#/components/schemas/AuditEvent' });
    expect(line.oneOf.slice(1).map((s: { properties: { type: { const: string } } }) => s.properties.type.const)).toEqual(['vitrine.audit.header', 'vitrine.audit.seal']);
    expect(doc.components.schemas.AuditEvent.properties).not.toHaveProperty('type');
    expect(operation.responses['200'].content['text/csv']).toBeDefined();
  });

  it('is itself audited', async () => {
    const rows = await eventsOf(() => download({ format: 'csv' }));
    expect(summary(rows)).toEqual(['audit.export:allowed']);
  });
});

describe('who shared what', () => {
  it('lists each share with its creator, revocation and view count', async () => {
    const audit = t.app.get(AuditService);
    const artifact = { type: 'Artifact', id: '0195f0a0-7b7e-7000-8000-0000000000a1' };
    const shareId = '0195f0a0-7b7e-7000-8000-0000000000b1';
    const sharer = { type: 'user' as const, id: member.id, name: 'A member' };
    await audit.recordNow({ orgId, actor: sharer, action: 'artifact.publish', resource: artifact, details: { shareId, audience: 'link', expiresAt: '2026-12-01T00:00:00.000Z', artifactTitle: 'Release checklist' } });
    await audit.recordNow({ orgId, actor: sharer, action: 'artifact.publish', resource: artifact, outcome: 'denied', details: { audience: 'link' } });
    for (let i = 0; i < 3; i++) await audit.recordNow({ orgId, actor: { type: 'public', id: null, name: null }, action: 'share.view', resource: { type: 'Share', id: shareId } });
    await audit.recordNow({ orgId, actor: { type: 'user', id: auditor.id, name: 'Auditor' }, action: 'share.revoke', resource: { type: 'Share', id: shareId } });

    const res = await t.http(auditor.token).get(`/api/v1/audit/shares?artifactId=${artifact.id}`);
    expect(res.status).toBe(200);
    expect(res.body.items).toEqual([
      {
        shareId,
        artifact: { id: artifact.id, title: 'Release checklist' },
        audience: 'link',
        createdBy: { id: member.id, name: 'A member' },
        createdAt: expect.any(String),
        expiresAt: '2026-12-01T00:00:00.000Z',
        revokedAt: expect.any(String),
        revokedBy: { id: auditor.id, name: 'Auditor' },
        views: 3,
      },
    ]);
    expectProblem(await t.http(member.token).get('/api/v1/audit/shares'), 403, 'policy_denied');
  });
});
