import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { setHeapGrowth } from './heap-growth.js';

// The built module (`npm test` builds first), in a process of its own: a V8 flag set here would hold for every later test.
const MODULE = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../dist/src/common/heap-growth.js');

/**
 * The growing factors V8 applied after two full collections in a fresh node,
 * as --trace-gc-verbose prints each new limit ("[HeapController] Limit: old
 * size: 11275 KB, new limit: 64430 KB (5.0)"),
 * with setHeapGrowth(percent) applied first, and `flags` on node's command line.
 */
function factorsAfter(percent: number, flags: string[] = []): number[] {
  const script = `const { setHeapGrowth } = await import(${JSON.stringify(MODULE)}); setHeapGrowth(${percent}); const keep = []; for (let i = 0; i < 2; i++) { for (let j = 0; j < 200000; j++) keep.push({ j }); globalThis.gc(); }`;
  const out = execFileSync(process.execPath, ['--expose-gc', '--trace-gc-verbose', ...flags, '--input-type=module', '-e', script], {
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '' },
    maxBuffer: 64 * 1024 * 1024,
  });
  return [...out.matchAll(/\[HeapController\] Limit: .*\(([\d.]+)\)$/gm)].map((m) => Number(m[1]));
}

describe('heap growth between full collections', () => {
  it('lets the heap grow to (1 + percent/100) times its live size once set at run time', () => {
    const factors = factorsAfter(400);
    expect(factors.length).toBeGreaterThanOrEqual(2);
    expect(new Set(factors)).toEqual(new Set([5]));
  });

  it("leaves V8's own factor at 0 (at most 4), and a --heap-growing-percent on node's command line then stands", () => {
    const own = factorsAfter(0);
    expect(own.length).toBeGreaterThanOrEqual(2);
    expect(Math.max(...own)).toBeLessThanOrEqual(4);
    expect(new Set(factorsAfter(0, ['--heap-growing-percent=200']))).toEqual(new Set([3]));
  });

  it('refuses a negative or fractional percentage', () => {
    expect(() => setHeapGrowth(-1)).toThrow(RangeError);
    expect(() => setHeapGrowth(1.5)).toThrow(RangeError);
  });
});
