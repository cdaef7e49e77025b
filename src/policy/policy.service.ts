import { Inject, Injectable, Logger } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import { AuditService } from '../audit/audit.service.js';
import { PolicyDeniedError } from '../common/problem.js';
import type { Actor } from '../identity/actor.js';
import { loadBundle } from './bundle.js';
import { CompiledPolicy, type Explanation, type PolicyActor } from './policy-engine.js';
import type { Bind, SqlAttributes } from './policy-sql.js';
import { PolicyVersionsService } from './policy-versions.service.js';
import type { Action, Decision, Subject } from './policy.types.js';

/** How the audit log names a subject in its `resource.verb` actions. */
export const AUDIT_NAMES: Record<Subject, string> = {
  Run: 'run',
  Artifact: 'artifact',
  Share: 'share',
  Skill: 'skill',
  Tool: 'tool',
  Member: 'member',
  Team: 'team',
  Policy: 'policy',
  AuditEvent: 'audit',
  Org: 'org',
};

export function policyActor(actor: Actor): PolicyActor {
  return actor.type === 'agent'
    ? { id: actor.id, orgId: actor.orgId, role: actor.role, teamIds: actor.teamIds, runId: actor.runId }
    : { id: actor.id, orgId: actor.orgId, role: actor.role, teamIds: actor.teamIds, installationAdmin: actor.installationAdmin };
}

/**
 * The one place that decides access: the org's active bundle, compiled once
 * per version (versions are immutable, so the cache never goes stale) and
 * evaluated with CASL.
 */
@Injectable()
export class PolicyService {
  private readonly compiled = new LRUCache<string, CompiledPolicy>({ max: 1_000 });
  private readonly logger = new Logger('Policy');

  constructor(
    @Inject(PolicyVersionsService) private readonly versions: PolicyVersionsService,
    @Inject(AuditService) private readonly audit: AuditService,
  ) {}

  /** The actor's org's active policy; the actor carries the active version id read with its credentials. */
  async policyFor(actor: Actor): Promise<CompiledPolicy> {
    const versionId = actor.policyVersionId ?? (await this.versions.activeVersionId(actor.orgId));
    let policy = this.compiled.get(versionId);
    if (!policy) {
      const row = await this.versions.byId(actor.orgId, versionId);
      policy = new CompiledPolicy(String(row.version), loadBundle(row.source).bundle);
      this.compiled.set(versionId, policy);
    }
    return policy;
  }

  async decide(actor: Actor, action: Action, subject: Subject, attributes?: Record<string, unknown>): Promise<Decision> {
    const policy = await this.policyFor(actor);
    return policy.decide(policyActor(actor), action, subject, attributes);
  }

  /**
   * The SQL condition a list adds to its query so that it selects only the
   * rows the actor may `read` (items hidden from the caller are skipped before
   * the page is cut). `attributes` say how the subject's policy attributes
   * read over the query's alias; `bind` takes each value as a parameter.
   */
  async readFilter(actor: Actor, subject: Subject, attributes: SqlAttributes, bind: Bind): Promise<string> {
    const policy = await this.policyFor(actor);
    return policy.sqlFilter(policyActor(actor), 'read', subject, attributes, bind, (ruleId, why) =>
      this.logger.warn(`Policy version ${policy.version}, rule ${ruleId}: ${why} has no exact SQL form, so lists of ${subject} leave out the rows it would decide`),
    );
  }

  /**
   * Throws 403 `policy_denied` carrying the deciding rule and its reason; the
   * denial is audited on its own (the caller's transaction will roll back).
   */
  async assert(actor: Actor, action: Action, subject: Subject, attributes?: Record<string, unknown>, resourceId?: string | null): Promise<Decision> {
    const decision = await this.decide(actor, action, subject, attributes);
    if (!decision.allowed) {
      const policy = { version: decision.version, ruleId: decision.ruleId };
      const id = resourceId ?? (typeof attributes?.id === 'string' ? attributes.id : null);
      await this.audit.recordNow({
        orgId: actor.orgId,
        actor,
        action: `${AUDIT_NAMES[subject]}.${action}`,
        resource: { type: subject, id },
        outcome: 'denied',
        reason: decision.reason,
        policy,
      });
      throw new PolicyDeniedError(decision.reason, policy);
    }
    return decision;
  }

  async explain(
    actor: Actor,
    target: PolicyActor,
    action: Action,
    subject: Subject,
    attributes: Record<string, unknown> | undefined,
    draft?: CompiledPolicy,
  ): Promise<Explanation> {
    const policy = draft ?? (await this.policyFor(actor));
    return policy.explain(target, action, subject, attributes);
  }
}
