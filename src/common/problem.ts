/** One field-level problem, as `errors[]` of a problem document carries it. */
export interface FieldProblem {
  path: string;
  message: string;
  line?: number;
}

/**
 * A domain error with a stable `code`. Domain code throws these; the problem
 * filter turns them into RFC 9457 documents.
 */
export class AppError extends Error {
  /** Sent as the Retry-After header (seconds), where the client should wait before it tries again. */
  retryAfterSeconds?: number;

  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    detail: string,
    readonly errors?: FieldProblem[],
    readonly extensions?: Record<string, unknown>,
  ) {
    super(detail);
    this.name = 'AppError';
  }
}

export class ValidationFailedError extends AppError {
  constructor(errors: FieldProblem[], detail?: string) {
    super(
      400,
      'validation_failed',
      'Validation failed',
      detail ?? `${errors.length} field${errors.length === 1 ? '' : 's'} failed validation: ${errors.map((e) => e.path || '(body)').join(', ')}`,
      errors,
    );
  }
}

export class NotFoundError extends AppError {
  constructor(resource: string, id?: string) {
    super(404, 'not_found', 'Not found', id ? `${resource} ${id} was not found` : `${resource} was not found`);
  }
}

export class UnauthenticatedError extends AppError {
  constructor(detail = 'Authentication is required: send a bearer token or log in') {
    super(401, 'unauthenticated', 'Unauthenticated', detail);
  }
}

export class InvalidCredentialsError extends AppError {
  constructor() {
    super(401, 'invalid_credentials', 'Invalid credentials', 'The email or password is wrong');
  }
}

export class ConflictError extends AppError {
  constructor(detail: string, code = 'conflict') {
    super(409, code, 'Conflict', detail);
  }
}

export class PolicyDeniedError extends AppError {
  constructor(reason: string, policy: { version: string | null; ruleId: string | null }) {
    super(403, 'policy_denied', 'Denied by policy', reason, undefined, { policy });
  }
}

export class CsrfRejectedError extends AppError {
  constructor() {
    super(
      403,
      'csrf_rejected',
      'Cross-site request rejected',
      'A cookie-authenticated request that changes state must come from this origin',
    );
  }
}

/** Too many failed sign-ins for an account or from an address: no password is checked until the window ends. */
export class TooManyRequestsError extends AppError {
  constructor(detail: string, retryAfterSeconds: number) {
    super(429, 'too_many_requests', 'Too many requests', detail);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** The service is too busy to take the request now (it would only queue); the client retries shortly. */
export class UnavailableError extends AppError {
  constructor(detail: string, retryAfterSeconds = 1) {
    super(503, 'unavailable', 'Service unavailable', detail);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}
