import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';

/** What the audit log records about the request a change came from. */
export interface RequestContext {
  requestId: string | null;
  ip: string | null;
  userAgent: string | null;
  /** The policy decision that let this request through the guard, if any. */
  decision?: { version: string; ruleId: string | null };
}

/** Outside a request (start-up, background work) every field is null. */
export const NO_REQUEST: Readonly<RequestContext> = Object.freeze({ requestId: null, ip: null, userAgent: null });

export interface RequestWithContext extends Request {
  context?: RequestContext;
}

/**
 * Gives the request its context object; mount after the request-id
 * middleware. The context travels explicitly from here (on the actor, see
 * AuthGuard, or as an argument), not through AsyncLocalStorage: a write that
 * groups several requests (the run ingest) must audit each with its own
 * request, and on Node 20 AsyncLocalStorage puts a hook on every promise.
 */
export function requestContextMiddleware(request: Request, _response: Response, next: NextFunction): void {
  const userAgent = request.headers['user-agent'];
  (request as RequestWithContext).context = {
    requestId: (request as Request & { id?: string }).id ?? null,
    ip: request.ip ?? request.socket.remoteAddress ?? null,
    userAgent: typeof userAgent === 'string' ? userAgent.slice(0, 512) : null,
  };
  next();
}

/** The request's context; NO_REQUEST where the middleware did not run. */
export function requestContext(request: Request): RequestContext {
  return (request as RequestWithContext).context ?? NO_REQUEST;
}

/** Remembers the guard's decision so the change it allowed can cite it. */
export function rememberDecision(request: Request, decision: { version: string; ruleId: string | null }): void {
  const context = (request as RequestWithContext).context;
  if (context) context.decision = decision;
}

/** The request context, for routes whose audited changes have no authenticated actor to carry it (logins, public views). */
export const CurrentRequest = createParamDecorator((_data: unknown, context: ExecutionContext) => requestContext(context.switchToHttp().getRequest<Request>()));
