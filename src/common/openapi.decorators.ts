import { applyDecorators } from '@nestjs/common';
import { ApiResponse } from '@nestjs/swagger';
import { PROBLEM_CONTENT_TYPE } from './problem.filter.js';

const DESCRIPTIONS: Record<number, string> = {
  400: 'Bad input: `validation_failed` (every bad field in `errors`; also text holding a NUL character or an unpaired surrogate, and values nested deeper than 64 levels of objects and arrays) or `malformed_json`',
  401: '`unauthenticated` (or `invalid_credentials` on login)',
  403: '`policy_denied` (with `policy.ruleId` and the reason in `detail`) or `csrf_rejected`',
  404: '`not_found`: unknown id, or one of another org',
  409: '`conflict`: the request collides with existing state',
  413: '`payload_too_large`: the body exceeds the size limit',
  503: '`unavailable`: a dependency is down',
};

/** Documents the problem+json answers a route can give. */
export const ApiProblems = (...statuses: number[]) =>
  applyDecorators(
    ...statuses.map((status) =>
      ApiResponse({
        status,
        description: DESCRIPTIONS[status] ?? 'Error',
        content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: '#/components/schemas/Problem' } } },
      }),
    ),
  );
