import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { defaultBundleWith, HIDDEN_RUNS_RULE } from '../helpers/bundles.js';
import { adminToken, createArtifact, createMember, createRun, createSkill, createTeam, type TestMember } from '../helpers/factories.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

// API.md, Lists: a page holds `limit` items unless it is the last; items the
// caller may not see are skipped before the page is cut, never left as holes.

let t: TestApp;
let admin: string;
let member: TestMember;
let remixer: TestMember;
let viewer: TestMember;
let auditor: TestMember;
/** The shares test's: who made which share of which artifact. */
const published = { artifactId: '', by: new Map<string, string[]>() };

/** The default bundle with rules that hide some rows of every listed subject from some roles. */
const HIDING_RULES = `${HIDDEN_RUNS_RULE.trimEnd()}
  - id: auditors-are-not-listed
    effect: deny
    roles: [member, viewer]
    actions: [read]
    subject: Member
    conditions: { role: auditor }
    reason: Who audits is not for everyone
  - id: ops-teams-are-private
    effect: deny
    roles: [member, viewer]
    actions: [read]
    subject: Team
    conditions: { name: { $regex: '^ops-' } }
    reason: Ops teams are private
  - id: high-risk-tools-are-private
    effect: deny
    roles: [member, viewer]
    actions: [read]
    subject: Tool
    conditions: { risk: high }
    reason: High-risk tools are for admins
  - id: high-risk-skills-are-private
    effect: deny
    roles: [member, viewer]
    actions: [read]
    subject: Skill
    conditions: { maxToolRisk: high }
    reason: Skills on high-risk tools are for admins
  - id: auditors-skip-artifact-events
    effect: deny
    roles: [auditor]
    actions: [read]
    subject: AuditEvent
    conditions: { action: { $in: [artifact.create, artifact.remix] } }
    reason: Auditors here review access, not authoring
`;

interface Listed {
  pages: number[];
  ids: string[];
}

/**
 * Every page of a list, following nextCursor: each page but the last holds
 * exactly `limit` items, no page is empty with a cursor, no item comes twice.
 */
async function pageThrough(token: string, path: string, limit: number, id: (item: Record<string, unknown>) => string = (item) => item.id as string): Promise<Listed> {
  const pages: number[] = [];
  const ids: string[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < 1_000; i++) {
    const url = `${path}${path.includes('?') ? '&' : '?'}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const res = await t.http(token).get(url);
    expect(res.status).toBe(200);
    const items = res.body.items as Record<string, unknown>[];
    pages.push(items.length);
    ids.push(...items.map(id));
    cursor = res.body.nextCursor;
    if (cursor === null) break;
    // A page with a cursor after it is full.
    expect({ page: pages.length, items: items.length }).toEqual({ page: pages.length, items: limit });
  }
  expect(cursor).toBeNull();
  expect(new Set(ids).size).toBe(ids.length);
  return { pages, ids };
}

/** What pages of `limit` must look like for `count` items: full pages, then the rest. */
const fullPages = (count: number, limit: number) => [...Array(Math.floor(count / limit)).fill(limit), ...(count % limit || count === 0 ? [count % limit] : [])];

const sorted = (ids: string[]) => [...ids].sort();

beforeAll(async () => {
  t = await createTestApp();
  admin = await adminToken(t);
  member = await createMember(t, admin, 'member');
  remixer = await createMember(t, admin, 'member');
  viewer = await createMember(t, admin, 'viewer');
  auditor = await createMember(t, admin, 'auditor');
  const bundle = defaultBundleWith(HIDING_RULES);
  const put = await t.http(admin).put('/api/v1/policies').set('Content-Type', 'application/yaml').send(bundle);
  assert.equal(put.status, 200);
});
afterAll(() => t.close());

describe('a page is full unless it is the last', () => {
  it('pages a viewer through artifacts among many private remixes of another member', async () => {
    const visible: string[] = [];
    const remixes: string[] = [];
    const source = await createArtifact(t, member.token, { title: 'Source' });
    visible.push(source.id);
    for (let i = 0; i < 14; i++) {
      visible.push((await createArtifact(t, member.token, { title: `Visible ${i}` })).id);
      // Runs of two and three private remixes between visible artifacts, so a page cut after LIMIT would come back short.
      for (let r = 0; r < 2 + (i % 2); r++) {
        const res = await t.http(remixer.token).post(`/api/v1/artifacts/${source.id}/remix`).send({});
        expect(res.status).toBe(201);
        remixes.push(res.body.id);
      }
    }
    const asViewer = await pageThrough(viewer.token, '/api/v1/artifacts', 8);
    expect(asViewer.pages).toEqual(fullPages(visible.length, 8));
    expect(sorted(asViewer.ids)).toEqual(sorted(visible));
    // Each caller sees exactly what policy lets it read: the remixer its own remixes, admins everything.
    expect(sorted((await pageThrough(remixer.token, '/api/v1/artifacts', 8)).ids)).toEqual(sorted([...visible, ...remixes]));
    expect(sorted((await pageThrough(member.token, '/api/v1/artifacts', 8)).ids)).toEqual(sorted(visible));
    expect(sorted((await pageThrough(admin, '/api/v1/artifacts', 8)).ids)).toEqual(sorted([...visible, ...remixes]));
    // Filters still apply, with visibility, before the cut.
    const filtered = await pageThrough(remixer.token, `/api/v1/artifacts?kind=explainer`, 5);
    expect(filtered.pages).toEqual(fullPages(visible.length + remixes.length, 5));
  });

  it('pages a member through the shares of a team artifact, seeing only the ones it made', async () => {
    const team = await createTeam(t, admin);
    const a = await createMember(t, admin, 'member', { teamIds: [team.id] });
    const b = await createMember(t, admin, 'member', { teamIds: [team.id] });
    const artifact = await createArtifact(t, a.token, { teamId: team.id });
    const mine: string[] = [];
    const all: string[] = [];
    for (let i = 0; i < 9; i++) {
      for (const [who, n] of [
        [a, 1],
        [b, 2],
      ] as const) {
        for (let k = 0; k < n; k++) {
          const res = await t.http(who.token).post(`/api/v1/artifacts/${artifact.id}/shares`).send({ audience: 'org' });
          expect(res.status).toBe(201);
          all.push(res.body.id);
          if (who === a) mine.push(res.body.id);
        }
      }
    }
    published.artifactId = artifact.id;
    published.by.set(a.id, mine);
    published.by.set(b.id, all.filter((id) => !mine.includes(id)));
    const listed = await pageThrough(a.token, `/api/v1/artifacts/${artifact.id}/shares`, 4);
    expect(listed.pages).toEqual(fullPages(mine.length, 4));
    expect(sorted(listed.ids)).toEqual(sorted(mine));
    expect(sorted((await pageThrough(auditor.token, `/api/v1/artifacts/${artifact.id}/shares`, 4)).ids)).toEqual(sorted(all));
  });

  it('pages a viewer through runs a bundle hides by label', async () => {
    const skill = await createSkill(t, admin);
    const shown: string[] = [];
    for (let i = 0; i < 20; i++) {
      const hidden = i % 3 !== 0;
      const run = await createRun(t, admin, skill.name, { a: [] }, { labels: hidden ? { visibility: 'hidden', n: String(i) } : { n: String(i) } });
      if (!hidden) shown.push(run.id);
    }
    const listed = await pageThrough(viewer.token, '/api/v1/runs', 3);
    expect(listed.pages).toEqual(fullPages(shown.length, 3));
    expect(sorted(listed.ids)).toEqual(sorted(shown));
    expect((await pageThrough(admin, '/api/v1/runs', 3)).ids).toHaveLength(20);
  });

  it('pages a viewer through members a bundle hides by role', async () => {
    for (let i = 0; i < 12; i++) {
      const role = i % 3 === 0 ? 'member' : 'auditor';
      const res = await t.http(admin).post('/api/v1/members').send({ email: `listed-${i}@test.local`, name: `Listed ${i}`, password: `password-${i}-listed`, role });
      expect(res.status).toBe(201);
    }
    const everyone = await pageThrough(admin, '/api/v1/members', 5);
    const all = (await Promise.all(everyone.ids.map((id) => t.http(admin).get(`/api/v1/members/${id}`)))).map((res) => res.body as { id: string; role: string });
    const shown = all.filter((m) => m.role !== 'auditor').map((m) => m.id);
    expect(shown.length).toBeLessThan(all.length);
    const listed = await pageThrough(viewer.token, '/api/v1/members', 5);
    expect(listed.pages).toEqual(fullPages(shown.length, 5));
    expect(sorted(listed.ids)).toEqual(sorted(shown));
  });

  it('pages a viewer through teams a bundle hides by name', async () => {
    const before = (await pageThrough(admin, '/api/v1/teams', 50)).ids;
    const shown = [...before];
    for (let i = 0; i < 14; i++) {
      const team = await createTeam(t, admin, i % 4 === 0 ? `dev-${i}` : `ops-${i}`);
      if (i % 4 === 0) shown.push(team.id);
    }
    const listed = await pageThrough(viewer.token, '/api/v1/teams', 3);
    expect(listed.pages).toEqual(fullPages(shown.length, 3));
    expect(sorted(listed.ids)).toEqual(sorted(shown));
  });

  it('pages a member through tools and skills a bundle hides by risk', async () => {
    for (let i = 0; i < 12; i++) await createSkill(t, admin, `risky-${i}`, '1.0.0', i % 3 === 0 ? 'low' : 'high');
    const risk = (x: Record<string, unknown>) => `${x.id as string} ${String(x.risk ?? x.maxToolRisk)}`;
    const notHigh = (listed: Listed) => listed.ids.filter((x) => !x.endsWith(' high')).map((x) => x.split(' ')[0]!);
    const tools = await pageThrough(admin, '/api/v1/tools', 50, risk);
    const skills = await pageThrough(admin, '/api/v1/skills', 50, risk);
    expect(notHigh(tools).length).toBeLessThan(tools.ids.length - 5);
    expect(notHigh(skills).length).toBeLessThan(skills.ids.length - 5);
    const listedTools = await pageThrough(member.token, '/api/v1/tools', 4);
    expect(listedTools.pages).toEqual(fullPages(notHigh(tools).length, 4));
    expect(listedTools.ids).toEqual(notHigh(tools));
    const listedSkills = await pageThrough(member.token, '/api/v1/skills', 4);
    expect(listedSkills.pages).toEqual(fullPages(notHigh(skills).length, 4));
    expect(listedSkills.ids).toEqual(notHigh(skills));
  });

  it('pages an auditor through the audit log a bundle thins by action', async () => {
    const to = new Date().toISOString();
    const seq = (x: Record<string, unknown>) => `${String(x.seq)} ${x.action as string}`;
    const everything = await pageThrough(admin, `/api/v1/audit?to=${to}`, 50, seq);
    const shown = everything.ids.filter((x) => !/ artifact\.(create|remix)$/.test(x));
    expect(shown.length).toBeLessThan(everything.ids.length - 20);
    const listed = await pageThrough(auditor.token, `/api/v1/audit?to=${to}`, 8, seq);
    expect(listed.pages).toEqual(fullPages(shown.length, 8));
    expect(listed.ids).toEqual(shown);
  });

  it('exports to an auditor only the events a list would show, and says the export is not complete', async () => {
    const lines = (token: string, query = '') => t.http(token).get(`/api/v1/audit/export?format=ndjson${query}`).then((r) => r.text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>));
    const byAdmin = await lines(admin);
    expect(byAdmin.some((e) => e.action === 'artifact.create')).toBe(true);
    const byAuditor = await lines(auditor.token);
    expect(byAuditor.filter((e) => e.action === 'artifact.create' || e.action === 'artifact.remix')).toEqual([]);
    expect(byAuditor.length).toBeGreaterThan(10);
    const proof = await lines(auditor.token, '&proof=true');
    expect(proof[0]).toEqual(expect.objectContaining({ type: 'vitrine.audit.header', header: expect.objectContaining({ complete: false }) }));
  });

  it("pages a member through its own tokens, and no one else's", async () => {
    const other = await createMember(t, admin, 'member');
    const mine: string[] = [];
    for (let i = 0; i < 7; i++) {
      const res = await t.http(member.token).post('/api/v1/tokens').send({ name: `token-${i}` });
      expect(res.status).toBe(201);
      mine.push(res.body.id);
      expect((await t.http(other.token).post('/api/v1/tokens').send({ name: `other-${i}` })).status).toBe(201);
    }
    const listed = await pageThrough(member.token, '/api/v1/tokens', 3);
    expect(listed.ids).toEqual(expect.arrayContaining(mine));
    expect(listed.pages).toEqual(fullPages(mine.length + 1, 3));
  });

  it("pages an auditor through who shared what, without the shares whose publish events a bundle hides", async () => {
    const [a, b] = [...published.by.keys()];
    const rule = `
  - id: auditors-skip-one-publisher
    effect: deny
    roles: [auditor]
    actions: [read]
    subject: AuditEvent
    conditions: { action: artifact.publish, actorId: '${a}' }
    reason: This publisher's shares are reviewed elsewhere
`;
    const bundle = defaultBundleWith(HIDING_RULES + rule);
    expect((await t.http(admin).put('/api/v1/policies').set('Content-Type', 'application/yaml').send(bundle)).status).toBe(200);
    const path = `/api/v1/audit/shares?artifactId=${published.artifactId}`;
    const shareId = (x: Record<string, unknown>) => x.shareId as string;
    const listed = await pageThrough(auditor.token, path, 4, shareId);
    expect(listed.pages).toEqual(fullPages(published.by.get(b!)!.length, 4));
    expect(sorted(listed.ids)).toEqual(sorted(published.by.get(b!)!));
    expect(sorted((await pageThrough(admin, path, 4, shareId)).ids)).toEqual(sorted([...published.by.get(a!)!, ...published.by.get(b!)!]));
  });
});
