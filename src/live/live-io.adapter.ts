import type { INestApplicationContext } from '@nestjs/common';
import { Logger } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { createAdapter } from '@socket.io/postgres-adapter';
import pg from 'pg';
import type { Server, ServerOptions } from 'socket.io';
import type { AppConfig } from '../config/config.schema.js';

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
      this.pool ??= new pg.Pool({ connectionString: this.config.databaseUrl, max: 2, application_name: 'vitrine-live' });
      this.pool.on('error', (error) => this.log.error(error, 'live adapter connection failed'));
      this.servers.push(server);
      server.adapter(createAdapter(this.pool, { errorHandler: (error) => this.log.error(error, 'live adapter message failed') }));
    }
    return server;
  }

  override async dispose(): Promise<void> {
    await super.dispose();
    // Each namespace's adapter gives its LISTEN connection back; then the pool can end.
    for (const server of this.servers.splice(0)) for (const nsp of server._nsps.values()) await nsp.adapter.close();
    const pool = this.pool;
    this.pool = undefined;
    await pool?.end();
  }
}
