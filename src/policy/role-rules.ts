import type { UserActor } from '../identity/actor.js';
import type { Role } from '../identity/member.entity.js';
import type { Action, Decision, Subject } from './policy.types.js';

/**
 * The built-in access rules until admin-written policy bundles land. They are
 * data, evaluated in one place, so the policy engine can replace them without
 * touching a controller.
 */
interface RoleRule {
  id: string;
  effect: 'allow' | 'deny';
  roles?: Role[];
  actions: Action[];
  subject: Subject | 'all';
  /** Extra condition on the actor; a rule whose condition fails does not apply. */
  when?: (actor: UserActor) => boolean;
  reason: string;
}

export const BUILTIN_POLICY_VERSION = 'builtin-1';

const RULES: RoleRule[] = [
  {
    id: 'installation-admins-create-orgs',
    effect: 'allow',
    roles: ['admin'],
    actions: ['create'],
    subject: 'Org',
    when: (actor) => actor.installationAdmin,
    reason: 'The installation admin creates orgs',
  },
  {
    id: 'admins-manage-members',
    effect: 'allow',
    roles: ['admin'],
    actions: ['manage'],
    subject: 'Member',
    reason: 'Admins manage the members of their org',
  },
  {
    id: 'admins-manage-teams',
    effect: 'allow',
    roles: ['admin'],
    actions: ['manage'],
    subject: 'Team',
    reason: 'Admins manage the teams of their org',
  },
  {
    id: 'everyone-reads-members',
    effect: 'allow',
    actions: ['read'],
    subject: 'Member',
    reason: 'Everyone in an org can see who else is in it',
  },
  {
    id: 'everyone-reads-teams',
    effect: 'allow',
    actions: ['read'],
    subject: 'Team',
    reason: 'Everyone in an org can see its teams',
  },
];

function applies(rule: RoleRule, actor: UserActor, action: Action, subject: Subject): boolean {
  if (rule.roles && !rule.roles.includes(actor.role)) return false;
  if (rule.subject !== 'all' && rule.subject !== subject) return false;
  if (!rule.actions.includes(action) && !rule.actions.includes('manage')) return false;
  return rule.when ? rule.when(actor) : true;
}

/** Deny beats allow; an action no rule allows is denied. */
export function decideByRole(actor: UserActor, action: Action, subject: Subject): Decision {
  const matching = RULES.filter((rule) => applies(rule, actor, action, subject));
  const deny = matching.find((rule) => rule.effect === 'deny');
  const decided = deny ?? matching.find((rule) => rule.effect === 'allow');
  if (!decided) {
    return {
      allowed: false,
      ruleId: null,
      reason: `No rule allows a ${actor.role} to ${action} ${subject}`,
      version: BUILTIN_POLICY_VERSION,
    };
  }
  return { allowed: decided.effect === 'allow', ruleId: decided.id, reason: decided.reason, version: BUILTIN_POLICY_VERSION };
}
