import { DataSource } from 'typeorm';
import { ENTITIES } from './entities.js';
import { MIGRATIONS } from './migrations.js';

/**
 * How long a pooled connection may sit idle before the pool closes it:
 * node-postgres's default is 10 s. A connection costs a backend process, a
 * SCRAM exchange and about 1 ms of the service's thread to open, and after
 * a quiet spell of 10 s the next burst (32 reporters resuming) opened the
 * whole pool of 20 at once: a 19 ms stretch in which the thread served
 * nothing (bench:profile, 2,000 single events/s after 10 s of quiet). Idle
 * connections cost PostgreSQL a few MB each, within max_connections.
 */
const POOL_IDLE_TIMEOUT_MS = 300_000;

/**
 * How long a query waits to connect to PostgreSQL, or for a pooled connection
 * when all are busy, before it fails (answered 503 `unavailable`): without it
 * node-postgres waits as long as the operating system's TCP connect does, up
 * to minutes when the database's host is unreachable.
 */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * How long PostgreSQL lets one of Vitrine's sessions sit in a transaction
 * without sending its next statement before it ends the session, rolling the
 * transaction back and releasing its locks. Vitrine's own transactions send
 * their statements milliseconds apart; a session that idles this long belongs
 * to an instance that froze or whose host vanished mid-transaction (a killed
 * process closes its connections, and PostgreSQL notices at once; a vanished
 * host does not, and TCP keepalive takes hours). Until then it would hold its
 * runs' row locks, and every instance's ingest for those runs would wait. 30 s
 * is the Reporter's own request timeout.
 */
const IDLE_IN_TRANSACTION_TIMEOUT_MS = 30_000;

/** The one way Vitrine connects to PostgreSQL. The schema only ever comes from migrations. */
export function createDataSource(url: string, options: { poolSize?: number; applicationName?: string; idleInTransactionTimeoutMs?: number } = {}): DataSource {
  return new DataSource({
    type: 'postgres',
    url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    logging: false,
    poolSize: options.poolSize ?? 20,
    applicationName: options.applicationName ?? 'vitrine',
    connectTimeoutMS: CONNECT_TIMEOUT_MS,
    extra: { idleTimeoutMillis: POOL_IDLE_TIMEOUT_MS, idle_in_transaction_session_timeout: options.idleInTransactionTimeoutMs ?? IDLE_IN_TRANSACTION_TIMEOUT_MS },
  });
}
