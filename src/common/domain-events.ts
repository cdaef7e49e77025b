import { EventEmitter } from 'node:events';
import { Global, Injectable, Module } from '@nestjs/common';
import type { UserActor } from '../identity/actor.js';
import type { RunEventView, RunStatus } from '../runs/runs.schemas.js';

/** A run's fields that policy conditions may name (runAttributes), besides its org. */
export interface RunFacts {
  id: string;
  teamId: string | null;
  createdBy: string;
  status: RunStatus;
  labels: Record<string, string>;
  title: string;
}

/** Every domain event another part of Vitrine may react to, each naming its org. */
export interface DomainEventMap {
  /** Committed events of one run, contiguous and in seq order (ingest, cancel, stall marking); a status change follows as `run.updated`. */
  'run.events': { orgId: string; runId: string; events: RunEventView[] };
  /** A run's status changed. */
  'run.updated': { orgId: string; runId: string; status: RunStatus; lastSeq: number };
  /** A run was created: what policy decides reading it on, for the org's watchers of its runs. */
  'run.created': { orgId: string; run: RunFacts };
  /**
   * An artifact has a new revision, or, for a `run-summary` (rendered from its run on read, so its
   * revision stays 0), its run changed: `lastSeq` is then the run's last seq that its render now shows.
   */
  'artifact.revised': { orgId: string; artifactId: string; revision: number; lastSeq?: number };
  /** A member's role or teams changed (committed): what they may read is decided anew. */
  'member.changed': { orgId: string; memberId: string; role: UserActor['role']; teamIds: string[] };
  /** Another policy bundle became active for the org (committed): every decision is made anew under it. */
  'policy.activated': { orgId: string; version: number };
  /** A member was deactivated: every credential of theirs ended. */
  'member.deactivated': { orgId: string; memberId: string };
  /** A member logged out: the session's cookie no longer works. */
  'session.ended': { orgId: string; memberId: string; sessionId: string };
  /** A personal access token was revoked. */
  'token.revoked': { orgId: string; memberId: string; tokenId: string };
  /** A share stopped serving: revoked by a person, or by policy when what it serves no longer passes `publish`. */
  'share.revoked': { orgId: string; shareId: string; artifactId: string; by: 'user' | 'system'; reason: string | null };
}

export type DomainEventName = keyof DomainEventMap;

/**
 * The one seam for side effects others see. The service that owns a change
 * publishes after its transaction commits, never inside it, so a listener
 * never hears of a change that rolled back; features never know who listens.
 */
@Injectable()
export class DomainEvents {
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  publish<K extends DomainEventName>(name: K, payload: DomainEventMap[K]): void {
    this.emitter.emit(name, payload);
  }

  subscribe<K extends DomainEventName>(name: K, listener: (payload: DomainEventMap[K]) => void): () => void {
    this.emitter.on(name, listener);
    return () => this.emitter.off(name, listener);
  }
}

@Global()
@Module({ providers: [DomainEvents], exports: [DomainEvents] })
export class DomainEventsModule {}
