import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { createTestDatabase } from '../../test/setup/test-database.js';
import type { PolicyRule } from './bundle.js';
import { CompiledPolicy, type PolicyActor } from './policy-engine.js';
import { positionalBinder, type SqlAttributes } from './policy-sql.js';

// The translator is what lets a list page over only what its caller may read:
// here, over a data set with every kind of attribute a subject has (text and
// uuid, nullable or not, numbers, booleans, a string array, an object of
// strings), the rows its SQL selects must be exactly those CASL allows.

const TEAMS = ['0190d6c0-0000-7000-8000-00000000000a', '0190d6c0-0000-7000-8000-00000000000b', '0190d6c0-0000-7000-8000-00000000000c'];
const PEOPLE = ['0190d6c0-0000-7000-8000-0000000000a1', '0190d6c0-0000-7000-8000-0000000000a2', '0190d6c0-0000-7000-8000-0000000000a3'];

const TITLES = ['Alpha', 'alpha', 'beta', '', 'x.y', 'xzy', 'multi\nline', 'émoji 😀', 'Zed', '10', '9', 'a/b', 'ALPHA beta', '\uff21 wide', 'tab\there'];
const STATUSES = ['pending', 'running', 'failed', 'succeeded'];
const REVISIONS = [null, 0, 1, 5, 10, -2];
const LABELS: Record<string, string>[] = [{}, { env: 'prod' }, { env: 'dev', tier: '1' }, { 'a.b': 'x', env: 'prod' }, { tier: '2', '0': 'zero' }];
const TAGS: string[][] = [[], ['a'], ['a', 'b'], ['prod', 'x'], ['b'], ['ab', 'Prod']];
const TEAM_SETS: string[][] = [[], [TEAMS[0]!], [TEAMS[0]!, TEAMS[1]!], [TEAMS[2]!]];

interface Row {
  id: string;
  title: string;
  teamId: string | null;
  createdBy: string;
  status: string;
  revision: number | null;
  private: boolean;
  labels: Record<string, string>;
  tags: string[];
  teamIds: string[];
}

const ATTRIBUTES: SqlAttributes = {
  id: { type: 'text', sql: 't.id', uuid: true },
  title: { type: 'text', sql: 't.title' },
  teamId: { type: 'text', sql: 't.team_id', uuid: true, nullable: true },
  createdBy: { type: 'text', sql: 't.created_by', uuid: true },
  status: { type: 'text', sql: 't.status' },
  revision: { type: 'number', sql: 't.revision', nullable: true },
  private: { type: 'boolean', sql: 't.private' },
  labels: { type: 'object', sql: 't.labels' },
  tags: { type: 'text[]', sql: 't.tags' },
  teamIds: { type: 'text[]', sql: 't.team_ids' },
};

const ACTORS: PolicyActor[] = [
  { id: PEOPLE[0]!, orgId: 'org', role: 'member', teamIds: [TEAMS[0]!] },
  { id: PEOPLE[1]!, orgId: 'org', role: 'member', teamIds: [TEAMS[1]!, TEAMS[2]!] },
  { id: PEOPLE[2]!, orgId: 'org', role: 'viewer', teamIds: [] },
];

type Shape = Omit<PolicyRule, 'id' | 'actions' | 'subject' | 'reason'> & { actions?: PolicyRule['actions'] };
const allow = (conditions?: Record<string, unknown>, extra: Partial<Shape> = {}): Shape => ({ effect: 'allow', ...(conditions && { conditions }), ...extra });
const deny = (conditions?: Record<string, unknown>, extra: Partial<Shape> = {}): Shape => ({ effect: 'deny', ...(conditions && { conditions }), ...extra });

/** Rule sets, each read as one bundle; every operator on scalar, array and object attributes, with placeholders and allow+deny mixes. */
const CASES: Record<string, Shape[]> = {
  'no rule allows': [allow(undefined, { actions: ['update'] })],
  'an unconditional allow': [allow()],
  'a rule for another role only': [allow(undefined, { roles: ['admin'] })],
  'manage implies read': [allow({ status: 'failed' }, { actions: ['manage'] })],
  'own rows ({{actor.id}})': [allow({ createdBy: '{{actor.id}}' })],
  'team rows ($in {{actor.teamIds}})': [allow({ teamId: { $in: '{{actor.teamIds}}' } })],
  'equality with a placeholder list is never true': [allow({ teamId: '{{actor.teamIds}}' })],
  'remixes stay private (allow all, deny private of others)': [allow(), deny({ private: true, createdBy: { $ne: '{{actor.id}}' } })],
  'a deny written first still wins': [deny({ status: 'failed' }), allow({ revision: { $gte: 1 } }), allow({ tags: 'a' })],
  'two allows and two denies': [allow({ status: { $in: ['running', 'failed'] } }), allow({ 'labels.env': 'prod' }), deny({ private: true }), deny({ tags: { $size: 0 } })],
  'an unconditional deny below allows': [allow({ private: false }), deny()],
  'a deny without an allow': [deny({ private: true })],
  'empty conditions match everything': [allow({})],
  '$eq on text': [allow({ title: 'Alpha' })],
  '$eq on a uuid with a non-canonical string': [allow({ createdBy: PEOPLE[0]!.toUpperCase() })],
  '$eq with a number on text': [allow({ title: 10 })],
  '$eq on a number': [allow({ revision: 5 })],
  '$eq on a boolean': [allow({ private: true })],
  '$eq null on a nullable column': [allow({ teamId: null })],
  '$ne null on a nullable column': [allow({ revision: { $ne: null } })],
  '$eq null on a missing attribute': [allow({ missing: null })],
  '$eq null on a non-null column': [allow({ status: null })],
  '$eq null on an array and an object': [allow({ tags: null }), allow({ labels: null, private: true })],
  '$eq an object is never true': [allow({ labels: { env: 'prod' } })],
  '$ne on an array': [allow({ tags: { $ne: 'a' } })],
  '$eq on an array element': [allow({ tags: 'b' })],
  '$eq on an array index': [allow({ 'tags.0': 'a' })],
  '$eq null on an array index': [allow({ 'tags.1': null })],
  '$eq on a key of an array of strings': [allow({ 'tags.env': 'a' })],
  '$eq null on a key of an array of strings': [allow({ 'tags.env': null })],
  '$eq on an object key': [allow({ 'labels.env': 'prod' })],
  '$ne on an object key': [allow({ 'labels.env': { $ne: 'prod' } })],
  '$eq null on an object key': [allow({ 'labels.env': null })],
  '$eq on a numeric object key': [allow({ 'labels.0': 'zero' })],
  '$eq on a dotted key is a path, not the key': [allow({ 'labels.a.b': 'x' })],
  '$eq through a string': [allow({ 'title.x': null }), allow({ 'status.x': 'a' })],
  '$lt, $lte, $gt, $gte on numbers (null is 0 to JavaScript)': [allow({ revision: { $lt: 5 } }), allow({ revision: { $gte: 10 } }), deny({ revision: { $lte: -1 } })],
  '$gt on a nullable number below zero': [allow({ revision: { $gt: -3 } })],
  '$lt on text': [allow({ title: { $lt: 'b' } })],
  '$gte and $lte on text': [allow({ title: { $gte: 'Zed', $lte: 'xzz' } })],
  '$gt on a uuid': [allow({ createdBy: { $gt: PEOPLE[1]! } })],
  '$lt on an array (any element)': [allow({ tags: { $lt: 'ab' } })],
  '$gt on an object key': [allow({ 'labels.tier': { $gt: '1' } })],
  '$lt on a missing attribute (undefined is never greater)': [allow({ missing: { $lt: 5 } })],
  '$gte on a missing object key': [allow({ 'labels.tier': { $lte: '5' } })],
  '$in on text with a null': [allow({ title: { $in: ['Alpha', 'beta', null] } })],
  '$in on a nullable uuid with a null': [allow({ teamId: { $in: [TEAMS[1], null] } })],
  '$in on numbers with a null': [allow({ revision: { $in: [0, 5, null] } })],
  '$in on an array': [allow({ tags: { $in: ['b', 'x'] } })],
  '$in on an array with placeholders': [allow({ teamIds: { $in: '{{actor.teamIds}}' } })],
  '$in on booleans': [allow({ private: { $in: [false] } })],
  '$nin on text': [allow({ status: { $nin: ['failed', 'pending'] } })],
  '$nin with a null on a nullable number': [allow({ revision: { $nin: [null, 1] } })],
  '$nin on an array': [allow({ tags: { $nin: ['a'] } })],
  '$nin on a missing object key': [allow({ 'labels.tier': { $nin: ['1'] } })],
  '$all on an array': [allow({ tags: { $all: ['a', 'b'] } })],
  '$all empty': [allow({ tags: { $all: [] } })],
  '$all on a scalar is never true': [allow({ title: { $all: ['Alpha'] } })],
  '$all with placeholders': [allow({ teamIds: { $all: '{{actor.teamIds}}' } })],
  '$size on an array': [allow({ tags: { $size: 2 } }), allow({ teamIds: { $size: 0 } })],
  '$size on a scalar and an object': [allow({ title: { $size: 0 } }), allow({ labels: { $size: 1 } })],
  '$regex': [allow({ title: { $regex: '^a' } })],
  '$regex with $options i': [allow({ title: { $regex: '^alpha', $options: 'i' } })],
  '$regex with a dot': [allow({ title: { $regex: '^x.y$' } })],
  '$regex dot against a newline and an astral character': [allow({ title: { $regex: '^.{5,9}$' } })],
  '$regex with s': [allow({ title: { $regex: 'i.l', $options: 's' } })],
  '$regex with classes and escapes': [allow({ title: { $regex: '^\\d+$' } }), allow({ title: { $regex: '\\s' } }), allow({ title: { $regex: '[^a-z ]' } })],
  '$regex with alternation, groups and quantifiers': [allow({ title: { $regex: '^(?:al|be)(p|t)a?' } }), allow({ title: { $regex: 'a/b|\\.' } }), allow({ status: { $regex: 'n{2}' } })],
  '$regex with lookahead': [allow({ title: { $regex: '^(?=.*a)(?!.*Z)' } })],
  '$regex on an array': [allow({ tags: { $regex: '^P', $options: 'i' } })],
  '$regex on a number is never true': [allow({ revision: { $regex: '1' } })],
  '$regex on an object key': [allow({ 'labels.env': { $regex: 'od' } })],
  'a denying $regex': [allow(), deny({ title: { $regex: '^.l' } })],
  '$elemMatch with operators': [allow({ tags: { $elemMatch: { $regex: '^p' } } })],
  '$elemMatch with two operators': [allow({ tags: { $elemMatch: { $gte: 'a', $lt: 'b' } } })],
  '$elemMatch with $in on team ids': [allow({ teamIds: { $elemMatch: { $in: '{{actor.teamIds}}' } } })],
  '$elemMatch on a scalar is never true': [allow({ title: { $elemMatch: { $eq: 'Alpha' } } })],
  '$exists on attributes': [allow({ teamId: { $exists: true }, missing: { $exists: false } })],
  '$exists true on a missing attribute': [allow({ missing: { $exists: true } }), allow({ private: true })],
  '$exists on object keys': [allow({ 'labels.env': { $exists: true } }), allow({ 'labels.tier': { $exists: false }, private: false })],
  '$exists on array indexes': [allow({ 'tags.1': { $exists: true } })],
  '$exists false on an array index': [allow({ 'tags.0': { $exists: false } })],
  '$exists false on a key of an array of strings': [allow({ 'tags.env': { $exists: false } })],
  '$exists on a path through a missing attribute': [allow({ 'missing.x': { $exists: false } })],
  'several operators on one attribute': [allow({ revision: { $gt: 0, $lt: 10, $ne: 5 } })],
  'several attributes': [allow({ private: false, status: { $ne: 'failed' }, 'labels.env': { $in: ['prod', 'dev'] } })],
};

describe('rulesToSql selects exactly what CASL allows', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let client: pg.Client;
  let rows: Row[];

  beforeAll(async () => {
    db = await createTestDatabase();
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await client.query(`CREATE TABLE things (id uuid PRIMARY KEY, title text NOT NULL, team_id uuid, created_by uuid NOT NULL, status text NOT NULL,
      revision integer, private boolean NOT NULL, labels jsonb NOT NULL, tags text[] NOT NULL, team_ids text[] NOT NULL)`);
    for (let i = 0; i < 180; i++) {
      const id = `0190d6c0-0000-7000-8000-${String(i).padStart(12, '0')}`;
      await client.query(`INSERT INTO things VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, [
        id,
        TITLES[i % TITLES.length],
        i % 4 === 3 ? null : TEAMS[i % 3],
        PEOPLE[(i >> 1) % 3],
        STATUSES[i % STATUSES.length],
        REVISIONS[i % REVISIONS.length],
        i % 5 < 2,
        JSON.stringify(LABELS[i % LABELS.length]),
        TAGS[(i * 7) % TAGS.length],
        TEAM_SETS[(i >> 2) % TEAM_SETS.length],
      ]);
    }
    rows = (
      await client.query(
        `SELECT id, title, team_id AS "teamId", created_by AS "createdBy", status, revision, private, labels, tags, team_ids AS "teamIds" FROM things ORDER BY id`,
      )
    ).rows;
  });

  afterAll(async () => {
    await client?.end();
    await db?.drop();
  });

  const compile = (shapes: Shape[]) =>
    new CompiledPolicy('1', {
      rules: shapes.map((shape, i) => ({ id: `rule-${i}`, actions: ['read'], subject: 'Run', reason: 'test', ...shape }) as PolicyRule),
    });

  async function selected(policy: CompiledPolicy, actor: PolicyActor, reports: string[] = []): Promise<string[]> {
    const params: unknown[] = [];
    const where = policy.sqlFilter(actor, 'read', 'Run', ATTRIBUTES, positionalBinder(params), (ruleId, why) => reports.push(`${ruleId}: ${why}`));
    return (await client.query(`SELECT t.id FROM things t WHERE ${where} ORDER BY t.id`, params)).rows.map((r: { id: string }) => r.id);
  }

  const allowed = (policy: CompiledPolicy, actor: PolicyActor) => rows.filter((row) => policy.decide(actor, 'read', 'Run', { ...row }).allowed).map((row) => row.id);

  it.each(Object.entries(CASES))('%s', async (_name, shapes) => {
    const policy = compile(shapes);
    for (const actor of ACTORS) {
      const reports: string[] = [];
      expect({ actor: actor.id, ids: await selected(policy, actor, reports) }).toEqual({ actor: actor.id, ids: allowed(policy, actor) });
      expect(reports).toEqual([]);
    }
  });

  it('tells rows apart: most cases allow some rows and not others', () => {
    const partial = Object.values(CASES).filter((shapes) => {
      const n = allowed(compile(shapes), ACTORS[0]!).length;
      return n > 0 && n < rows.length;
    });
    expect(partial.length).toBeGreaterThan(Object.keys(CASES).length * 0.6);
  });

  // What SQL cannot say exactly hides rows and is reported; it never shows a row CASL would not.
  it.each<[string, Shape[]]>([
    ['a number compared with text, allowing', [allow({ title: { $gt: 5 } })]],
    ['a number compared with text, denying', [allow(), deny({ title: { $lt: 5 } })]],
    ['a regex with the m flag', [allow({ title: { $regex: '^line', $options: 'm' } })]],
    ['a regex with a word boundary, denying', [allow(), deny({ title: { $regex: '\\bbeta' } })]],
    ['a string property of array elements', [allow({ 'tags.length': 1 })]],
    ['a quantified lookahead', [allow({ title: { $regex: '(?=a)?b' } })]],
    ['a backreference', [allow({ title: { $regex: '(a)\\1' } })]],
    ['field conditions inside $elemMatch', [allow({ tags: { $elemMatch: { x: null } } })]],
  ])('narrows and reports %s', async (_name, shapes) => {
    const policy = compile(shapes);
    const reports: string[] = [];
    const ids = await selected(policy, ACTORS[0]!, reports);
    const expected = allowed(policy, ACTORS[0]!);
    expect(ids.every((id) => expected.includes(id))).toBe(true);
    expect(reports.length).toBeGreaterThan(0);
  });
});
