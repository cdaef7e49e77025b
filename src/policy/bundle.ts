import { createHash } from 'node:crypto';
import { isCollection, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import { z } from 'zod';
import type { FieldProblem } from '../common/problem.js';
import { MAX_DEPTH } from '../common/validation.pipe.js';
import {
  ACTIONS,
  ACTOR_PLACEHOLDERS,
  CONDITION_OPERATORS,
  POLICY_ROLES,
  SUBJECT_ATTRIBUTES,
  SUBJECTS,
  type Action,
  type PolicyRole,
  type Subject,
} from './policy.types.js';

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const OPERATORS = new Set<string>(CONDITION_OPERATORS);
const PLACEHOLDERS = new Set<string>(ACTOR_PLACEHOLDERS);

export type Conditions = Record<string, unknown>;

export interface PolicyRule {
  id: string;
  effect: 'allow' | 'deny';
  roles?: PolicyRole[];
  actions: Action[];
  subject: Subject;
  conditions?: Conditions;
  reason: string;
}

export interface PolicyBundle {
  rules: PolicyRule[];
}

const RuleSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,99}$/, 'must be lower-case letters, digits and dashes'),
  effect: z.enum(['allow', 'deny']),
  roles: z.array(z.enum(POLICY_ROLES)).min(1).optional(),
  actions: z.array(z.enum(ACTIONS)).min(1),
  subject: z.enum(SUBJECTS),
  conditions: z.record(z.string(), z.unknown()).optional(),
  reason: z.string().trim().min(1).max(500),
});

const BundleSchema = z.strictObject({
  rules: z.array(RuleSchema).min(1).max(1000),
});

/** A bundle that failed validation: every problem, each with the line it is on. */
export class PolicyInvalidError extends Error {
  constructor(readonly problems: FieldProblem[]) {
    super(`the policy bundle is invalid: ${problems.map((p) => `${p.path} (line ${p.line ?? '?'}): ${p.message}`).join('; ')}`);
    this.name = 'PolicyInvalidError';
  }
}

export interface LoadedBundle {
  bundle: PolicyBundle;
  /** The canonical source text (YAML) that is stored and hashed. */
  source: string;
  hash: string;
}

type PathSegment = string | number;

function pathText(path: readonly PathSegment[], doc: Document): string {
  // rules.3.conditions → rules[3] (its-id).conditions: name the rule by its id when it has one.
  const [head, index, ...rest] = path;
  if (head === 'rules' && typeof index === 'number') {
    const id = doc.getIn(['rules', index, 'id']);
    const rule = typeof id === 'string' ? `rules[${index}] (${id})` : `rules[${index}]`;
    return [rule, ...rest].join('.');
  }
  return path.join('.');
}

const tooDeep = `nests deeper than ${MAX_DEPTH} levels of maps and lists`;

/** The path of keys and indexes to the last of `ancestors`, as visit() hands them (document, collections, pairs). */
function pathTo(ancestors: readonly unknown[]): PathSegment[] {
  const path: PathSegment[] = [];
  for (let i = 1; i < ancestors.length; i++) {
    const parent = ancestors[i - 1];
    const node = ancestors[i];
    if (isPair(node) && isScalar(node.key)) path.push(String(node.key.value));
    if (isSeq(parent) && !isPair(node)) path.push(parent.items.indexOf(node as never));
  }
  return path;
}

function lineOf(doc: Document, counter: LineCounter, path: readonly PathSegment[]): number | undefined {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = depth === 0 ? doc.contents : (doc.getIn(path.slice(0, depth), true) as Node | undefined);
    if (node && 'range' in node && node.range) return counter.linePos(node.range[0]).line;
  }
  return undefined;
}

/** Checks one conditions object against its subject's attributes and CASL's operators. */
function checkConditions(subject: Subject, conditions: Conditions, at: PathSegment[], report: (path: PathSegment[], message: string) => void): void {
  const attributes = new Set(SUBJECT_ATTRIBUTES[subject]);
  for (const [key, value] of Object.entries(conditions)) {
    if (key.startsWith('$')) {
      report([...at, key], `top-level operators are not supported; name an attribute of ${subject}`);
      continue;
    }
    const root = key.split('.')[0]!;
    if (!attributes.has(root)) {
      report([...at, key], `${subject} has no attribute "${root}" (it has: ${[...attributes].join(', ')})`);
      continue;
    }
    checkValue(value, [...at, key], report);
  }
}

function checkValue(value: unknown, at: PathSegment[], report: (path: PathSegment[], message: string) => void): void {
  if (typeof value === 'string') {
    if (value.includes('{{') && !PLACEHOLDERS.has(value)) report(at, `unknown placeholder ${value} (known: ${ACTOR_PLACEHOLDERS.join(', ')})`);
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => checkValue(item, [...at, i], report));
    return;
  }
  if (value && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) {
      if (key.startsWith('$') && !OPERATORS.has(key)) {
        report([...at, key], `unknown operator ${key} (CASL supports ${CONDITION_OPERATORS.join(', ')})`);
        continue;
      }
      if (key === '$regex' && typeof inner === 'string') {
        try {
          RegExp(inner);
        } catch {
          report([...at, key], 'is not a valid regular expression');
        }
      }
      checkValue(inner, [...at, key], report);
    }
  }
}

/**
 * Parses and validates a bundle (YAML text, or an already-parsed JSON
 * object). Throws PolicyInvalidError naming every problem, its rule and its line.
 */
export function loadBundle(input: string | object): LoadedBundle {
  const text = typeof input === 'string' ? input : JSON.stringify(input, null, 2);
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, uniqueKeys: true, prettyErrors: false });
  const problems: FieldProblem[] = [];

  // The parser recurses per level: a bundle nested some thousands of levels deep
  // overflows its stack (once per level it unwinds) before the depth check below sees it.
  const overflow = doc.errors.find((error) => /maximum call stack/i.test(error.message));
  if (overflow) throw new PolicyInvalidError([{ path: '', message: tooDeep, line: counter.linePos(overflow.pos[0]).line }]);
  for (const error of doc.errors) {
    problems.push({ path: '', message: error.message.split('\n')[0]!, line: counter.linePos(error.pos[0]).line });
  }
  if (problems.length) throw new PolicyInvalidError(problems);

  // Keys that could reach an object's prototype are refused wherever they appear,
  // and nesting is bounded as it is for JSON bodies (CASL and the checks below recurse).
  visit(doc, {
    Pair(_key, pair, ancestors) {
      if (isScalar(pair.key) && FORBIDDEN_KEYS.has(String(pair.key.value))) {
        problems.push({
          path: pathText([...pathTo(ancestors), String(pair.key.value)], doc),
          message: `the key "${String(pair.key.value)}" is not allowed`,
          line: pair.key.range ? counter.linePos(pair.key.range[0]).line : undefined,
        });
      }
    },
    Collection(_key, node, ancestors) {
      if (ancestors.filter(isCollection).length < MAX_DEPTH) return undefined;
      problems.push({ path: pathText(pathTo([...ancestors, node]), doc), message: tooDeep, line: node.range ? counter.linePos(node.range[0]).line : undefined });
      return visit.BREAK;
    },
  });
  if (problems.length) throw new PolicyInvalidError(problems);

  const raw: unknown = doc.toJS({ maxAliasCount: 50 });
  const report = (path: PathSegment[], message: string) => problems.push({ path: pathText(path, doc), message, line: lineOf(doc, counter, path) });

  const parsed = BundleSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
      if (issue.code === 'unrecognized_keys') for (const key of issue.keys) report([...path, key], 'is not a known field');
      else report(path, issue.message);
    }
    throw new PolicyInvalidError(problems);
  }

  const bundle = parsed.data as PolicyBundle;
  const seen = new Map<string, number>();
  bundle.rules.forEach((rule, i) => {
    if (seen.has(rule.id)) report(['rules', i, 'id'], `duplicates the id of rules[${seen.get(rule.id)}]`);
    seen.set(rule.id, i);
    if (rule.conditions) checkConditions(rule.subject, rule.conditions, ['rules', i, 'conditions'], report);
  });
  if (problems.length) throw new PolicyInvalidError(problems);

  const source = typeof input === 'string' ? input : doc.toString();
  return { bundle, source, hash: createHash('sha256').update(source, 'utf8').digest('hex') };
}
