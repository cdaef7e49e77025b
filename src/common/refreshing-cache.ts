import { LRUCache } from 'lru-cache';

export interface RefreshingCacheOptions<K, V, C> {
  /** Entries kept at most; the least recently used goes first. */
  max: number;
  /** How long an entry may be served after it was loaded (ms). */
  ttlMs: number;
  /** A read this close to an entry's end renews it in the background (ms). */
  refreshAheadMs: number;
  /** Reads the value, given what the read that started the load passed along; what it throws (an unknown key, say) reaches the read that waits for it, and nothing is cached. */
  load: (key: K, context: C) => Promise<V>;
  /** Each entry's ttl is spread by up to this share either way, so entries loaded together do not all end together (default 0.2). */
  jitter?: number;
}

/**
 * A bounded cache for values read on a hot path that may be a few seconds
 * old. A read in an entry's last `refreshAheadMs` gets the entry at once and
 * starts one background load to renew it, however many read meanwhile; so a
 * key in steady use never makes a request wait for its load, and the loads
 * of keys read together are spread by the jittered ttl instead of all coming
 * at the same instant. An entry is never served past its ttl: a read after
 * that waits for the load, as the first read does.
 *
 * Why: the reporter-token and run-attribute caches had a fixed ttl, and the
 * reporters of runs started together all missed in the same millisecond every
 * few seconds. Their 32 lookups queued for the pool and the database at once
 * and held those requests 30-70 ms (bench:ingest at a steady rate, traced
 * per request): the biggest stalls of the ingest tail after the disk's.
 *
 * A failed background load drops the entry, so the next read loads again and
 * sees the failure itself.
 */
export class RefreshingCache<K extends {}, V extends {}, C> {
  // Its context is unknown to lru-cache's types (a generic one defeats their overloads); get() and load() type it as C.
  private readonly cache: LRUCache<K, V, unknown>;
  private readonly refreshAheadMs: number;

  constructor(options: RefreshingCacheOptions<K, V, C>) {
    const jitter = options.jitter ?? 0.2;
    // A jitter of 1 or more could give an entry no ttl at all, which lru-cache takes as "never ends".
    if (!(jitter >= 0 && jitter < 1)) throw new RangeError('jitter must be at least 0 and below 1');
    if (options.refreshAheadMs <= 0 || options.refreshAheadMs >= options.ttlMs * (1 - jitter)) {
      throw new RangeError('refreshAheadMs must be above 0 and below the shortest ttl');
    }
    this.refreshAheadMs = options.refreshAheadMs;
    this.cache = new LRUCache<K, V, unknown>({
      max: options.max,
      ttl: options.ttlMs,
      fetchMethod: async (key, _stale, { options: set, context }) => {
        const value = await options.load(key, context as C);
        set.ttl = Math.round(options.ttlMs * (1 + jitter * (2 * Math.random() - 1)));
        return value;
      },
    });
  }

  /**
   * The cached value, renewed in the background near its end; loaded (and
   * waited for) when missing or expired. `context` reaches `load` (the first
   * read's, when several wait for one load).
   */
  get(key: K, ...[context]: undefined extends C ? [C?] : [C]): Promise<V> {
    const left = this.cache.getRemainingTTL(key);
    const renew = left > 0 && left <= this.refreshAheadMs;
    // forceFetch: fetch() that never answers undefined (it throws instead, which only an abort this cache never asks for could cause).
    return this.cache.forceFetch(key, renew ? { context, forceRefresh: true, allowStale: true } : { context });
  }
}
