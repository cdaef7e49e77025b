import { Injectable } from '@nestjs/common';
import { ValidationFailedError } from '../common/problem.js';
import type { UserActor } from '../identity/actor.js';
import type { PolicyActor } from './policy-engine.js';
import type { Subject } from './policy.types.js';

/** Reads a resource of the caller's org by id and answers what policy conditions may name (404 when it is not there). */
export type AttributeLookup = (actor: UserActor, id: string) => Promise<Record<string, unknown>>;

/** A share link valid now, as policy saw it when it was made: who made it (as they are now) and the publish request. */
export interface ShareCandidate {
  shareId: string;
  artifactId: string;
  /** Null when the member who made the link is gone. */
  actor: PolicyActor | null;
  /** The artifact's attributes with `share: {audience, expiresInSeconds, pinned}`. */
  attributes: Record<string, unknown>;
}

/**
 * Where policy finds the resources it decides about, filled in by the modules
 * that own them (runs, artifacts, sharing), so that `src/policy` depends on none of them.
 */
@Injectable()
export class PolicyResources {
  private readonly lookups = new Map<Subject, AttributeLookup>();
  private shareSource: ((orgId: string) => Promise<ShareCandidate[]>) | undefined;

  registerAttributes(subject: Subject, lookup: AttributeLookup): void {
    this.lookups.set(subject, lookup);
  }

  registerShares(source: (orgId: string) => Promise<ShareCandidate[]>): void {
    this.shareSource = source;
  }

  async attributesOf(actor: UserActor, subject: Subject, id: string): Promise<Record<string, unknown>> {
    const lookup = this.lookups.get(subject);
    if (!lookup) throw new ValidationFailedError([{ path: 'resource.id', message: `a ${subject} cannot be looked up by id; pass resource.attributes` }]);
    return lookup(actor, id);
  }

  /** The org's share links that are valid now (not revoked, not expired). */
  validShares(orgId: string): Promise<ShareCandidate[]> {
    return this.shareSource ? this.shareSource(orgId) : Promise.resolve([]);
  }
}
