import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

// Jest loads this file outside its module system, where the `.js` specifiers
// of our TypeScript sources do not resolve: it imports nothing relative, and
// takes what it needs from the build `npm test` makes first (`pretest`).

/** Set here: the server every test file clones its database on. */
export const TEST_ADMIN_URL_ENV = 'VITRINE_TEST_ADMIN_URL';
export const TEST_TEMPLATE_ENV = 'VITRINE_TEST_TEMPLATE_DB';

/** Databases of one test run share this prefix, so teardown drops exactly those. */
export function runPrefix(template: string): string {
  return template.replace('template', 'test');
}

export function databaseUrl(adminUrl: string, database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

async function fromBuild<T>(relative: string): Promise<T> {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
  return (await import(path.join(root, 'dist', relative))) as T;
}

export async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * One PostgreSQL for the whole run: the server in DATABASE_URL, or an
 * embedded one started here. Migrations run once, into a template database
 * that every test file clones.
 */
export default async function globalSetup(): Promise<void> {
  const { createDataSource } = await fromBuild<typeof import('../../src/database/data-source.js')>('src/database/data-source.js');
  const { startEmbeddedPostgres } = await fromBuild<typeof import('../../src/database/embedded-postgres.js')>('src/database/embedded-postgres.js');

  let adminUrl = process.env.DATABASE_URL;
  let stopEmbedded = async () => undefined as void;
  if (!adminUrl) {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'vitrine-test-'));
    const db = await startEmbeddedPostgres({ dataDir, database: 'vitrine' });
    adminUrl = db.adminUrl;
    stopEmbedded = async () => {
      await db.stop();
      await rm(dataDir, { recursive: true, force: true });
    };
  }
  const template = `vitrine_template_${process.pid}`;
  await withClient(adminUrl, async (c) => {
    await c.query(`DROP DATABASE IF EXISTS "${template}" WITH (FORCE)`);
    await c.query(`CREATE DATABASE "${template}"`);
  });
  const dataSource = createDataSource(databaseUrl(adminUrl, template), { poolSize: 1, applicationName: 'vitrine-test-setup' });
  await dataSource.initialize();
  await dataSource.runMigrations({ transaction: 'each' });
  await dataSource.destroy();

  process.env[TEST_ADMIN_URL_ENV] = adminUrl;
  process.env[TEST_TEMPLATE_ENV] = template;

  // The teardown runs in this same process: hand it what to undo.
  (globalThis as { __vitrineTestTeardown?: () => Promise<void> }).__vitrineTestTeardown = async () => {
    // A shared server outlives the run: leave it as we found it.
    await withClient(adminUrl, async (c) => {
      const leftovers = await c.query(`SELECT datname FROM pg_database WHERE datname = $1 OR starts_with(datname, $2)`, [template, runPrefix(template) + '_']);
      for (const { datname } of leftovers.rows) await c.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    }).catch(() => undefined);
    await stopEmbedded();
  };
}
