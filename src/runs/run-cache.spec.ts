import { describe, expect, it } from '@jest/globals';
import { RunCache } from './run-ingest.service.js';
import type { NodeState } from './run-state.js';

function run(nodeCount: number) {
  const nodes = new Map<string, NodeState>();
  for (let i = 0; i < nodeCount; i++) {
    nodes.set(`n${i}`, { key: `n${i}`, dependsOn: [], status: 'pending', reason: null, percent: null, message: null, stalled: false, startedAt: null, endedAt: null, output: undefined, error: null });
  }
  return { orgId: 'org', status: 'running' as const, lastSeq: 0, staleAfterSeconds: 60, nodes };
}

describe('RunCache', () => {
  it('holds at most its number of nodes, dropping the least recently written runs first', () => {
    const cache = new RunCache(10);
    cache.set('a', run(4));
    cache.set('b', run(4));
    cache.set('a', run(4)); // written again: now the most recent
    cache.set('c', run(4)); // 12 nodes > 10: b goes
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBeDefined();
    expect(cache.get('c')).toBeDefined();
    cache.set('d', run(6)); // 14 nodes: a, the older, goes; c and d make exactly 10
    expect([cache.get('a'), cache.get('b'), cache.get('c'), cache.get('d')].map(Boolean)).toEqual([false, false, true, true]);
    cache.set('e', run(7)); // both go
    expect([cache.get('c'), cache.get('d'), cache.get('e')].map(Boolean)).toEqual([false, false, true]);
  });

  it('does not keep a run larger than the whole cache, nor an older copy of it', () => {
    const cache = new RunCache(10);
    cache.set('a', run(4));
    cache.set('big', run(3));
    cache.set('big', run(11));
    expect(cache.get('big')).toBeUndefined();
    expect(cache.get('a')).toBeDefined();
  });

  it('frees the nodes of a run it drops', () => {
    const cache = new RunCache(10);
    cache.set('a', run(6));
    cache.delete('a');
    cache.set('b', run(10));
    expect(cache.get('b')).toBeDefined();
  });
});
