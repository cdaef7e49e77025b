import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { databaseUrl, runPrefix, TEST_ADMIN_URL_ENV, TEST_TEMPLATE_ENV, withClient } from './global-setup.js';

const withAdmin = <T>(work: (client: pg.Client) => Promise<T>) => withClient(process.env[TEST_ADMIN_URL_ENV]!, work);

/** A fresh database cloned from the migrated template: isolated, and fast. */
export async function createTestDatabase(): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const adminUrl = process.env[TEST_ADMIN_URL_ENV];
  const template = process.env[TEST_TEMPLATE_ENV];
  if (!adminUrl || !template) throw new Error('the Jest global setup did not run (run the tests with npm test)');
  const name = `${runPrefix(template)}_${randomBytes(5).toString('hex')}`;
  // CREATE DATABASE … TEMPLATE fails while another session is connected to the template; retry briefly.
  for (let attempt = 0; ; attempt++) {
    try {
      await withAdmin((c) => c.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`));
      break;
    } catch (error) {
      if (attempt > 20 || !String(error).includes('is being accessed by other users')) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    name,
    url: databaseUrl(adminUrl, name),
    drop: () => withAdmin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => undefined),
  };
}
