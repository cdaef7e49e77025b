import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { PolicyDeniedError, UnauthenticatedError } from '../common/problem.js';
import { rememberDecision } from '../common/request-context.js';
import type { RequestWithActor } from '../identity/actor.js';
import { IS_PUBLIC_KEY } from '../identity/public.decorator.js';
import { AUTHORIZE_KEY, type AuthorizeMetadata } from './authorize.decorator.js';
import { PolicyService } from './policy.service.js';

/**
 * Type-level check for every route: a route must declare what it does
 * (`@Authorize`, `@SelfService` or `@Public`); one that declares nothing is denied.
 */
@Injectable()
export class PolicyGuard implements CanActivate {
  constructor(
    @Inject(Reflector) private readonly reflector: Reflector,
    @Inject(PolicyService) private readonly policy: PolicyService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    // Socket.IO messages carry no route: the live gateway authenticates the handshake and checks `read` on each loaded row.
    if (context.getType() !== 'http') return true;
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC_KEY, targets)) return true;
    const request = context.switchToHttp().getRequest<RequestWithActor>();
    const actor = request.actor;
    if (!actor) throw new UnauthenticatedError();
    const declared = this.reflector.getAllAndOverride<AuthorizeMetadata | undefined>(AUTHORIZE_KEY, targets);
    if (!declared) throw new PolicyDeniedError('This route declares no access rule, so it is denied', { version: null, ruleId: null });
    if ('self' in declared) {
      // Self-service is about a member's own identity; a run's reporter token has none.
      if (actor.type !== 'user') throw new PolicyDeniedError('A reporter token reports to its run; it has no account of its own', { version: null, ruleId: null });
      return true;
    }
    const id = request.params?.id;
    const decision = await this.policy.assert(actor, declared.action, declared.subject, undefined, typeof id === 'string' ? id : null);
    // The change this request makes cites the rule that let it through.
    rememberDecision(request, { version: decision.version, ruleId: decision.ruleId });
    return true;
  }
}
