import { ArgumentsHost, Catch, HttpException, Logger, type ExceptionFilter } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { QueryFailedError } from 'typeorm';
import { isDatabaseUnavailable, OutageWarnings } from '../database/unavailable.js';
import { AppError, type FieldProblem } from './problem.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** Seconds a client is told to wait before it retries a 503 (Retry-After); the Reporter backs off on its own as well. */
const RETRY_AFTER_SECONDS = 1;

/** An RFC 9457 problem document as Vitrine sends it. */
interface ProblemCore {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  errors?: FieldProblem[];
}
type ProblemBody = ProblemCore & Record<string, unknown>;
export type ProblemDocument = ProblemBody & { requestId: string | null };

const STATUS_CODES: Record<number, { code: string; title: string }> = {
  400: { code: 'bad_request', title: 'Bad request' },
  401: { code: 'unauthenticated', title: 'Unauthenticated' },
  403: { code: 'forbidden', title: 'Forbidden' },
  404: { code: 'not_found', title: 'Not found' },
  405: { code: 'method_not_allowed', title: 'Method not allowed' },
  406: { code: 'not_acceptable', title: 'Not acceptable' },
  409: { code: 'conflict', title: 'Conflict' },
  410: { code: 'gone', title: 'Gone' },
  413: { code: 'payload_too_large', title: 'Payload too large' },
  415: { code: 'unsupported_media_type', title: 'Unsupported media type' },
  429: { code: 'too_many_requests', title: 'Too many requests' },
  503: { code: 'unavailable', title: 'Service unavailable' },
};

function problem(status: number, code: string, title: string, detail: string, extra: Record<string, unknown> = {}): ProblemBody {
  return { type: `urn:vitrine:problem:${code}`, title, status, detail, code, ...extra };
}

/** What a violated unique constraint means to a user. */
const UNIQUE_MESSAGES: Record<string, string> = {
  uq_orgs_name: 'An org with this name already exists',
  uq_teams_org_name: 'A team with this name already exists in the org',
  uq_members_email_active: 'A member with this email already exists',
};

/** PostgreSQL constraint violations that reach the filter are conflicts, never 500s. */
function fromDatabaseError(error: QueryFailedError): ProblemBody | undefined {
  const driverError = error.driverError as { code?: string; constraint?: string; table?: string } | undefined;
  switch (driverError?.code) {
    case '23505':
      return problem(409, 'conflict', 'Conflict', UNIQUE_MESSAGES[driverError.constraint ?? ''] ?? 'A resource with the same unique value already exists');
    case '23503':
      return problem(409, 'conflict', 'Conflict', 'The request refers to a resource that does not exist, or another resource still refers to it');
    default:
      return undefined;
  }
}

/**
 * The problem document for an exception. `unexpected`: a fault of the
 * service, logged as an error; `unavailable`: the database could not be
 * reached (see isDatabaseUnavailable), answered 503 so the client retries.
 */
export function toProblem(
  exception: unknown,
  request: Request,
): { document: ProblemDocument; unexpected: boolean; unavailable?: boolean; retryAfterSeconds?: number } {
  const requestId = (request as Request & { id?: unknown }).id;
  const withId = (doc: ProblemBody) => ({ ...doc, requestId: requestId == null ? null : String(requestId) });

  if (exception instanceof AppError) {
    return {
      document: withId(
        problem(exception.status, exception.code, exception.title, exception.message, {
          ...(exception.errors ? { errors: exception.errors } : {}),
          ...exception.extensions,
        }),
      ),
      unexpected: false,
      retryAfterSeconds: exception.retryAfterSeconds,
    };
  }
  if (exception instanceof QueryFailedError) {
    const mapped = fromDatabaseError(exception);
    if (mapped) return { document: withId(mapped), unexpected: false };
  }
  if (isDatabaseUnavailable(exception)) {
    return {
      document: withId(problem(503, 'unavailable', 'Service unavailable', 'The database does not answer; try again shortly (a write cut off mid-way may or may not have taken effect: event ids make a retried report safe)')),
      unexpected: false,
      unavailable: true,
    };
  }
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const known = STATUS_CODES[status] ?? { code: status >= 500 ? 'internal_error' : 'bad_request', title: 'Error' };
    const detail =
      status === 404 ? `No route for ${request.method} ${request.path}` : status >= 500 ? 'An unexpected error occurred' : exception.message;
    return { document: withId(problem(status, known.code, known.title, detail)), unexpected: status >= 500 };
  }
  return {
    document: withId(problem(500, 'internal_error', 'Internal server error', 'An unexpected error occurred; the request id identifies it in the logs')),
    unexpected: true,
  };
}

export function sendProblem(response: Response, document: ProblemDocument, retryAfterSeconds?: number): void {
  if (response.headersSent) return;
  const retryAfter = retryAfterSeconds ?? (document.status === 503 ? RETRY_AFTER_SECONDS : undefined);
  if (retryAfter !== undefined) response.setHeader('Retry-After', String(retryAfter));
  response.status(document.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(document));
}

/** The one place HTTP errors become problem documents. */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('ProblemFilter');
  private readonly outage = new OutageWarnings(this.logger, 'the database does not answer: requests are answered 503 (failures: how many since the last warning)');

  /** `settle`: work an error still owes once its request's transaction has ended (a denial's audit event), done before the answer goes out. */
  constructor(private readonly settle?: (exception: unknown) => Promise<void> | undefined) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw exception;
    const owed = this.settle?.(exception);
    // If what was owed fails (the database went away), that failure is the answer.
    if (owed) owed.then(() => this.answer(exception, host), (failure: unknown) => this.answer(failure, host));
    else this.answer(exception, host);
  }

  private answer(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<Request>();
    const { document, unexpected, unavailable, retryAfterSeconds } = toProblem(exception, request);
    if (unexpected) this.logger.error({ err: exception, requestId: document.requestId }, 'unexpected error');
    if (unavailable) this.outage.note(exception, { requestId: document.requestId });
    sendProblem(http.getResponse<Response>(), document, retryAfterSeconds);
  }
}

/**
 * body-parser fails before Nest routes the request; this Express error
 * middleware gives those failures the same problem shape.
 */
export function bodyParserProblems(error: unknown, request: Request, response: Response, next: NextFunction): void {
  const e = error as { type?: string; status?: number; limit?: number; message?: string };
  const requestId = (request as Request & { id?: unknown }).id;
  const base = { requestId: requestId == null ? null : String(requestId) };
  switch (e?.type) {
    case 'entity.parse.failed':
      return sendProblem(response, { ...problem(400, 'malformed_json', 'Malformed JSON', `The request body is not valid JSON: ${e.message ?? ''}`.trim()), ...base });
    case 'entity.too.large':
      return sendProblem(response, {
        ...problem(413, 'payload_too_large', 'Payload too large', `The request body exceeds the limit of ${e.limit} bytes`),
        ...base,
      });
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return sendProblem(response, { ...problem(415, 'unsupported_media_type', 'Unsupported media type', e.message ?? 'Unsupported encoding'), ...base });
    case 'request.aborted':
      return sendProblem(response, { ...problem(400, 'bad_request', 'Bad request', 'The request was aborted'), ...base });
    default:
      return next(error);
  }
}
