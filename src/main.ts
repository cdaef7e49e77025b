import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { configureApp, createApp } from './app.js';
import { ROOT_LOGGER, writeAfterLogs } from './common/logging.js';
import { setHeapGrowth } from './common/heap-growth.js';
import { ConfigError, loadConfig, type AppConfig } from './config/config.schema.js';
import { EmbeddedPostgresError, startEmbeddedPostgres, type EmbeddedDatabase } from './database/embedded-postgres.js';
import { OrgsService } from './identity/orgs.service.js';

function say(line = ''): void {
  process.stdout.write(line + '\n');
}

async function main(): Promise<void> {
  let config: AppConfig;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`vitrine: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  setHeapGrowth(config.heapGrowthPercent);

  let embedded: EmbeddedDatabase | undefined;
  if (!config.databaseUrl) {
    say(`Starting embedded PostgreSQL (data in ${config.dataDir}) ...`);
    embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, database: 'vitrine', log: (m) => say(m), fallbackDir: config.postgresFallbackDir });
    config = { ...config, databaseUrl: embedded.url };
  }

  const app = await createApp(config).catch(
    async (error: unknown) => {
      await embedded?.stop();
      throw error;
    },
  );
  configureApp(app);

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    say(`\n${signal}: shutting down ...`);
    try {
      await app.close();
    } finally {
      await embedded?.stop();
      say('Vitrine stopped.');
      process.exit(0);
    }
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void shutdown(signal));
  // Without its database the service could only answer 503 until someone noticed: exit instead,
  // so that whatever runs Vitrine (systemd, a container's restart policy, a person) starts it again.
  embedded?.onUnexpectedExit((how, lastLog) => {
    if (closing) return;
    process.stderr.write(`vitrine: the embedded PostgreSQL ${how}; exiting so that Vitrine is started again${lastLog ? `. Its last log lines:\n${lastLog}` : ''}\n`);
    process.exit(1);
  });

  try {
    await app.listen(config.port, config.host);
  } catch (error) {
    await app.close().catch(() => undefined);
    await embedded?.stop();
    throw error;
  }
  const { port } = app.getHttpServer().address() as AddressInfo;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  const admin = app.get(OrgsService).generatedAdmin;

  // Last, once the service is ready, and behind every start-up log line: the one-time admin
  // password must not scroll away under them.
  const banner = [
    '',
    `  Vitrine is running at ${url}`,
    `  The page:             ${url}/ (sign in there to watch runs)`,
    `  API docs:             ${url}/docs`,
    `  Database:             ${embedded ? `embedded PostgreSQL on port ${embedded.port}, data in ${config.dataDir}` : 'DATABASE_URL'}`,
    ...(embedded?.relocated ? [`                        ${embedded.relocated}`] : []),
    ...(admin ? ['', '  Admin login (shown once, change it after logging in):', `    email:    ${admin.email}`, `    password: ${admin.password}`] : []),
    '',
  ];
  writeAfterLogs(app.get<Logger>(ROOT_LOGGER), banner.map((line) => `${line}\n`).join(''));
}

main().catch((error: unknown) => {
  if (error instanceof EmbeddedPostgresError) {
    process.stderr.write(`vitrine: ${error.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`vitrine: failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
