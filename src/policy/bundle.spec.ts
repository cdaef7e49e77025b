import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
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

  it('rejects a bundle that is not a list of rules', () => {
    expect(problems('rules: []')[0]!.path).toBe('rules');
    expect(problems('hello')[0]!.path).toBe('');
  });
});
