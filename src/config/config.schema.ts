import { availableParallelism } from 'node:os';
import path from 'node:path';
import { z } from 'zod';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const emptyToUndefined = (value: unknown) => (value === '' ? undefined : value);

const postgresUrl = z
  .string()
  .refine((value) => URL.canParse(value) && /^postgres(ql)?:$/.test(new URL(value).protocol), 'must be a postgres:// or postgresql:// URL');

/**
 * How far past its live size the JavaScript heap may grow before the next full
 * collection, in percent (see src/common/heap-growth.ts): 400 lets it grow to five
 * times what survived the last one.
 */
const DEFAULT_HEAP_GROWTH_PERCENT = 400;

/**
 * Password hashes computed at once: each takes a core for tens of
 * milliseconds, so one core is left to the event loop; at most 3, as they run
 * on libuv's pool of 4 threads, which file and DNS work share.
 */
const DEFAULT_PASSWORD_HASH_CONCURRENCY = Math.max(1, Math.min(3, availableParallelism() - 1));

const count = (min: number, max: number, fallback: number) => z.preprocess(emptyToUndefined, z.coerce.number().int().min(min).max(max).default(fallback));

/** The environment Vitrine reads, as API.md documents it. */
export const EnvSchema = z.object({
  DATABASE_URL: z.preprocess(emptyToUndefined, postgresUrl.optional()),
  PORT: z.preprocess(emptyToUndefined, z.coerce.number().int().min(0).max(65535).default(3000)),
  HOST: z.preprocess(emptyToUndefined, z.string().min(1).default('127.0.0.1')),
  VITRINE_PUBLIC_URL: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .refine((value) => URL.canParse(value) && /^https?:$/.test(new URL(value).protocol), 'must be an http:// or https:// URL')
      .optional(),
  ),
  VITRINE_DATA_DIR: z.preprocess(emptyToUndefined, z.string().min(1).default('./.vitrine')),
  VITRINE_ADMIN_EMAIL: z.preprocess(emptyToUndefined, z.string().email().optional()),
  VITRINE_ADMIN_PASSWORD: z.preprocess(
    emptyToUndefined,
    z.string().min(8, 'must be at least 8 characters').max(256).optional(),
  ),
  VITRINE_POSTGRES_FALLBACK_DIR: z.preprocess(emptyToUndefined, z.string().min(1).optional()),
  VITRINE_POLICIES_DIR: z.preprocess(emptyToUndefined, z.string().min(1).default('./policies')),
  LOG_LEVEL: z.preprocess(emptyToUndefined, z.enum(LOG_LEVELS).default('info')),
  VITRINE_BODY_LIMIT: z.preprocess(emptyToUndefined, z.string().regex(/^\d+(b|kb|mb)$/i).default('6mb')),
  VITRINE_AUDIT_SIGNING_KEY_FILE: z.preprocess(emptyToUndefined, z.string().min(1).optional()),
  VITRINE_AUDIT_SEAL_INTERVAL_MS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(50).max(3_600_000).default(1000)),
  VITRINE_STALL_SWEEP_INTERVAL_MS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(50).max(60_000).default(1000)),
  VITRINE_HEAP_GROWTH_PERCENT: z.preprocess(emptyToUndefined, z.coerce.number().int().min(0).max(1000).default(DEFAULT_HEAP_GROWTH_PERCENT)),
  VITRINE_LOGIN_ACCOUNT_LIMIT: count(1, 1_000_000, 10),
  VITRINE_LOGIN_ACCOUNT_WINDOW_SECONDS: count(1, 86_400, 900),
  VITRINE_LOGIN_ADDRESS_LIMIT: count(1, 1_000_000, 100),
  VITRINE_LOGIN_ADDRESS_WINDOW_SECONDS: count(1, 86_400, 900),
  VITRINE_PASSWORD_HASH_CONCURRENCY: count(1, 64, DEFAULT_PASSWORD_HASH_CONCURRENCY),
  VITRINE_PASSWORD_HASH_QUEUE: count(0, 10_000, 32),
  VITRINE_LIVE_ADAPTER: z.preprocess(emptyToUndefined, z.enum(['postgres', 'redis', 'none']).optional()),
  VITRINE_REDIS_URL: z.preprocess(emptyToUndefined, z.url({ protocol: /^rediss?$/, error: 'must be a redis:// or rediss:// URL' }).optional()),
  VITRINE_LIVE_SOCKET_BUFFER: count(1, 1_000_000, 1_000),
});

/** At most `limit` failures in a window of `windowSeconds` from the first. */
export interface FailureLimit {
  limit: number;
  windowSeconds: number;
}

export interface AppConfig {
  databaseUrl: string | undefined;
  port: number;
  host: string;
  /** Base of share links; defaults to the address the service listens on. */
  publicUrl: string | undefined;
  dataDir: string;
  /** As root: where the embedded PostgreSQL's binaries and cluster go when the `postgres` user cannot reach them in the checkout (unset: /var/lib/vitrine). */
  postgresFallbackDir: string | undefined;
  adminEmail: string | undefined;
  adminPassword: string | undefined;
  policiesDir: string;
  logLevel: (typeof LOG_LEVELS)[number];
  bodyLimit: string;
  /** PEM (PKCS#8) Ed25519 private key that signs audit checkpoints; unset: generated in the data dir. */
  auditSigningKeyFile: string;
  auditSealIntervalMs: number;
  /** How often running nodes are checked for silence (stall detection). */
  stallSweepIntervalMs: number;
  /** Heap growth between full collections, in % of the live heap; 0 leaves it to V8 (see src/common/heap-growth.ts). */
  heapGrowthPercent: number;
  /** Failed sign-ins allowed per account (normalised email) and per client address before sign-ins are refused 429. */
  loginLimits: { account: FailureLimit; address: FailureLimit };
  /** Password hashes (sign-in checks, new passwords) computed at once, and how many more may wait; past that the request is answered 503. */
  passwordHashing: { concurrency: number; queue: number };
  /** How `/live` reaches sockets on other instances: `postgres` (LISTEN/NOTIFY on the shared database), `redis` (pub/sub on `redisUrl`) or `none` (one instance). */
  liveAdapter: 'postgres' | 'redis' | 'none';
  redisUrl: string | undefined;
  /** Packets a `/live` socket may have waiting for its connection before it is disconnected as too slow. */
  liveSocketBuffer: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: { variable: string; message: string }[]) {
    super(
      'Invalid configuration:\n' +
        problems.map((p) => `  ${p.variable}: ${p.message}`).join('\n'),
    );
    this.name = 'ConfigError';
  }
}

/** Validates the environment once at boot; every bad variable is named. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => ({ variable: String(issue.path[0]), message: issue.message })),
    );
  }
  const e = parsed.data;
  if ((e.VITRINE_ADMIN_EMAIL === undefined) !== (e.VITRINE_ADMIN_PASSWORD === undefined)) {
    const missing = e.VITRINE_ADMIN_EMAIL === undefined ? 'VITRINE_ADMIN_EMAIL' : 'VITRINE_ADMIN_PASSWORD';
    throw new ConfigError([
      { variable: missing, message: 'VITRINE_ADMIN_EMAIL and VITRINE_ADMIN_PASSWORD must be set together' },
    ]);
  }
  if (e.VITRINE_LIVE_ADAPTER === 'postgres' && e.DATABASE_URL === undefined) {
    throw new ConfigError([{ variable: 'VITRINE_LIVE_ADAPTER', message: 'postgres needs DATABASE_URL: the embedded database serves one instance' }]);
  }
  if (e.VITRINE_LIVE_ADAPTER === 'redis' && e.VITRINE_REDIS_URL === undefined) {
    throw new ConfigError([{ variable: 'VITRINE_LIVE_ADAPTER', message: 'redis needs VITRINE_REDIS_URL' }]);
  }
  return {
    databaseUrl: e.DATABASE_URL,
    port: e.PORT,
    host: e.HOST,
    publicUrl: e.VITRINE_PUBLIC_URL?.replace(/\/+$/, ''),
    dataDir: path.resolve(e.VITRINE_DATA_DIR),
    postgresFallbackDir: e.VITRINE_POSTGRES_FALLBACK_DIR && path.resolve(e.VITRINE_POSTGRES_FALLBACK_DIR),
    adminEmail: e.VITRINE_ADMIN_EMAIL?.toLowerCase(),
    adminPassword: e.VITRINE_ADMIN_PASSWORD,
    policiesDir: path.resolve(e.VITRINE_POLICIES_DIR),
    logLevel: e.LOG_LEVEL,
    bodyLimit: e.VITRINE_BODY_LIMIT,
    auditSigningKeyFile: path.resolve(e.VITRINE_AUDIT_SIGNING_KEY_FILE ?? path.join(e.VITRINE_DATA_DIR, 'audit-signing-key.pem')),
    auditSealIntervalMs: e.VITRINE_AUDIT_SEAL_INTERVAL_MS,
    stallSweepIntervalMs: e.VITRINE_STALL_SWEEP_INTERVAL_MS,
    heapGrowthPercent: e.VITRINE_HEAP_GROWTH_PERCENT,
    loginLimits: {
      account: { limit: e.VITRINE_LOGIN_ACCOUNT_LIMIT, windowSeconds: e.VITRINE_LOGIN_ACCOUNT_WINDOW_SECONDS },
      address: { limit: e.VITRINE_LOGIN_ADDRESS_LIMIT, windowSeconds: e.VITRINE_LOGIN_ADDRESS_WINDOW_SECONDS },
    },
    passwordHashing: { concurrency: e.VITRINE_PASSWORD_HASH_CONCURRENCY, queue: e.VITRINE_PASSWORD_HASH_QUEUE },
    // A Redis named is there to be used; else a shared database is where several instances may run (the embedded one serves one).
    liveAdapter: e.VITRINE_LIVE_ADAPTER ?? (e.VITRINE_REDIS_URL !== undefined ? 'redis' : e.DATABASE_URL === undefined ? 'none' : 'postgres'),
    redisUrl: e.VITRINE_REDIS_URL,
    liveSocketBuffer: e.VITRINE_LIVE_SOCKET_BUFFER,
  };
}

export const APP_CONFIG = Symbol('APP_CONFIG');
