import { Inject, Injectable } from '@nestjs/common';
import pLimit, { type LimitFunction } from 'p-limit';
import { UnavailableError } from '../common/problem.js';
import { APP_CONFIG, type AppConfig } from '../config/config.schema.js';
import { hashPassword, verifyPassword } from './passwords.js';

/**
 * Every password hash the service computes goes through here. argon2id takes
 * a core and 19 MiB for tens of milliseconds, so a burst of sign-ins (or of new
 * members) run all at once takes every core from the event loop and every
 * other request waits. At most `concurrency` run at once and `queue` more wait;
 * past that the request is answered 503 at once: a queue without a bound only
 * turns a burst into a backlog that delays everyone.
 */
@Injectable()
export class PasswordsService {
  private readonly limit: LimitFunction;
  private readonly capacity: number;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.limit = pLimit(config.passwordHashing.concurrency);
    this.capacity = config.passwordHashing.concurrency + config.passwordHashing.queue;
  }

  hash(password: string): Promise<string> {
    return this.run(() => hashPassword(password));
  }

  verify(passwordHash: string, password: string): Promise<boolean> {
    return this.run(() => verifyPassword(passwordHash, password));
  }

  /** Refuses 503 now if a hash would be refused: callers check first so that a refused request does no other work. */
  assertCapacity(): void {
    if (this.limit.activeCount + this.limit.pendingCount >= this.capacity) {
      throw new UnavailableError('Too many passwords are being checked at once; try again shortly');
    }
  }

  private async run<T>(work: () => Promise<T>): Promise<T> {
    this.assertCapacity();
    return this.limit(work);
  }
}
