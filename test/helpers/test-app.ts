import 'reflect-metadata';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NestExpressApplication } from '@nestjs/platform-express';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { configureApp, createApp } from '../../src/app.js';
import { loadConfig, type AppConfig } from '../../src/config/config.schema.js';
import { createTestDatabase } from '../setup/test-database.js';
import { watchSecondConnections } from './connection-watch.js';

export const ADMIN_EMAIL = 'admin@test.local';
export const ADMIN_PASSWORD = 'admin-password-123';

export interface TestApp {
  app: NestExpressApplication;
  server: Server;
  /** Where the app listens, `http://127.0.0.1:<port>`: for clients that are not supertest (a browser, the Reporter, an Origin header). */
  url: string;
  config: AppConfig;
  db: DataSource;
  /** supertest against the app, optionally as a bearer. */
  http(token?: string): {
    get(path: string): request.Test;
    post(path: string): request.Test;
    put(path: string): request.Test;
    patch(path: string): request.Test;
    delete(path: string): request.Test;
  };
  close(): Promise<void>;
}

/**
 * The real service (configureApp, as main.ts uses it) on its own database
 * cloned from the migrated template, with org `default` and its admin.
 * Given a DATABASE_URL (another test app's `config.databaseUrl`), it is a
 * second instance on that database instead, and leaves it in place on close.
 * `port` listens there instead of on a free port: a restart a page sees as the same service.
 */
export async function createTestApp(env: Record<string, string> = {}, options: { port?: number } = {}): Promise<TestApp> {
  const database = env.DATABASE_URL ? undefined : await createTestDatabase();
  const config = loadConfig({
    DATABASE_URL: database?.url,
    PORT: '0',
    LOG_LEVEL: 'silent',
    VITRINE_ADMIN_EMAIL: ADMIN_EMAIL,
    VITRINE_ADMIN_PASSWORD: ADMIN_PASSWORD,
    VITRINE_AUDIT_SIGNING_KEY_FILE: join(tmpdir(), 'vitrine-test', 'audit-signing-key.pem'),
    ...env,
  });
  const app = await createApp(config);
  configureApp(app);
  // A port given: the instance a browser already knows (a restart on the same address).
  await app.listen(options.port ?? 0, '127.0.0.1');
  const server = app.getHttpServer() as Server;
  const agent = request(server);
  const secondConnections = watchSecondConnections(app.get(DataSource));
  const withToken = (test: request.Test, token?: string) => (token ? test.set('Authorization', `Bearer ${token}`) : test);
  return {
    app,
    server,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    config,
    db: app.get(DataSource),
    http: (token?: string) => ({
      get: (path) => withToken(agent.get(path), token),
      post: (path) => withToken(agent.post(path), token),
      put: (path) => withToken(agent.put(path), token),
      patch: (path) => withToken(agent.patch(path), token),
      delete: (path) => withToken(agent.delete(path), token),
    }),
    close: async () => {
      await app.close();
      await database?.drop();
      if (secondConnections.length) throw new Error(`${secondConnections.length} request(s) took a second database connection while holding a transaction's:\n${[...new Set(secondConnections)].slice(0, 5).join('\n\n')}`);
    },
  };
}
