import { EventEmitter } from 'node:events';
import { Global, Injectable, Module } from '@nestjs/common';

/** Every domain event another part of Vitrine may react to, each naming its org. */
export interface DomainEventMap {
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
