import { describe, expect, it } from '@jest/globals';
import { validate, version } from 'uuid';
import { newId } from './ids.js';

describe('newId', () => {
  it('makes valid, unique UUIDv7s that sort in the order they were made, within a millisecond too', () => {
    // 10,000 ids take a few ms: many share a millisecond, and the pool of random bytes is refilled about 40 times.
    const ids = Array.from({ length: 10_000 }, () => newId());
    for (const id of ids) {
      expect(validate(id)).toBe(true);
      expect(version(id)).toBe(7);
    }
    expect(new Set(ids).size).toBe(ids.length);
    const sorted = [...ids].sort();
    expect(sorted).toEqual(ids);
  });

  it('carries the current time in its first 48 bits', () => {
    const before = Date.now();
    const id = newId();
    const msecs = parseInt(id.replace(/-/g, '').slice(0, 12), 16);
    expect(msecs).toBeGreaterThanOrEqual(before);
    expect(msecs).toBeLessThanOrEqual(Date.now() + 1);
  });

  it('draws fresh randomness: the random tails of ids made in a row differ', () => {
    const tails = Array.from({ length: 1_000 }, () => newId().slice(-12));
    expect(new Set(tails).size).toBe(tails.length);
  });
});
