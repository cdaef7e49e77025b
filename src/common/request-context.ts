import { AsyncLocalStorage } from 'node:async_hooks';
import type { NextFunction, Request, Response } from 'express';

/** What the audit log records about the request a change came from. */
export interface RequestContext {
  requestId: string | null;
  ip: string | null;
  userAgent: string | null;
  /** The policy decision that let this request through the guard, if any. */
  decision?: { version: string; ruleId: string | null };
}

const storage = new AsyncLocalStorage<RequestContext>();

/** Runs the rest of the request inside its context; mount after the request-id middleware. */
export function requestContextMiddleware(request: Request, _response: Response, next: NextFunction): void {
  const userAgent = request.headers['user-agent'];
  storage.run(
    {
      requestId: (request as Request & { id?: string }).id ?? null,
      ip: request.ip ?? request.socket.remoteAddress ?? null,
      userAgent: typeof userAgent === 'string' ? userAgent.slice(0, 512) : null,
    },
    next,
  );
}

/** The current request's context; outside a request (start-up, background work) every field is null. */
export function currentRequestContext(): RequestContext {
  return storage.getStore() ?? { requestId: null, ip: null, userAgent: null };
}

/** Remembers the guard's decision so the change it allowed can cite it. */
export function rememberDecision(decision: { version: string; ruleId: string | null }): void {
  const store = storage.getStore();
  if (store) store.decision = decision;
}
