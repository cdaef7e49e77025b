import { afterAll, describe, expect, it } from '@jest/globals';
import { sampleEvent } from '../../test/helpers/audit.js';
import { TEST_ADMIN_URL_ENV, withClient } from '../../test/setup/global-setup.js';
import { freePort } from '../database/embedded-postgres.js';
import { isDatabaseUnavailable } from '../database/unavailable.js';
import { eventHash } from './audit-seal.js';
import { VerifyWorkers } from './verify-worker-client.js';

const url = process.env[TEST_ADMIN_URL_ENV]!;
const workers = new VerifyWorkers(url, 2);
afterAll(() => workers.close());

// One VERIFY_ROW text: seq, id, org, epoch ms, actor (type, id, name), action, resource (type, id),
// outcome, reason, policy (version, rule), ip, user agent, request id, stored hash, details.
const NULL = '\x1e';
const row = (seq: number, storedHash: string, details = '{"n": 1}') =>
  [seq, 'e1', 'o1', String(Date.UTC(2026, 10, 24)), 'system', NULL, 'Vitrine', 'team.create', 'Team', NULL, 'allowed', NULL, NULL, NULL, NULL, NULL, NULL, storedHash, details].join('\x1f');
// The rows come back from the database, as verify's chunks do.
const rowsQuery = 'SELECT r FROM unnest($1::text[]) WITH ORDINALITY AS u(r, n) ORDER BY n';

const expected = (seq: number) => eventHash(sampleEvent(seq, { id: 'e1', orgId: 'o1', at: '2026-11-24T00:00:00.000Z', details: { n: 1 } }));

describe('VerifyWorkers', () => {
  it('reads each chunk on a worker thread and recomputes every row\'s hash there, chunks dealt to both threads', async () => {
    const parts = await Promise.all([7, 8, 9].map((seq) => workers.recompute(rowsQuery, [[row(seq, 'abc'), row(seq + 10, 'def')]])));
    expect(parts).toEqual([7, 8, 9].map((seq) => ({ seqs: [seq, seq + 10], stored: ['abc', 'def'], computed: [expected(seq), expected(seq + 10)] })));
  });

  it('fails only the call whose chunk cannot be read or hashed, naming why', async () => {
    await expect(workers.recompute(rowsQuery, [[row(7, 'abc', '{not json')]])).rejects.toThrow(/JSON/);
    await expect(workers.recompute('SELECT no_such_column', [])).rejects.toThrow(/no_such_column/);
    expect((await workers.recompute(rowsQuery, [[row(7, 'abc')]])).seqs).toEqual([7]);
  });

  it("keeps a failed read's code, so a database that does not answer is told from a fault", async () => {
    const refused = new VerifyWorkers(`postgres://vitrine@127.0.0.1:${await freePort()}/vitrine`, 1);
    try {
      const error = await refused.recompute(rowsQuery, [[row(7, 'abc')]]).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'ECONNREFUSED' });
      expect(isDatabaseUnavailable(error)).toBe(true);
    } finally {
      await refused.close();
    }
    const fault = await workers.recompute('SELECT no_such_column', []).catch((e: unknown) => e);
    expect(fault).toMatchObject({ code: '42703' });
    expect(isDatabaseUnavailable(fault)).toBe(false);
  });

  it('opens a new connection when its connection is cut', async () => {
    await Promise.all([7, 8].map((seq) => workers.recompute(rowsQuery, [[row(seq, 'abc')]])));
    const backends = () =>
      withClient(url, async (c) => (await c.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE application_name = 'vitrine-verify' AND datname = current_database()`)).rows.map((r) => r.pid));
    const before = await backends();
    expect(before).toHaveLength(2);
    await withClient(url, (c) => c.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'vitrine-verify' AND datname = current_database()`));
    while ((await backends()).length > 0) await new Promise((resolve) => setTimeout(resolve, 20));
    await new Promise((resolve) => setTimeout(resolve, 100)); // the threads hear of it
    const parts = await Promise.all([9, 10].map((seq) => workers.recompute(rowsQuery, [[row(seq, 'abc')]])));
    expect(parts.map((p) => p.seqs)).toEqual([[9], [10]]);
    const after = await backends();
    expect(after).toHaveLength(2);
    expect(after.filter((pid) => before.includes(pid))).toEqual([]);
  });

  it('fails only the calls of a thread that dies, and starts a new thread for the next call', async () => {
    const own = new VerifyWorkers(url, 2);
    try {
      await Promise.all([7, 8].map((seq) => own.recompute(rowsQuery, [[row(seq, 'abc')]])));
      // Call 2 goes to thread 0 and sleeps in the database; call 3 goes to thread 1.
      const sleeping = own.recompute(`SELECT r FROM pg_sleep(5), unnest($1::text[]) AS u(r)`, [[row(9, 'abc')]]);
      const other = own.recompute(rowsQuery, [[row(10, 'abc')]]);
      const threads = (own as unknown as { threads: ({ thread: { terminate(): Promise<number> } } | undefined)[] }).threads;
      await new Promise((resolve) => setTimeout(resolve, 200));
      await threads[0]!.thread.terminate();
      await expect(sleeping).rejects.toThrow(/the verify worker exited/);
      expect((await other).seqs).toEqual([10]);
      expect(threads[0]).toBeUndefined();
      // Call 4 goes to thread 0 again: a new one.
      expect((await own.recompute(rowsQuery, [[row(11, 'abc')]])).computed).toEqual([expected(11)]);
    } finally {
      await own.close();
    }
  });
});
