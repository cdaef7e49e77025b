import { afterAll, describe, expect, it } from '@jest/globals';
import { eventHash } from './audit-seal.js';
import { VerifyWorker } from './verify-worker-client.js';

const worker = new VerifyWorker();
afterAll(() => worker.close());

// One VERIFY_ROW text: seq, id, org, epoch ms, actor (type, id, name), action, resource (type, id),
// outcome, reason, policy (version, rule), ip, user agent, request id, stored hash, details.
const NULL = '\x1e';
const row = (storedHash: string, details = '{"n": 1}') =>
  ['7', 'e1', 'o1', String(Date.UTC(2026, 10, 24)), 'system', NULL, 'Vitrine', 'team.create', 'Team', NULL, 'allowed', NULL, NULL, NULL, NULL, NULL, NULL, storedHash, details].join('\x1f');

describe('VerifyWorker', () => {
  it('recomputes each row\'s hash on its thread', async () => {
    const expected = eventHash({
      seq: 7,
      id: 'e1',
      orgId: 'o1',
      at: '2026-11-24T00:00:00.000Z',
      actor: { type: 'system', id: null, name: 'Vitrine' },
      action: 'team.create',
      resource: { type: 'Team', id: null },
      outcome: 'allowed',
      reason: null,
      policy: null,
      context: { ip: null, userAgent: null, requestId: null },
      details: { n: 1 },
    });
    expect(await worker.hash([row('abc')])).toEqual({ seqs: [7], stored: ['abc'], computed: [expected] });
  });

  it('fails the waiting call when the thread dies, and starts a new thread for the next', async () => {
    await expect(worker.hash([row('abc', '{not json')])).rejects.toThrow(/JSON/);
    expect((await worker.hash([row('abc')])).seqs).toEqual([7]);
  });
});
