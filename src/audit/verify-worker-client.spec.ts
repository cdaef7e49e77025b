import { afterAll, describe, expect, it } from '@jest/globals';
import { sampleEvent } from '../../test/helpers/audit.js';
import { TEST_ADMIN_URL_ENV } from '../../test/setup/global-setup.js';
import { eventHash } from './audit-seal.js';
import { VerifyWorkers } from './verify-worker-client.js';

const workers = new VerifyWorkers(2);
afterAll(() => workers.close());
const url = () => process.env[TEST_ADMIN_URL_ENV]!;

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
    const parts = await Promise.all([7, 8, 9].map((seq) => workers.recompute(url(), rowsQuery, [[row(seq, 'abc'), row(seq + 10, 'def')]])));
    expect(parts).toEqual([7, 8, 9].map((seq) => ({ seqs: [seq, seq + 10], stored: ['abc', 'def'], computed: [expected(seq), expected(seq + 10)] })));
  });

  it('fails only the call whose chunk cannot be read or hashed, naming why', async () => {
    await expect(workers.recompute(url(), rowsQuery, [[row(7, 'abc', '{not json')]])).rejects.toThrow(/JSON/);
    await expect(workers.recompute(url(), 'SELECT no_such_column', [])).rejects.toThrow(/no_such_column/);
    expect((await workers.recompute(url(), rowsQuery, [[row(7, 'abc')]])).seqs).toEqual([7]);
  });

  it('opens a new connection when its database goes away', async () => {
    const gone = workers.recompute('postgres://127.0.0.1:1/nothing', rowsQuery, [[row(7, 'abc')]]);
    await expect(gone).rejects.toThrow(/ECONNREFUSED|connect/);
    expect((await workers.recompute(url(), rowsQuery, [[row(8, 'abc')]])).seqs).toEqual([8]);
  });
});
