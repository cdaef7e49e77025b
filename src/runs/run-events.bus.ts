import { EventEmitter } from 'node:events';
import { Injectable } from '@nestjs/common';
import type { RunStatus } from './run.entity.js';
import type { RunEventView } from './runs.schemas.js';

/** Committed events of one run, in seq order, with the run's status after them. */
export interface CommittedRunEvents {
  runId: string;
  orgId: string;
  status: RunStatus;
  lastSeq: number;
  events: RunEventView[];
}

/**
 * Hands committed run events on to whoever listens in this process (the live
 * gateway). Published only after the transaction commits, never inside it.
 */
@Injectable()
export class RunEventsBus {
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  publish(batch: CommittedRunEvents): void {
    if (batch.events.length) this.emitter.emit('events', batch);
  }

  subscribe(listener: (batch: CommittedRunEvents) => void): () => void {
    this.emitter.on('events', listener);
    return () => this.emitter.off('events', listener);
  }
}
