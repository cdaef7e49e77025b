import { applyDecorators } from '@nestjs/common';
import { ApiExtension, ApiResponse } from '@nestjs/swagger';
import { PROBLEM_CONTENT_TYPE } from './problem.filter.js';

const DESCRIPTIONS: Record<number, string> = {
  400: 'Bad input: `validation_failed` (every bad field in `errors`; also text holding a NUL character or an unpaired surrogate, and values nested deeper than 64 levels of objects and arrays) or `malformed_json`',
  401: '`unauthenticated` (or `invalid_credentials` on login)',
  403: '`policy_denied` (with `policy.ruleId` and the reason in `detail`) or `csrf_rejected`',
  404: '`not_found`: unknown id, or one of another org',
  409: '`conflict`: the request collides with existing state',
  413: '`payload_too_large`: the body exceeds the size limit',
  429: '`too_many_requests`: too many failed sign-ins for this account or from this address within the window; no password is checked, not even a right one, until the `Retry-After` header\'s seconds have passed',
  503: '`unavailable`: the database does not answer; try again (the `Retry-After` header says when)',
};

/** The answers that carry Retry-After (see sendProblem). */
const RETRY_AFTER = { 'Retry-After': { description: 'Seconds to wait before trying again', schema: { type: 'integer', minimum: 1 } } };

/** The OpenAPI response object of a problem+json answer. */
export function problemResponse(status: number, description = DESCRIPTIONS[status] ?? 'Error') {
  return {
    description,
    ...(status === 429 || status === 503 ? { headers: RETRY_AFTER } : {}),
    content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: '#/components/schemas/Problem' } } },
  };
}

/** 503 on the routes that hash a password: the database, or the bound on password hashing (see PasswordsService). */
export const PASSWORD_HASHING_503 =
  '`unavailable`: the database does not answer, or too many passwords are being checked at once; try again (the `Retry-After` header says when)';

/** Documents the problem+json answers a route can give (503 `unavailable` is added to every route that reads the database, see openapi.ts). */
export const ApiProblems = (...statuses: number[]) => applyDecorators(...statuses.map((status) => ApiProblem(status)));

/** One problem+json answer, with a description of its own. */
export const ApiProblem = (status: number, description?: string) => ApiResponse({ status, ...problemResponse(status, description) });

/** Marks an operation that needs no account; openapi.ts turns the mark into `security: []` (an empty list set through Nest's own security metadata is dropped). */
export const PUBLIC_OPERATION = 'x-vitrine-public';

/** Documents a route (or every route of a controller) as one that needs no account; applied by the `Public` decorator. */
export const ApiPublic = () => ApiExtension(PUBLIC_OPERATION, true);
