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
const join = (path: string, key: string | number) => (path ? `${path}.${key}` : String(key));

/** Where in a request value (a key or a string) text sits that cannot be stored, as a dotted path; null when nowhere. */
export function unstorablePath(value: unknown, path = ''): string | null {
  if (typeof value === 'string') return UNSTORABLE.test(value) ? path : null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = unstorablePath(value[i], join(path, i));
      if (found !== null) return found;
    }
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      const found = UNSTORABLE.test(key) ? join(path, key) : unstorablePath(item, join(path, key));
      if (found !== null) return found;
    }
  }
  return null;
}

/**
 * Nest's Standard Schema pipe, answering with Vitrine's `validation_failed`
 * problem. Bodies, queries and params holding text the database cannot store
 * are refused here, naming the field, for every route: otherwise the write
 * fails as a 500 (and an ingest fails every request of its group commit).
 */
export class ProblemValidationPipe extends StandardSchemaValidationPipe {
  constructor() {
    super({ exceptionFactory: (issues) => new ValidationFailedError(issuesToProblems(issues as readonly Issue[], '')) });
  }

  override async transform<T = unknown>(value: T, metadata: ArgumentMetadata): Promise<T> {
    const root = metadata.type === 'param' || metadata.type === 'query' ? (metadata.data ?? metadata.type) : 'body';
    if (metadata.type !== 'custom') {
      const at = unstorablePath(value);
      if (at !== null) throw new ValidationFailedError([{ path: at || String(root), message: 'holds a NUL character or an unpaired surrogate, which cannot be stored' }]);
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
