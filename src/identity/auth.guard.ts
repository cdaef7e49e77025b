import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { APP_CONFIG, type AppConfig } from '../config/config.schema.js';
import { CsrfRejectedError, UnauthenticatedError } from '../common/problem.js';
import { requestContext } from '../common/request-context.js';
import type { RequestWithActor } from './actor.js';
import { AuthService, SESSION_COOKIE } from './auth.service.js';
import { IS_PUBLIC_KEY } from './public.decorator.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Authenticates every request: a bearer token, else the session cookie.
 * Public routes run without an actor, and ignore stale credentials.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    @Inject(Reflector) private readonly reflector: Reflector,
    @Inject(AuthService) private readonly auth: AuthService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const request = context.switchToHttp().getRequest<RequestWithActor>();
    const isPublic = this.reflector.getAllAndOverride<boolean>(IS_PUBLIC_KEY, [context.getHandler(), context.getClass()]);
    try {
      await this.authenticate(request);
    } catch (error) {
      // A public route ignores a stale credential, but never a cross-site cookie request.
      if (!isPublic || error instanceof CsrfRejectedError) throw error;
    }
    if (!request.actor && !isPublic) throw new UnauthenticatedError();
    return true;
  }

  private async authenticate(request: RequestWithActor): Promise<void> {
    const authorization = request.headers.authorization;
    if (authorization !== undefined) {
      const match = /^Bearer\s+(\S+)$/i.exec(authorization);
      if (!match) throw new UnauthenticatedError('The Authorization header must be "Bearer <token>"');
      // A copy per request: the auth service caches actors, and the context is this request's own.
      request.actor = { ...(await this.auth.actorForToken(match[1]!)), context: requestContext(request) };
      return;
    }
    const session = (request.cookies as Record<string, string> | undefined)?.[SESSION_COOKIE];
    if (session) {
      if (!SAFE_METHODS.has(request.method) && !this.sameOrigin(request)) throw new CsrfRejectedError();
      request.actor = { ...(await this.auth.actorForSession(session)), context: requestContext(request) };
    }
  }

  /**
   * Cookies ride along on cross-site requests, so a state-changing request
   * authenticated by one must prove it comes from this origin.
   */
  private sameOrigin(request: RequestWithActor): boolean {
    const fetchSite = request.headers['sec-fetch-site'];
    if (fetchSite === 'same-origin') return true;
    if (fetchSite === 'cross-site' || fetchSite === 'same-site') return false;
    const source = request.headers.origin ?? request.headers.referer;
    if (!source || source === 'null') return false;
    let origin: string;
    try {
      origin = new URL(source).origin;
    } catch {
      return false;
    }
    const own = `${request.protocol}://${request.headers.host}`;
    const allowed = new Set([own]);
    if (this.config.publicUrl) allowed.add(new URL(this.config.publicUrl).origin);
    return allowed.has(origin);
  }
}
