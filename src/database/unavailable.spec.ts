import { describe, expect, it } from '@jest/globals';
import { OUTAGE_WARN_INTERVAL_MS, OutageWarnings } from './unavailable.js';

/** A logger that keeps what it was told. */
function recorder() {
  const lines: { fields: Record<string, unknown>; message: string }[] = [];
  const errors: string[] = [];
  return { lines, errors, logger: { warn: (fields: Record<string, unknown>, message: string) => void lines.push({ fields, message }), error: (message: string) => void errors.push(message) } };
}

describe('OutageWarnings', () => {
  it('warns at once, then at most once an interval, counting the failures each warning stands for', () => {
    let now = 0;
    const { lines, logger } = recorder();
    const outage = new OutageWarnings(logger, 'the database does not answer', () => now);
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

  it("notes a background tick that failed for want of the database, and logs any other failure as an error every time", () => {
    const { lines, errors, logger } = recorder();
    const outage = new OutageWarnings(logger, 'the database does not answer: stall sweeps are skipped', () => 0);
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    for (let i = 0; i < 3; i++) outage.failed(refused, 'stall sweep');
    expect(lines).toEqual([{ fields: { err: refused, failures: 1 }, message: 'the database does not answer: stall sweeps are skipped' }]);
    expect(errors).toEqual([]);

    const bug = new TypeError("Cannot read properties of undefined (reading 'key')");
    outage.failed(bug, 'stall sweep');
    outage.failed(bug, 'stall sweep');
    expect(errors).toEqual([`stall sweep failed: ${String(bug)}`, `stall sweep failed: ${String(bug)}`]);
    expect(lines).toHaveLength(1);
  });
});
