import { describe, expect, it } from '@jest/globals';
import { TimestampSchema } from './timestamp.js';

const messages = (value: string) => {
  const result = TimestampSchema.safeParse(value);
  return result.success ? [] : result.error.issues.map((issue) => issue.message);
};

describe('TimestampSchema', () => {
  it('takes the years 0001-9999 in UTC, whatever the offset, and refuses what falls outside', () => {
    expect(messages('0001-01-01T00:00:00Z')).toEqual([]);
    expect(messages('9999-12-31T23:59:59.999Z')).toEqual([]);
    expect(messages('0002-01-01T00:00:00+14:00')).toEqual([]);
    expect(messages('0000-12-31T23:00:00-01:00')).toEqual([]);
    expect(messages('0000-01-01T00:00:00Z')).toEqual(['must fall in the years 0001-9999, in UTC']);
    expect(messages('0001-01-01T00:00:00+01:00')).toEqual(['must fall in the years 0001-9999, in UTC']);
    expect(messages('9999-12-31T23:59:59-05:00')).toEqual(['must fall in the years 0001-9999, in UTC']);
  });

  it('says once that a time written in 0000, 0001 or 9999 is not a time at all', () => {
    for (const value of ['9999-13-01T00:00:00Z', '0001-02-30T00:00:00Z', '0000-01-01']) {
      expect(messages(value)).toHaveLength(1);
      expect(messages(value)[0]).not.toBe('must fall in the years 0001-9999, in UTC');
    }
  });
});
