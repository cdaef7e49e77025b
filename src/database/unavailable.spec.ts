import { describe, expect, it } from '@jest/globals';
import { OUTAGE_WARN_INTERVAL_MS, OutageWarnings } from './unavailable.js';

describe('OutageWarnings', () => {
  it('warns at once, then at most once an interval, counting the failures each warning stands for', () => {
    let now = 0;
    const lines: { fields: Record<string, unknown>; message: string }[] = [];
    const outage = new OutageWarnings((fields, message) => lines.push({ fields, message }), 'the database does not answer', () => now);
    const error = new Error('connect ECONNREFUSED');

    outage.note(error, { requestId: 'r1' });
    expect(lines).toEqual([{ fields: { err: error, requestId: 'r1', failures: 1 }, message: 'the database does not answer' }]);

    // A second of an outage: a thousand failures, no new line.
    for (let i = 0; i < 1_000; i++) {
      now += 1;
      outage.note(error);
    }
    expect(lines).toHaveLength(1);

    now = OUTAGE_WARN_INTERVAL_MS;
    outage.note(error);
    expect(lines).toHaveLength(2);
    expect(lines[1]!.fields.failures).toBe(1_001);

    // The count starts again after each warning.
    now += OUTAGE_WARN_INTERVAL_MS;
    outage.note(error);
    expect(lines[2]!.fields.failures).toBe(1);
  });
});
