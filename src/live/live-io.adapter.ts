import type { INestApplicationContext } from '@nestjs/common';
import { Logger } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { createAdapter } from '@socket.io/postgres-adapter';
import pg from 'pg';
import type { Server, ServerOptions } from 'socket.io';
import type { AppConfig } from '../config/config.schema.js';

/** How long closing waits for the adapter's LISTEN connection to finish opening. */
const LISTEN_SETTLE_MS = 5_000;

/** The adapter's connection to PostgreSQL (@socket.io/postgres-adapter 0.5's PubSubClient, not exported): set once it LISTENs. */
interface PubSub {
  client?: unknown;
  reconnectTimer?: NodeJS.Timeout;
}

/**
 * Socket.IO on the API's own HTTP server; with `liveAdapter: postgres`, its
 * rooms and server-side messages span every instance on the database through
 * @socket.io/postgres-adapter. The adapter LISTENs and NOTIFYs on a pool of
 * its own, so a NOTIFY never runs inside a request's transaction, and the
 * LISTEN connection never takes one of the request pool's.
 */
export class LiveIoAdapter extends IoAdapter {
  private pool: pg.Pool | undefined;
  private readonly servers: Server[] = [];
  private readonly log = new Logger('LiveAdapter');

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
        // The adapter listens for its LISTEN connection's end (and reconnects), not its errors: unheard, one would crash the process.
        this.pool.on('connect', (client) => client.on('error', (error) => this.log.warn(error, 'live adapter connection lost')));
      }
      this.servers.push(server);
      server.adapter(createAdapter(this.pool, { errorHandler: (error) => this.log.error(error, 'live adapter message failed') }));
    }
    return server;
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
    this.pool = undefined;
    await pool?.end();
  }
}
