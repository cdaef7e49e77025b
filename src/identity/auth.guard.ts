import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { APP_CONFIG, type AppConfig } from '../config/config.schema.js';
import { CsrfRejectedError, UnauthenticatedError } from '../common/problem.js';
import { requestContext } from '../common/request-context.js';
import type { RequestWithActor } from './actor.js';
import { AuthService, SESSION_COOKIE, SHARE_PREFIX } from './auth.service.js';
import { IS_PUBLIC_KEY } from './public.decorator.js';
import { isSameOrigin } from './same-origin.js';

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
    let token: string | undefined;
    if (authorization !== undefined) {
      const match = /^Bearer\s+(\S+)$/i.exec(authorization);
      if (!match) throw new UnauthenticatedError('The Authorization header must be "Bearer <token>"');
      token = match[1]!;
    }
    // A link's token opens its page (/s/{token}) and its live stream, not the API: refused before any lookup.
    if (token?.startsWith(SHARE_PREFIX)) throw new UnauthenticatedError('A share token opens only its link, not the API');
    const session = (request.cookies as Record<string, string> | undefined)?.[SESSION_COOKIE];
    const cookieAllowed = token !== undefined || !session || SAFE_METHODS.has(request.method) || isSameOrigin(request.headers, request.protocol as 'http' | 'https', this.config.publicUrl);
    const principal = await this.auth.verify({ token, session, cookieAllowed });
    if (!principal) return;
    if (principal.type === 'share') throw new UnauthenticatedError('A share token opens only its link, not the API');
    // A copy per request: the auth service caches actors, and the context is this request's own.
    request.actor = { ...principal, context: requestContext(request) };
  }
}
