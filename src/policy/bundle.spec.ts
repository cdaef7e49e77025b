import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { MAX_DEPTH } from '../common/validation.pipe.js';
import { loadBundle, PolicyInvalidError } from './bundle.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

function problems(source: string | object) {
  try {
    loadBundle(source);
  } catch (error) {
    if (error instanceof PolicyInvalidError) return error.problems;
    throw error;
  }
  throw new Error('expected the bundle to be rejected');
}

const rule = (extra: string) => `rules:
  - id: ok
    effect: allow
    actions: [read]
    subject: Run
    reason: fine
  - id: the-rule
    effect: allow
    actions: [read]
    subject: Artifact
    reason: because
${extra}`;

describe('policy bundle loader', () => {
  it('loads the default bundle and hashes its source', () => {
    const source = readFileSync(path.join(root, 'policies/default.yaml'), 'utf8');
    const loaded = loadBundle(source);
    expect(loaded.bundle.rules.length).toBeGreaterThan(20);
    expect(loaded.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('accepts a JSON bundle object', () => {
    const loaded = loadBundle({ rules: [{ id: 'a', effect: 'allow', actions: ['read'], subject: 'Run', reason: 'r' }] });
    expect(loaded.bundle.rules[0]!.id).toBe('a');
  });

  it.each([
    ['an unknown key', '    colour: red', 'rules[1] (the-rule).colour', 12],
    ['an unknown operator', '    conditions: { classification: { $like: "x" } }', 'rules[1] (the-rule).conditions.classification.$like', 12],
    ['an unknown attribute', '    conditions: { secretSauce: true }', 'rules[1] (the-rule).conditions.secretSauce', 12],
    ['a top-level operator', '    conditions: { $or: [] }', 'rules[1] (the-rule).conditions.$or', 12],
    ['an unknown placeholder', '    conditions: { ownerId: "{{actor.email}}" }', 'rules[1] (the-rule).conditions.ownerId', 12],
    ['__proto__', '    conditions: { __proto__: { admin: true } }', 'rules[1] (the-rule).conditions.__proto__', 12],
    ['constructor', '    constructor: x', 'rules[1] (the-rule).constructor', 12],
    ['prototype', '    conditions: { labels: { prototype: 1 } }', 'rules[1] (the-rule).conditions.labels.prototype', 12],
  ])('rejects %s, naming the rule and the line', (_what, extra, expectedPath, line) => {
    const found = problems(rule(extra));
    expect(found).toEqual([expect.objectContaining({ path: expectedPath, line })]);
  });

  it.each([
    ['an unknown subject', 'subject: Spaceship', 'rules[0] (x).subject'],
    ['an unknown action', 'actions: [fly]', 'rules[0] (x).actions.0'],
    ['an unknown role', 'roles: [overlord]', 'rules[0] (x).roles.0'],
  ])('rejects %s', (_what, replacement, expectedPath) => {
    const base = { id: 'x', effect: 'allow', actions: ['read'], subject: 'Run', reason: 'r' } as Record<string, unknown>;
    const [key, value] = replacement.split(': ') as [string, string];
    base[key] = value.startsWith('[') ? [value.slice(1, -1)] : value;
    expect(problems({ rules: [base] }).map((p) => p.path)).toEqual([expectedPath]);
  });

  it('requires an id and a reason on every rule', () => {
    const found = problems('rules:\n  - effect: allow\n    actions: [read]\n    subject: Run\n');
    expect(found.map((p) => p.path).sort()).toEqual(['rules[0].id', 'rules[0].reason']);
    expect(found.every((p) => p.line === 2)).toBe(true);
  });

  it('rejects duplicate rule ids and YAML syntax errors', () => {
    expect(problems(rule('  - id: ok\n    effect: deny\n    actions: [read]\n    subject: Run\n    reason: again')).map((p) => p.path)).toEqual(['rules[2] (ok).id']);
    expect(problems('rules: [ {')[0]!.line).toBe(1);
  });

  it(`takes conditions nested up to ${MAX_DEPTH} levels and names the first place deeper, in YAML and in JSON`, () => {
    // The bundle itself takes 4 levels (root, rules, the rule, conditions); `labels` nests the rest.
    const flow = (levels: number) => `${'['.repeat(levels)}1${']'.repeat(levels)}`;
    const at = (levels: number) => rule(`    conditions:\n      labels: ${flow(levels)}`);
    expect(loadBundle(at(MAX_DEPTH - 4)).bundle.rules[1]!.conditions).toBeDefined();
    const deepest = `rules[1] (the-rule).conditions.labels${'.0'.repeat(MAX_DEPTH - 4)}`;
    expect(problems(at(MAX_DEPTH - 3))).toEqual([{ path: deepest, message: `nests deeper than ${MAX_DEPTH} levels of maps and lists`, line: 13 }]);
    const json = { rules: [{ id: 'the-rule', effect: 'allow', actions: ['read'], subject: 'Artifact', reason: 'r', conditions: { labels: JSON.parse(flow(MAX_DEPTH - 3)) as unknown } }] };
    expect(problems(json).map((p) => [p.path, p.message])).toEqual([[deepest.replace('rules[1]', 'rules[0]'), `nests deeper than ${MAX_DEPTH} levels of maps and lists`]]);
  });

  it('names the depth, not a stack overflow, for a bundle nested too deep for the YAML parser', () => {
    for (const levels of [5_000, 50_000]) {
      expect(problems(rule(`    conditions:\n      labels: ${'['.repeat(levels)}1${']'.repeat(levels)}`))).toEqual([
        { path: '', message: `nests deeper than ${MAX_DEPTH} levels of maps and lists`, line: 13 },
      ]);
    }
  });

  it('rejects a bundle that is not a list of rules', () => {
    expect(problems('rules: []')[0]!.path).toBe('rules');
    expect(problems('hello')[0]!.path).toBe('');
  });
});
