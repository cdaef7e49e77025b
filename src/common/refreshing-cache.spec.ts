import { describe, expect, it, jest } from '@jest/globals';
import { RefreshingCache } from './refreshing-cache.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A loader that answers `key#n` (n: its nth call) after `delayMs`, or throws while `failing` is set; it counts its calls per key. */
function loader(delayMs: number) {
  const calls = new Map<string, number>();
  const state = { failing: false };
  const load = async (key: string) => {
    const n = (calls.get(key) ?? 0) + 1;
    calls.set(key, n);
    await sleep(delayMs);
    if (state.failing) throw new Error(`cannot read ${key}`);
    return `${key}#${n}`;
  };
  return { load, calls, state };
}

describe('RefreshingCache', () => {
  it('serves a fresh entry without loading it again', async () => {
    const { load, calls } = loader(5);
    const cache = new RefreshingCache({ max: 10, ttlMs: 1_000, refreshAheadMs: 100, jitter: 0, load });
    expect(await cache.get('run')).toBe('run#1');
    expect(await cache.get('run')).toBe('run#1');
    expect(calls.get('run')).toBe(1);
  });

  it('answers a read near the end at once, and renews the entry with one load however many read meanwhile', async () => {
    const { load, calls } = loader(150);
    const cache = new RefreshingCache({ max: 10, ttlMs: 300, refreshAheadMs: 120, jitter: 0, load });
    expect(await cache.get('run')).toBe('run#1');
    await sleep(220);
    const started = performance.now();
    const answers = await Promise.all(Array.from({ length: 20 }, () => cache.get('run')));
    expect(performance.now() - started).toBeLessThan(100); // not the 150 ms of a load
    expect(new Set(answers)).toEqual(new Set(['run#1']));
    expect(calls.get('run')).toBe(2); // one renewal started, for twenty reads
    await sleep(200);
    const renewed = performance.now();
    expect(await cache.get('run')).toBe('run#2');
    expect(performance.now() - renewed).toBeLessThan(100); // renewed before the first entry's end, so no wait
    expect(calls.get('run')).toBe(2);
  });

  it('never serves an entry past its ttl: the read waits for the load', async () => {
    const { load } = loader(50);
    const cache = new RefreshingCache({ max: 10, ttlMs: 100, refreshAheadMs: 20, jitter: 0, load });
    expect(await cache.get('run')).toBe('run#1');
    await sleep(150);
    const started = performance.now();
    expect(await cache.get('run')).toBe('run#2');
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
  });

  it('gives a failed load to the read that waits for it, and caches nothing', async () => {
    const { load, calls, state } = loader(1);
    const cache = new RefreshingCache({ max: 10, ttlMs: 1_000, refreshAheadMs: 100, jitter: 0, load });
    state.failing = true;
    await expect(cache.get('run')).rejects.toThrow('cannot read run');
    state.failing = false;
    expect(await cache.get('run')).toBe('run#2');
    expect(calls.get('run')).toBe(2);
  });

  it('drops an entry whose background renewal failed, so the next read sees the failure', async () => {
    const { load, state } = loader(20);
    const cache = new RefreshingCache({ max: 10, ttlMs: 200, refreshAheadMs: 100, jitter: 0, load });
    expect(await cache.get('run')).toBe('run#1');
    await sleep(130);
    state.failing = true;
    expect(await cache.get('run')).toBe('run#1'); // the renewal runs in the background
    await sleep(50);
    await expect(cache.get('run')).rejects.toThrow('cannot read run');
  });

  it('spreads the ends of entries loaded together', async () => {
    const { load, calls } = loader(0);
    const cache = new RefreshingCache({ max: 100, ttlMs: 200, refreshAheadMs: 20, jitter: 0.5, load });
    const keys = Array.from({ length: 40 }, (_, i) => `run${i}`);
    // Evenly spread draws: the ttls are 100, 105, … 295 ms, so how many have ended depends only on the time read.
    let draw = 0;
    const random = jest.spyOn(Math, 'random').mockImplementation(() => draw++ / keys.length);
    try {
      await Promise.all(keys.map((k) => cache.get(k)));
    } finally {
      random.mockRestore();
    }
    const loaded = performance.now();
    await sleep(120);
    await Promise.all(keys.map((k) => cache.get(k)));
    const elapsed = performance.now() - loaded;
    const reloaded = keys.filter((k) => calls.get(k)! > 1).length;
    // Read `elapsed` ms later, entries whose ttl less the 20 ms refresh-ahead has passed load again;
    // without the jitter all 40 would end together (none reloaded at 120 ms, all past 180 ms).
    const expected = Math.min(keys.length, Math.max(0, Math.floor((elapsed - 80) / 5) + 1));
    expect(Math.abs(reloaded - expected)).toBeLessThanOrEqual(4);
  });

  it("gives the load the context of the read that started it", async () => {
    const seen: string[] = [];
    const cache = new RefreshingCache({ max: 10, ttlMs: 1_000, refreshAheadMs: 100, load: async (key: string, org: string) => (seen.push(org), `${org}/${key}`) });
    expect(await cache.get('run', 'org-a')).toBe('org-a/run');
    expect(seen).toEqual(['org-a']);
  });

  it('refuses a refresh window as long as the shortest ttl, and a jitter that could leave an entry no ttl', () => {
    const { load } = loader(0);
    expect(() => new RefreshingCache({ max: 1, ttlMs: 100, refreshAheadMs: 80, jitter: 0.2, load })).toThrow(RangeError);
    expect(() => new RefreshingCache({ max: 1, ttlMs: 100, refreshAheadMs: 10, jitter: 1, load })).toThrow(RangeError);
    expect(() => new RefreshingCache({ max: 1, ttlMs: 100, refreshAheadMs: 10, jitter: -0.1, load })).toThrow(RangeError);
  });
});
