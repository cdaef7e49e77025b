import { createMongoAbility, subject as asSubject, type MongoAbility, type RawRule } from '@casl/ability';
import { LRUCache } from 'lru-cache';
import type { Conditions, PolicyBundle, PolicyRule } from './bundle.js';
import { rulesToSql, type Bind, type SqlAttributes } from './policy-sql.js';
import type { Action, Decision, PolicyRole, Subject } from './policy.types.js';

/** What a decision knows about the caller. */
export interface PolicyActor {
  id: string;
  orgId: string;
  role: PolicyRole;
  teamIds: string[];
  /** Only for a run's reporter token. */
  runId?: string;
  /** The installation's first admin: the only one who creates orgs, whatever a bundle says. */
  installationAdmin?: boolean;
}

export interface ConsideredRule {
  id: string;
  effect: 'allow' | 'deny';
  /** The rule names this actor's role, the action and the subject type. */
  applies: boolean;
  /** It applies and its conditions hold for these attributes. */
  matched: boolean;
}

export interface Explanation extends Decision {
  decidedBy: { ruleId: string; effect: 'allow' | 'deny'; reason: string } | null;
  rules: ConsideredRule[];
}

// A value no attribute ever has: an actor without a run matches no `{{actor.runId}}` rule.
const NOTHING = '\u0000none';

function substitute(value: unknown, actor: PolicyActor): unknown {
  if (typeof value === 'string') {
    switch (value) {
      case '{{actor.id}}':
        return actor.id;
      case '{{actor.orgId}}':
        return actor.orgId;
      case '{{actor.teamIds}}':
        return actor.teamIds;
      case '{{actor.runId}}':
        return actor.runId ?? NOTHING;
      default:
        return value;
    }
  }
  if (Array.isArray(value)) return value.flatMap((v) => (v === '{{actor.teamIds}}' ? actor.teamIds : [substitute(v, actor)]));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, actor)]));
  return value;
}

type AppAbility = MongoAbility<[Action, Subject | Record<string, unknown>]>;
type TaggedRule = RawRule & { ruleId: string };

function appliesTo(rule: PolicyRule, actor: PolicyActor): boolean {
  return !rule.roles || rule.roles.includes(actor.role);
}

/**
 * One immutable bundle version, compiled. Abilities are built once per actor
 * shape (role, teams, run) and reused; deny rules are placed after allow
 * rules, and CASL gives later rules precedence, so a deny beats an allow
 * whatever their order in the bundle.
 */
export class CompiledPolicy {
  private readonly abilities = new LRUCache<string, AppAbility>({ max: 10_000 });
  private readonly byId: Map<string, PolicyRule>;
  private readonly reported = new Set<string>();

  constructor(
    readonly version: string,
    readonly bundle: PolicyBundle,
  ) {
    this.byId = new Map(bundle.rules.map((r) => [r.id, r]));
  }

  abilityFor(actor: PolicyActor): AppAbility {
    const key = `${actor.id}|${actor.role}|${actor.runId ?? ''}|${actor.teamIds.join(',')}`;
    let ability = this.abilities.get(key);
    if (!ability) {
      const rules = this.bundle.rules.filter((r) => appliesTo(r, actor));
      const ordered = [...rules.filter((r) => r.effect === 'allow'), ...rules.filter((r) => r.effect === 'deny')];
      const raw: TaggedRule[] = ordered.map((r) => ({
        action: r.actions,
        subject: r.subject,
        inverted: r.effect === 'deny',
        ...(r.conditions ? { conditions: substitute(r.conditions, actor) as Conditions } : {}),
        reason: r.reason,
        ruleId: r.id,
      }));
      ability = createMongoAbility<AppAbility>(raw as never);
      this.abilities.set(key, ability);
    }
    return ability;
  }

  /**
   * Without attributes: may the actor do this to some `subject` at all (the
   * guard's type-level check). With attributes: to this one resource.
   */
  decide(actor: PolicyActor, action: Action, subject: Subject, attributes?: Record<string, unknown>): Decision {
    // Orgs are above any one org's bundle.
    if (subject === 'Org' && action === 'create' && !actor.installationAdmin) {
      return { allowed: false, ruleId: null, reason: 'Only the installation admin creates orgs', version: this.version };
    }
    const ability = this.abilityFor(actor);
    const target = attributes ? asSubject(subject, { ...attributes }) : subject;
    const allowed = ability.can(action, target as never);
    const rule = ability.relevantRuleFor(action, target as never);
    const tagged = rule?.origin as TaggedRule | undefined;
    if (allowed) return { allowed, ruleId: tagged?.ruleId ?? null, reason: rule?.reason ?? '', version: this.version };
    if (tagged && rule?.inverted && (attributes || !rule.conditions)) {
      return { allowed, ruleId: tagged.ruleId, reason: rule.reason ?? '', version: this.version };
    }
    return { allowed, ruleId: null, reason: `No rule allows a ${actor.role} to ${action} ${subject}${attributes ? ' with these attributes' : ''}`, version: this.version };
  }

  /**
   * The rows of `subject` the actor may `action`, as one SQL condition over the
   * list query's `attributes` (see rulesToSql): it selects exactly the rows
   * decide() allows, so a list can page over what its caller may see. A
   * condition SQL cannot say exactly hides rather than shows, and is reported
   * once per rule and reason.
   */
  sqlFilter(actor: PolicyActor, action: Action, subject: Subject, attributes: SqlAttributes, bind: Bind, report?: (ruleId: string, why: string) => void): string {
    if (subject === 'Org') return 'FALSE';
    return rulesToSql(this.abilityFor(actor), action, subject, attributes, bind, (ruleId, why) => {
      const key = `${ruleId}|${why}`;
      if (this.reported.has(key) || this.reported.size > 1_000) return;
      this.reported.add(key);
      report?.(ruleId, why);
    });
  }

  /** The decision, with every rule that was considered and whether it matched. */
  explain(actor: PolicyActor, action: Action, subject: Subject, attributes?: Record<string, unknown>): Explanation {
    const decision = this.decide(actor, action, subject, attributes);
    const ability = this.abilityFor(actor);
    const considered = new Map<string, boolean>();
    for (const rule of ability.rulesFor(action, subject as never)) {
      const id = (rule.origin as TaggedRule).ruleId;
      considered.set(id, attributes ? rule.matchesConditions(asSubject(subject, { ...attributes }) as never) : !rule.conditions);
    }
    const rules = this.bundle.rules.map((r) => ({
      id: r.id,
      effect: r.effect,
      applies: considered.has(r.id),
      matched: considered.get(r.id) ?? false,
    }));
    const decided = decision.ruleId ? this.byId.get(decision.ruleId) : undefined;
    return {
      ...decision,
      decidedBy: decided ? { ruleId: decided.id, effect: decided.effect, reason: decided.reason } : null,
      rules,
    };
  }
}
