import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { ValidationFailedError } from '../common/problem.js';
import type { DomainEvents } from '../common/domain-events.js';
import type { RequestContext } from '../common/request-context.js';
import type { UserActor } from '../identity/actor.js';
import type { CompiledPolicy, PolicyActor } from './policy-engine.js';
import type { Subject } from './policy.types.js';

/** Reads a resource of the caller's org by id and answers what policy conditions may name (404 when it is not there). */
export type AttributeLookup = (actor: UserActor, id: string) => Promise<Record<string, unknown>>;

/** A share valid now that `publish` would deny under some policy: which rule denies it, and why. */
export interface DeniedLink {
  shareId: string;
  artifactId: string;
  ruleId: string | null;
  reason: string;
}

/** Which valid shares to check: every one of the org's, or one artifact's. */
export interface LinkScope {
  orgId: string;
  artifactId?: string;
}

/** What the sharing module does for policy: find the links a policy denies, and revoke them. */
export interface LinkGuard {
  /** The valid shares in scope that `policy` denies now, a page at a time; it changes nothing. */
  denied(manager: EntityManager, scope: LinkScope, policy: CompiledPolicy): AsyncGenerator<DeniedLink[]>;
  /** Revokes them as the system, naming the rule, each audited as `share.revoke` in the caller's transaction. */
  revoke(manager: EntityManager, orgId: string, links: readonly DeniedLink[], policyVersion: string, context: RequestContext | undefined): Promise<void>;
}

/**
 * Where policy finds the resources it decides about, filled in by the modules
 * that own them (identity, artifacts, sharing), so that `src/policy` depends on none of them.
 */
@Injectable()
export class PolicyResources {
  private readonly lookups = new Map<Subject, AttributeLookup>();
  private links: LinkGuard | undefined;
  private admins: ((manager: EntityManager, orgId: string) => Promise<PolicyActor[]>) | undefined;

  registerAttributes(subject: Subject, lookup: AttributeLookup): void {
    this.lookups.set(subject, lookup);
  }

  registerLinks(guard: LinkGuard): void {
    this.links = guard;
  }

  registerAdmins(source: (manager: EntityManager, orgId: string) => Promise<PolicyActor[]>): void {
    this.admins = source;
  }

  async attributesOf(actor: UserActor, subject: Subject, id: string): Promise<Record<string, unknown>> {
    const lookup = this.lookups.get(subject);
    if (!lookup) throw new ValidationFailedError([{ path: 'resource.id', message: `a ${subject} cannot be looked up by id; pass resource.attributes` }]);
    return lookup(actor, id);
  }

  /** The org's active admins as policy sees them. */
  activeAdmins(manager: EntityManager, orgId: string): Promise<PolicyActor[]> {
    if (!this.admins) throw new Error('no module registered the org admins');
    return this.admins(manager, orgId);
  }

  /** The valid links in scope that `policy` would deny, a page at a time (the dry run lists these). */
  deniedLinks(manager: EntityManager, scope: LinkScope, policy: CompiledPolicy): AsyncGenerator<DeniedLink[]> {
    if (!this.links) throw new Error('no module registered the share links');
    return this.links.denied(manager, scope, policy);
  }

  /**
   * Revokes, in the caller's transaction, exactly the links deniedLinks finds:
   * all are found before any is revoked, so a revocation cannot change what a
   * later page is decided on, and the dry run's list is what this revokes.
   * The caller publishes `share.revoked` for each after it commits.
   */
  async revokeDeniedLinks(manager: EntityManager, scope: LinkScope, policy: CompiledPolicy, context: RequestContext | undefined): Promise<DeniedLink[]> {
    const denied: DeniedLink[] = [];
    for await (const page of this.deniedLinks(manager, scope, policy)) denied.push(...page);
    for (let i = 0; i < denied.length; i += REVOKE_BATCH) await this.links!.revoke(manager, scope.orgId, denied.slice(i, i + REVOKE_BATCH), policy.version, context);
    return denied;
  }
}

const REVOKE_BATCH = 1_000;

/** After the commit that revoked them: tells whoever listens that these links stopped serving. */
export function publishRevokedLinks(events: DomainEvents, orgId: string, links: readonly DeniedLink[]): void {
  for (const link of links) events.publish('share.revoked', { orgId, shareId: link.shareId, artifactId: link.artifactId, by: 'system', reason: link.reason });
}
