import { Injectable } from '@nestjs/common';
import { PolicyDeniedError } from '../common/problem.js';
import type { Actor } from '../identity/actor.js';
import type { Action, Decision, Subject } from './policy.types.js';
import { decideByRole } from './role-rules.js';

/** The one place that decides access. */
@Injectable()
export class PolicyService {
  decide(actor: Actor, action: Action, subject: Subject): Decision {
    return decideByRole(actor, action, subject);
  }

  /** Throws 403 `policy_denied` carrying the deciding rule and its reason. */
  assert(actor: Actor, action: Action, subject: Subject): Decision {
    const decision = this.decide(actor, action, subject);
    if (!decision.allowed) throw new PolicyDeniedError(decision.reason, { version: decision.version, ruleId: decision.ruleId });
    return decision;
  }
}
