import { Inject, Injectable, Logger } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import type { EntityManager } from 'typeorm';
import { AuditService, type AuditEntry } from '../audit/audit.service.js';
import { PolicyDeniedError } from '../common/problem.js';
import type { Actor } from '../identity/actor.js';
import { loadBundle } from './bundle.js';
import { CompiledPolicy, type Explanation, type PolicyActor } from './policy-engine.js';
import type { Bind, SqlAttributes } from './policy-sql.js';
import { PolicyVersionsService } from './policy-versions.service.js';
import type { Action, Decision, Subject } from './policy.types.js';

/** A policy denial with the audit event it still owes (see PolicyService.recordDenial). */
export class AuditedDenialError extends PolicyDeniedError {
  recorded = false;

  constructor(
    reason: string,
    policy: { version: string | null; ruleId: string | null },
    readonly denial: AuditEntry,
  ) {
    super(reason, policy);
  }
}

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
  private defaultCompiled: CompiledPolicy | undefined;
  private readonly logger = new Logger('Policy');

  constructor(
    @Inject(PolicyVersionsService) private readonly versions: PolicyVersionsService,
    @Inject(AuditService) private readonly audit: AuditService,
  ) {}

  /** The actor's org's active policy; the actor carries the active version id read with its credentials. */
  async policyFor(actor: Actor): Promise<CompiledPolicy> {
    // Kept on the request's actor, so a decision later in its transaction needs no second connection.
    actor.policyVersionId ??= await this.versions.activeVersionId(actor.orgId);
    return this.compile(undefined, actor.orgId, actor.policyVersionId);
  }

  private async compile(manager: EntityManager | undefined, orgId: string, versionId: string): Promise<CompiledPolicy> {
    let policy = this.compiled.get(versionId);
    if (!policy) {
      const row = await this.versions.byId(orgId, versionId, manager);
      policy = new CompiledPolicy(String(row.version), loadBundle(row.source).bundle);
      this.compiled.set(versionId, policy);
    }
    return policy;
  }

  /** An org that never wrote a bundle is under the default one, which becomes its version 1. */
  private get defaultPolicy(): CompiledPolicy {
    this.defaultCompiled ??= new CompiledPolicy('1', this.versions.defaultBundle.bundle);
    return this.defaultCompiled;
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
   * The org's active policy as the caller's transaction sees it. It holds the
   * org's policy lock shared until commit, so an activation (which takes it
   * exclusively) waits for this change, then re-checks links against it.
   */
  async activeIn(manager: EntityManager, orgId: string): Promise<CompiledPolicy> {
    const versionId = await this.versions.activeVersionIdIn(manager, orgId);
    if (versionId === null) return this.defaultPolicy;
    return this.compile(manager, orgId, versionId);
  }

  async decide(actor: Actor, action: Action, subject: Subject, attributes?: Record<string, unknown>, policy?: CompiledPolicy): Promise<Decision> {
    return (policy ?? (await this.policyFor(actor))).decide(policyActor(actor), action, subject, attributes);
  }

  /**
   * Throws 403 `policy_denied` carrying the deciding rule and its reason. The
   * denial's audit event travels with the error and is appended by
   * recordDenial once the request has let go of its transaction's connection:
   * appended here, it would wait for a second connection while holding one,
   * and a burst of denials larger than the pool would starve it.
   */
  async assert(actor: Actor, action: Action, subject: Subject, attributes?: Record<string, unknown>, resourceId?: string | null, policy?: CompiledPolicy): Promise<Decision> {
    const decision = await this.decide(actor, action, subject, attributes, policy);
    if (!decision.allowed) {
      const cited = { version: decision.version, ruleId: decision.ruleId };
      const id = resourceId ?? (typeof attributes?.id === 'string' ? attributes.id : null);
      throw new AuditedDenialError(decision.reason, cited, {
        orgId: actor.orgId,
        actor,
        action: `${AUDIT_NAMES[subject]}.${action}`,
        resource: { type: subject, id },
        outcome: 'denied',
        reason: decision.reason,
        policy: cited,
      });
    }
    return decision;
  }

  /** Appends the audit event of a denial `assert` threw, on a connection of its own; undefined for any other error. */
  recordDenial(error: unknown): Promise<void> | undefined {
    if (!(error instanceof AuditedDenialError) || error.recorded) return undefined;
    error.recorded = true;
    return this.audit.recordNow(error.denial);
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
