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

/** Nest's Standard Schema pipe, answering with Vitrine's `validation_failed` problem. */
export class ProblemValidationPipe extends StandardSchemaValidationPipe {
  constructor() {
    super({ exceptionFactory: (issues) => new ValidationFailedError(issuesToProblems(issues as readonly Issue[], '')) });
  }

  override async transform<T = unknown>(value: T, metadata: ArgumentMetadata): Promise<T> {
    try {
      return await super.transform(value, metadata);
    } catch (error) {
      if (error instanceof ValidationFailedError && error.errors) {
        const root = metadata.type === 'param' || metadata.type === 'query' ? (metadata.data ?? metadata.type) : 'body';
        throw new ValidationFailedError(error.errors.map((e) => ({ ...e, path: e.path || String(root) })));
      }
      throw error;
    }
  }
}
