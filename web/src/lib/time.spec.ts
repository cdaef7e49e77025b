import { describe, expect, it } from '@jest/globals';
import { formatDuration, formatRelative } from './time';

describe('time on the page', () => {
  it('says a duration compactly, in two units at most', () => {
    expect(formatDuration(-5)).toBe('0s');
    expect(formatDuration(45_400)).toBe('45s');
    expect(formatDuration(192_000)).toBe('3m 12s');
    expect(formatDuration(3_720_000)).toBe('1h 02m');
    expect(formatDuration(187_200_000)).toBe('2d 4h');
  });

  it('says how long ago or ahead, in the largest readable unit, and under a minute as just now', () => {
    const now = Date.parse('2026-03-01T12:00:00Z');
    expect(formatRelative('2026-03-01T11:59:20Z', now)).toBe('just now');
    expect(formatRelative('2026-03-01T11:55:00Z', now)).toBe('5 min. ago');
    expect(formatRelative('2026-03-01T09:00:00Z', now)).toBe('3 hr. ago');
    expect(formatRelative('2026-03-08T12:00:00Z', now)).toBe('in 7 days');
    expect(formatRelative('2025-01-01T12:00:00Z', now)).toBe('last yr.');
  });
});
