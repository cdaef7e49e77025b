import { createHash } from 'node:crypto';
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import { DataSource } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import { TooManyRequestsError } from '../common/problem.js';
import type { RequestContext } from '../common/request-context.js';
import { APP_CONFIG, type AppConfig, type FailureLimit } from '../config/config.schema.js';

/** Created by a migration; see migrations/1795604112000-sign-in-failures.ts. */
const TABLE = 'sign_in_failures';
/** Expired rows are never read again (the limiter starts a new window over them); they are swept this often. */
const SWEEP_INTERVAL_MS = 5 * 60_000;

type LimitKey = 'account' | 'address';

/** One sign-in between its reservation and its outcome (see SignInLimitsService.begin). */
export interface SignInAttempt {
  /** The password was right: the account's count starts afresh, and the address's reservation is handed back. */
  succeeded(): Promise<void>;
  /** The password (or the email) was wrong: the reservation stays a failure; the failure that fills a budget is a lockout. */
  failed(member: { id: string; orgId: string } | null): Promise<void>;
  /** No password was checked (overload, an error): both reservations are handed back. */
  abandoned(): Promise<void>;
}

/**
 * Failed sign-ins per account (normalised email, known or not) and per client
 * address, counted in PostgreSQL so every instance shares the count
 * (ASVS V2.2.1). A sign-in reserves one failure on both counts before its
 * password is checked, so concurrent guesses cannot all slip in before the
 * first failure is counted; a sign-in that finds a count full is refused 429
 * without hashing anything, even with the right password (answering it would
 * tell a guesser which guess was right). A count is a fixed window that opens
 * with its first failure.
 */
@Injectable()
export class SignInLimitsService implements OnApplicationShutdown {
  private readonly logger = new Logger('SignInLimits');
  private readonly limiters: Record<LimitKey, RateLimiterPostgres>;
  private readonly sweep: NodeJS.Timeout;

  constructor(
    @Inject(DataSource) private readonly db: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(AuditService) private readonly audit: AuditService,
  ) {
    const limiter = (key: LimitKey, { limit, windowSeconds }: FailureLimit) =>
      new RateLimiterPostgres({
        storeClient: db,
        storeType: 'typeorm',
        tableName: TABLE,
        tableCreated: true,
        // The library's own sweep re-arms itself for ever and cannot be stopped at shutdown; ours can.
        clearExpiredByTimeout: false,
        keyPrefix: key,
        points: limit,
        duration: windowSeconds,
        // Once a count is full this instance refuses that key from memory until the window ends: a flood of guesses costs no writes.
        inMemoryBlockOnConsumed: limit + 1,
      });
    this.limiters = { account: limiter('account', config.loginLimits.account), address: limiter('address', config.loginLimits.address) };
    this.sweep = setInterval(() => {
      this.db.query(`DELETE FROM ${TABLE} WHERE expire < $1`, [Date.now()]).catch(() => undefined);
    }, SWEEP_INTERVAL_MS).unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.sweep);
  }

  /** Reserves a failure on the account's and the address's counts, or refuses the sign-in 429 if either is full. */
  async begin(email: string, context: RequestContext): Promise<SignInAttempt> {
    const keys: Record<LimitKey, string> = {
      // Hashed: the table holds no one's email (unknown ones are whatever a guesser sent) and keys stay short.
      account: createHash('sha256').update(email.toLowerCase()).digest('hex'),
      address: context.ip ?? 'unknown',
    };
    const account = await this.reserve('account', keys.account);
    if (!account.ok) throw this.refusal('account', account.res);
    let address: Awaited<ReturnType<SignInLimitsService['reserve']>>;
    try {
      address = await this.reserve('address', keys.address);
    } catch (error) {
      await this.release('account', keys.account);
      throw error;
    }
    if (!address.ok) {
      await this.release('account', keys.account);
      throw this.refusal('address', address.res);
    }
    const reserved: Record<LimitKey, RateLimiterRes> = { account: account.res, address: address.res };
    return {
      succeeded: async () => {
        await Promise.all([this.limiters.account.delete(keys.account), this.release('address', keys.address)]);
      },
      failed: async (member) => {
        for (const key of ['account', 'address'] as const) {
          // Exactly one reservation fills a count, so a block is reported once.
          if (reserved[key].consumedPoints === this.limits[key].limit) await this.lockout(key, reserved[key], email, context, member);
        }
      },
      abandoned: async () => {
        await Promise.all([this.release('account', keys.account), this.release('address', keys.address)]);
      },
    };
  }

  private get limits(): Record<LimitKey, FailureLimit> {
    return this.config.loginLimits;
  }

  private async reserve(key: LimitKey, value: string): Promise<{ ok: boolean; res: RateLimiterRes }> {
    try {
      return { ok: true, res: await this.limiters[key].consume(value) };
    } catch (refused) {
      // The limiter refuses with its result; anything else is a failure of the store (answered 503 if the database is away).
      if (refused instanceof RateLimiterRes) return { ok: false, res: refused };
      throw refused;
    }
  }

  /** Hands a reservation back; best effort, as the sign-in is answered either way. */
  private async release(key: LimitKey, value: string): Promise<void> {
    await this.limiters[key].reward(value).catch(() => undefined);
  }

  private refusal(key: LimitKey, res: RateLimiterRes): TooManyRequestsError {
    const retryAfter = retryAfterSeconds(res);
    const whose = key === 'account' ? 'this account' : 'this address';
    return new TooManyRequestsError(`Too many failed sign-ins for ${whose}; try again in ${retryAfter} s`, retryAfter);
  }

  /**
   * Written to the log of the org whose member the blocking attempt named; an
   * email that is no member's belongs to no org, so that block is only logged.
   */
  private async lockout(key: LimitKey, res: RateLimiterRes, email: string, context: RequestContext, member: { id: string; orgId: string } | null): Promise<void> {
    const { limit, windowSeconds } = this.limits[key];
    const details = {
      key,
      ...(key === 'account' ? { email: email.toLowerCase() } : { address: context.ip }),
      limit,
      windowSeconds,
      retryAfterSeconds: retryAfterSeconds(res),
    };
    this.logger.warn({ ...details, memberId: member?.id ?? null, requestId: context.requestId }, `sign-ins blocked: ${limit} failed for this ${key} within ${windowSeconds} s`);
    if (!member) return;
    await this.audit.recordNow({
      orgId: member.orgId,
      actor: { type: 'public', id: null, name: null },
      action: 'auth.lockout',
      resource: { type: 'Member', id: member.id },
      outcome: 'denied',
      reason: `${limit} failed sign-ins ${key === 'account' ? 'for this account' : 'from this address'} within ${windowSeconds} s`,
      policy: null,
      details,
      context,
    });
  }
}

const retryAfterSeconds = (res: RateLimiterRes) => Math.max(1, Math.ceil(res.msBeforeNext / 1000));
