import type { INestApplicationContext } from '@nestjs/common';
import { Logger } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { createClient } from '@redis/client';
import { createAdapter } from '@socket.io/postgres-adapter';
import { createAdapter as createRedisAdapter } from '@socket.io/redis-adapter';
import pg from 'pg';
import type { Server, ServerOptions } from 'socket.io';
import type { AppConfig } from '../config/config.schema.js';
import { OutageWarnings } from '../database/unavailable.js';

const redisClient = (url: string) => createClient({ url });
type RedisClient = ReturnType<typeof redisClient>;

/** How long closing waits for the adapter's LISTEN connection to finish opening. */
const LISTEN_SETTLE_MS = 5_000;

/** The adapter's connection to PostgreSQL (@socket.io/postgres-adapter 0.5's PubSubClient, not exported): set once it LISTENs. */
interface PubSub {
  client?: unknown;
  reconnectTimer?: NodeJS.Timeout;
}

/**
 * Whether a namespace's adapter hears the other instances now: the Postgres
 * adapter's connection is set once its LISTEN is done; the Redis adapter's
 * subscriber is ready (it subscribes again as it reconnects). Undefined for
 * the in-memory adapter.
 */
export function isListening(adapter: unknown): boolean | undefined {
  const { client: pubsub, subClient } = adapter as { client?: PubSub & { channels?: unknown }; subClient?: { isReady?: unknown } };
  if (pubsub && pubsub.channels instanceof Set) return pubsub.client !== undefined;
  if (typeof subClient?.isReady === 'boolean') return subClient.isReady;
  return undefined;
}

/**
 * Socket.IO on the API's own HTTP server; with `liveAdapter: postgres`, its
 * rooms and server-side messages span every instance on the database through
 * @socket.io/postgres-adapter. The adapter LISTENs and NOTIFYs on a pool of
 * its own, so a NOTIFY never runs inside a request's transaction, and the
 * LISTEN connection never takes one of the request pool's. With
 * `liveAdapter: redis`, they span the instances on one Redis instead
 * (@socket.io/redis-adapter, one connection to publish and one to subscribe).
 */
export class LiveIoAdapter extends IoAdapter {
  private pool: pg.Pool | undefined;
  private readonly servers: Server[] = [];
  /** Adapter connections checked out of the pool, and those of them whose connection has ended. */
  private readonly checkedOut = new Set<pg.PoolClient>();
  private readonly ended = new Set<pg.PoolClient>();
  private readonly log = new Logger('LiveAdapter');
  private redis: { pub: RedisClient; sub: RedisClient } | undefined;
  private readonly redisDown = new OutageWarnings(this.log, 'the live adapter cannot reach Redis: /live reaches no other instance until it can (it reconnects by itself)');

  constructor(
    app: INestApplicationContext,
    private readonly config: AppConfig,
  ) {
    super(app);
  }

  override createIOServer(port: number, options?: ServerOptions): Server {
    const server = super.createIOServer(port, options) as Server;
    if (this.config.liveAdapter === 'postgres' && this.config.databaseUrl) {
      // One connection LISTENs; the other publishes and sweeps old attachments.
      if (!this.pool) {
        this.pool = new pg.Pool({ connectionString: this.config.databaseUrl, max: 2, application_name: 'vitrine-live' });
        this.pool.on('error', (error) => this.log.error(error, 'live adapter connection failed'));
        const { checkedOut, ended } = this;
        this.pool.on('acquire', (client) => checkedOut.add(client));
        this.pool.on('release', (_error: unknown, client: pg.PoolClient) => {
          checkedOut.delete(client);
          ended.delete(client);
        });
        this.pool.on('connect', (client) => {
          // The adapter listens for its LISTEN connection's end (and reconnects), not its errors: unheard, one would crash the process.
          client.on('error', (error) => this.log.warn(error, 'live adapter connection lost'));
          // Nor does it give an ended LISTEN connection back: its place in the pool would be lost for good (and closing would wait on it).
          // A query's connection is given back by the pool itself, which the second's wait leaves it time to do.
          client.once('end', () => {
            ended.add(client as pg.PoolClient);
            setTimeout(() => this.giveBack(client as pg.PoolClient), 1_000).unref();
          });
        });
      }
      this.servers.push(server);
      server.adapter(createAdapter(this.pool, { errorHandler: (error) => this.log.error(error, 'live adapter message failed') }));
    }
    if (this.config.liveAdapter === 'redis' && this.config.redisUrl) {
      this.redis ??= this.connectRedis(this.config.redisUrl);
      this.servers.push(server);
      server.adapter(createRedisAdapter(this.redis.pub, this.redis.sub));
    }
    return server;
  }

  /** Two connections, opened without waiting: commands queue until they are ready, and a lost one reconnects by itself. */
  private connectRedis(url: string): { pub: RedisClient; sub: RedisClient } {
    const pub = redisClient(url);
    const sub = pub.duplicate();
    for (const client of [pub, sub]) {
      // Unheard, a connection error would crash the process.
      client.on('error', (error: unknown) => this.redisDown.note(error));
      client.connect().catch((error: unknown) => this.redisDown.note(error));
    }
    return { pub, sub };
  }

  /** Gives an ended connection the adapter still holds back to the pool, which drops it. */
  private giveBack(client: pg.PoolClient): void {
    if (this.checkedOut.has(client)) client.release(new Error('the connection ended'));
  }

  override async dispose(): Promise<void> {
    await super.dispose();
    const adapters = this.servers.splice(0).flatMap((server) => [...server._nsps.values()].map((nsp) => nsp.adapter));
    // The adapter opens its LISTEN connection without waiting; closed while that is under way, it would never give it back.
    const pubsub = (adapters[0] as unknown as { client?: PubSub } | undefined)?.client;
    const pool = this.pool;
    const opening = () => !!pubsub && !!pool && !pubsub.client && !pubsub.reconnectTimer && (pool.waitingCount > 0 || pool.totalCount > pool.idleCount);
    const settleBy = Date.now() + LISTEN_SETTLE_MS;
    while (opening() && Date.now() < settleBy) await new Promise((resolve) => setTimeout(resolve, 10));
    for (const adapter of adapters) await adapter.close();
    for (const client of [...this.ended]) this.giveBack(client);
    this.pool = undefined;
    await pool?.end();
    const redis = this.redis;
    this.redis = undefined;
    // Closed after the adapters (they unsubscribe); one that never connected is only stopped from trying.
    for (const client of redis ? [redis.pub, redis.sub] : []) {
      if (client.isReady) await client.close().catch(() => client.destroy());
      else if (client.isOpen) client.destroy();
    }
  }
}
