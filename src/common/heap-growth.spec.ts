import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { setHeapGrowth } from './heap-growth.js';

// The built module (`npm test` builds first), in a process of its own: a V8 flag set here would hold for every later test.
const MODULE = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../dist/src/common/heap-growth.js');

/**
 * How many full collections a fresh node (this one, whichever version runs the
 * tests) does while it promotes the same garbage, with setHeapGrowth(percent)
 * applied first and `flags` on node's command line. The garbage: batches of
 * small objects held in a queue long enough to be promoted, then dropped, over
 * a live set of about 20 MB; fewer full collections means the heap may grow
 * further past what survived the last one. Counted from Node's own `gc`
 * performance entries, not from --trace-gc output, whose wording V8 changes
 * between versions.
 */
function fullCollections(percent: number, flags: string[] = []): number {
  const script = `
    const { PerformanceObserver, constants } = await import('node:perf_hooks');
    const { setHeapGrowth } = await import(${JSON.stringify(MODULE)});
    setHeapGrowth(${percent});
    let full = 0;
    new PerformanceObserver((list) => { for (const e of list.getEntries()) if (e.detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR) full++; }).observe({ entryTypes: ['gc'] });
    const queue = [];
    for (let b = 0; b < 3000; b++) {
      const batch = new Array(5000);
      for (let i = 0; i < 5000; i++) batch[i] = { b, i, next: null };
      queue.push(batch);
      if (queue.length > 160) queue.shift();
      if (b % 100 === 99) await new Promise((resolve) => setImmediate(resolve));
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
    process.stdout.write(String(full));`;
  const out = execFileSync(process.execPath, [...flags, '--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  return Number(out);
}

describe('heap growth between full collections', () => {
  // A factor of 5 against one of 1.5: each full collection is followed by several times more room, so far fewer of them.
  let atFive: number | undefined;
  const fewAtFive = () => (atFive ??= fullCollections(400));

  it('lets the heap grow further between full collections once set at run time', () => {
    const few = fewAtFive();
    const many = fullCollections(50);
    expect(few).toBeGreaterThanOrEqual(1);
    expect(many).toBeGreaterThanOrEqual(2 * few);
  });

  it("leaves V8's own growth at 0, so a --heap-growing-percent on node's command line stands", () => {
    const few = fewAtFive();
    const many = fullCollections(0, ['--heap-growing-percent=50']);
    expect(many).toBeGreaterThanOrEqual(2 * few);
  });

  it('refuses a negative or fractional percentage', () => {
    expect(() => setHeapGrowth(-1)).toThrow(RangeError);
    expect(() => setHeapGrowth(1.5)).toThrow(RangeError);
  });
});
