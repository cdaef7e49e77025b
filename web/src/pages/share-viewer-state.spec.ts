import { describe, expect, it, jest } from '@jest/globals';
import { callAt, contentUrl, expiryText, framesReducer, goneOf, kindLabel, MAX_TIMEOUT_MS, parseShareMeta, type Frames } from './share-viewer-state';

const TOKEN = 'vtr_shr_abc';
const valid = {
  state: 'valid',
  token: TOKEN,
  now: '2025-06-01T12:00:00.000Z',
  share: { id: 's1', audience: 'link', revision: null, expiresAt: null },
  artifact: { title: 'Report', kind: 'dashboard', revision: 3 },
  sharedBy: 'Ada',
  ticket: 't',
};

describe('parseShareMeta', () => {
  it("reads the server's data for this link", () => {
    expect(parseShareMeta(JSON.stringify(valid), TOKEN)).toEqual(valid);
    expect(parseShareMeta(JSON.stringify({ state: 'revoked', token: TOKEN, now: valid.now }), TOKEN)).toEqual({ state: 'revoked', token: TOKEN, now: valid.now });
  });

  it('ignores data for another link, of an unknown state, incomplete, or no JSON at all', () => {
    expect(parseShareMeta(JSON.stringify(valid), 'vtr_shr_other')).toBeUndefined();
    expect(parseShareMeta(JSON.stringify({ ...valid, state: 'maybe' }), TOKEN)).toBeUndefined();
    expect(parseShareMeta(JSON.stringify({ ...valid, ticket: undefined }), TOKEN)).toBeUndefined();
    expect(parseShareMeta('{', TOKEN)).toBeUndefined();
    expect(parseShareMeta('null', TOKEN)).toBeUndefined();
    expect(parseShareMeta(null, TOKEN)).toBeUndefined();
  });
});

describe('goneOf', () => {
  it('names what a revoked, expired or unknown link shows, and nothing for other errors', () => {
    expect([goneOf('share_revoked'), goneOf('share_expired'), goneOf('not_found'), goneOf('internal_error'), goneOf(undefined)]).toEqual(['revoked', 'expired', 'not_found', undefined, undefined]);
  });
});

describe('framesReducer', () => {
  const start: Frames = { shown: 3, loading: null };

  it('loads a new revision behind the one shown, and swaps only once it has loaded', () => {
    const loading = framesReducer(start, { type: 'revised', revision: 4 });
    expect(loading).toEqual({ shown: 3, loading: 4 });
    expect(framesReducer(loading, { type: 'loaded', revision: 3 })).toBe(loading);
    expect(framesReducer(loading, { type: 'loaded', revision: 4 })).toEqual({ shown: 4, loading: null });
  });

  it('lets a newer revision take the place of one still loading, and ignores what is not newer', () => {
    const loading = framesReducer(start, { type: 'revised', revision: 4 });
    const newer = framesReducer(loading, { type: 'revised', revision: 6 });
    expect(newer).toEqual({ shown: 3, loading: 6 });
    expect(framesReducer(newer, { type: 'loaded', revision: 4 })).toBe(newer);
    expect(framesReducer(newer, { type: 'revised', revision: 5 })).toBe(newer);
    expect(framesReducer(start, { type: 'revised', revision: 3 })).toBe(start);
    expect(framesReducer(start, { type: 'revised', revision: 2 })).toBe(start);
  });
});

describe('contentUrl', () => {
  it("names the link's content with the page's ticket and the revision; a run-summary's has no revision", () => {
    expect(contentUrl(TOKEN, 3, 'exp.mac')).toBe('/s/vtr_shr_abc/content?revision=3&ticket=exp.mac');
    expect(contentUrl(TOKEN, 0, 'exp.mac')).toBe('/s/vtr_shr_abc/content?ticket=exp.mac');
  });
});

describe('kindLabel', () => {
  it('names the kinds the page knows, and turns any other into words', () => {
    expect(['pr-walkthrough', 'run-summary', 'dashboard', 'cost-report', 'weekly_digest', ''].map(kindLabel)).toEqual(['PR walkthrough', 'Run summary', 'Dashboard', 'Cost report', 'Weekly digest', 'Artifact']);
  });
});

describe('expiryText', () => {
  const now = Date.UTC(2025, 5, 1);
  it('says when the link expires in the unit that reads best, and that it has', () => {
    const at = (seconds: number) => expiryText(now + seconds * 1000, now);
    expect([at(3 * 86_400), at(47 * 3_600), at(2 * 3_600), at(119 * 60), at(5 * 60), at(90), at(1), at(0), at(-5)]).toEqual([
      'expires in 3 days',
      'expires in 47 hours',
      'expires in 2 hours',
      'expires in 119 minutes',
      'expires in 5 minutes',
      'expires in 90 seconds',
      'expires in 1 second',
      'expired',
      'expired',
    ]);
  });
});

describe('callAt', () => {
  it('waits past what one setTimeout can hold, in steps, and calls once at the time', () => {
    jest.useFakeTimers({ now: 0 });
    try {
      const fire = jest.fn();
      const at = MAX_TIMEOUT_MS * 2 + 5_000;
      callAt(at, fire);
      jest.advanceTimersByTime(MAX_TIMEOUT_MS * 2);
      expect(fire).not.toHaveBeenCalled();
      jest.advanceTimersByTime(5_000);
      expect(fire).toHaveBeenCalledTimes(1);
      const cancelled = jest.fn();
      callAt(Date.now() + 1_000, cancelled)();
      jest.advanceTimersByTime(2_000);
      expect(cancelled).not.toHaveBeenCalled();
    } finally {
      jest.useRealTimers();
    }
  });
});
