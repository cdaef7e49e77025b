import { StandardSchemaValidationPipe, type ArgumentMetadata } from '@nestjs/common';
import { ValidationFailedError, type FieldProblem } from './problem.js';

interface Issue {
  message: string;
  path?: ReadonlyArray<PropertyKey | { key: PropertyKey }>;
  code?: string;
  keys?: string[];
}

function issuePath(issue: Issue): string {
  return (issue.path ?? []).map((segment) => String(typeof segment === 'object' ? segment.key : segment)).join('.');
}

/** Every failing field of a request, each named by its dotted path. */
export function issuesToProblems(issues: readonly Issue[], root: string): FieldProblem[] {
  return issues.flatMap((issue) => {
    const base = issuePath(issue);
    // zod reports unknown keys once for their object; name each key instead.
    if (issue.code === 'unrecognized_keys' && issue.keys?.length) {
      return issue.keys.map((key) => ({ path: base ? `${base}.${key}` : key, message: 'is not a known field' }));
    }
    return [{ path: base || root, message: issue.message }];
  });
}

// Text PostgreSQL cannot store in text or jsonb: a NUL character, or a UTF-16
// surrogate without its pair (with the u flag, \p{Cs} matches only those).
const UNSTORABLE = /\0|\p{Cs}/u;
const UNSTORABLE_MESSAGE = 'holds a NUL character or an unpaired surrogate, which cannot be stored';

/** How deep a request value may nest (objects and arrays); deeper is refused before any schema or service walks it. */
export const MAX_DEPTH = 64;

/** What is wrong with a request value, and where: the keys and indexes down to it. */
export interface Flaw {
  path: (string | number)[];
  message: string;
}

/**
 * One walk over a request value (a body, query or param) before its schema
 * sees it. It removes the keys that could pollute prototypes (`__proto__`,
 * `prototype`, `constructor`, as Nest's stripProtoKeys does, which this walk
 * replaces), and finds the first key or string PostgreSQL cannot store, or
 * the first value nested deeper than MAX_DEPTH. Without the depth bound, a
 * few hundred kilobytes of `[[[[…]]]]` overflowed the stack of this and
 * later walks: a 500 where the caller should hear what is wrong. Paths are
 * built only for a flaw found. JSON and query strings give dense arrays.
 * `keep` leaves those keys for a caller that refuses them itself (a policy
 * bundle, where a dropped key would widen a rule).
 */
export function inspectRequestValue(value: unknown, depth = 0, protoKeys: 'strip' | 'keep' = 'strip'): Flaw | null {
  if (typeof value === 'string') return UNSTORABLE.test(value) ? { path: [], message: UNSTORABLE_MESSAGE } : null;
  if (value === null || typeof value !== 'object') return null;
  if (depth === MAX_DEPTH) return { path: [], message: `nests deeper than ${MAX_DEPTH} levels of objects and arrays` };
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const flaw = inspectRequestValue(value[i], depth + 1, protoKeys);
      if (flaw) {
        flaw.path.unshift(i);
        return flaw;
      }
    }
    return null;
  }
  const object = value as Record<string, unknown>;
  for (const key in object) {
    // Removed where the walk meets them (JSON.parse makes them own, enumerable keys), not by
    // three deletes on every object: the walk of a 100-event body took 25 µs with those, 17 without.
    if (protoKeys === 'strip' && (key === '__proto__' || key === 'prototype' || key === 'constructor')) {
      delete object[key];
      continue;
    }
    if (UNSTORABLE.test(key)) return { path: [key], message: UNSTORABLE_MESSAGE };
    const flaw = inspectRequestValue(object[key], depth + 1, protoKeys);
    if (flaw) {
      flaw.path.unshift(key);
      return flaw;
    }
  }
  return null;
}

/**
 * Nest's Standard Schema pipe, answering with Vitrine's `validation_failed`
 * problem. Bodies, queries and params holding text the database cannot store,
 * or nested too deep, are refused here, naming the field, for every route:
 * otherwise the write fails as a 500 (and an ingest fails every request of
 * its group commit).
 */
export class ProblemValidationPipe extends StandardSchemaValidationPipe {
  constructor() {
    super({ exceptionFactory: (issues) => new ValidationFailedError(issuesToProblems(issues as readonly Issue[], '')) });
  }

  /** inspectRequestValue has already removed these keys, in the same walk. */
  protected override stripProtoKeys(): void {}

  override async transform<T = unknown>(value: T, metadata: ArgumentMetadata): Promise<T> {
    const root = metadata.type === 'param' || metadata.type === 'query' ? (metadata.data ?? metadata.type) : 'body';
    if (metadata.type !== 'custom') {
      const flaw = inspectRequestValue(value);
      if (flaw) throw new ValidationFailedError([{ path: flaw.path.join('.') || String(root), message: flaw.message }]);
    }
    try {
      return await super.transform(value, metadata);
    } catch (error) {
      if (error instanceof ValidationFailedError && error.errors) {
        throw new ValidationFailedError(error.errors.map((e) => ({ ...e, path: e.path || String(root) })));
      }
      throw error;
    }
  }
}
