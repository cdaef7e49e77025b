import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DataSource } from 'typeorm';
import { createTestDatabase } from '../../test/setup/test-database.js';
import { createDataSource } from './data-source.js';

describe('the connection pool', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let ds: DataSource;
  const name = 'vitrine-pool-idle-test';

  beforeAll(async () => {
    db = await createTestDatabase();
    ds = createDataSource(db.url, { poolSize: 4, applicationName: name });
    await ds.initialize();
  });

  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  // node-postgres closes a connection idle for 10 s; reopening the pool under the next burst stalls the service.
  it('keeps its connections through a quiet spell longer than node-postgres closes them after', async () => {
    const open = async () => Number((await ds.query(`SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1`, [name]))[0].n);
    await Promise.all(Array.from({ length: 4 }, () => ds.query('SELECT pg_sleep(0.2)')));
    expect(await open()).toBe(4);
    await new Promise((resolve) => setTimeout(resolve, 11_000));
    expect(await open()).toBe(4);
  }, 30_000);
});
