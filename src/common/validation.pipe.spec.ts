import { describe, expect, it } from '@jest/globals';
import { inspectRequestValue, MAX_DEPTH } from './validation.pipe.js';

/** `levels` arrays, one inside the next, around `inner`. */
const nested = (levels: number, inner: unknown = 1): unknown => {
  let value = inner;
  for (let i = 0; i < levels; i++) value = [value];
  return value;
};

describe('inspectRequestValue', () => {
  it('takes values nested up to MAX_DEPTH and names the first place deeper', () => {
    expect(inspectRequestValue({ a: nested(MAX_DEPTH - 1) })).toBeNull();
    const flaw = inspectRequestValue({ ok: 'x', a: nested(MAX_DEPTH) });
    expect(flaw).toEqual({ path: ['a', ...Array<number>(MAX_DEPTH - 1).fill(0)], message: `nests deeper than ${MAX_DEPTH} levels of objects and arrays` });
  });

  it('walks a value nested far beyond the stack without throwing', () => {
    const deep = nested(200_000);
    expect(inspectRequestValue({ events: deep })?.message).toMatch(/nests deeper/);
  });

  it('names unstorable text by the keys and indexes down to it, keys included', () => {
    expect(inspectRequestValue({ events: [{ message: 'fine' }, { message: 'a\u0000b' }] })?.path).toEqual(['events', 1, 'message']);
    expect(inspectRequestValue({ outer: { ['k\ud800']: 1 } })?.path).toEqual(['outer', 'k\ud800']);
    expect(inspectRequestValue('a\u0000')?.path).toEqual([]);
    expect(inspectRequestValue({ a: [1, true, null, 'ok', { b: 'ok' }] })).toBeNull();
  });

  it('removes prototype-polluting keys at every level', () => {
    const value = JSON.parse('{"__proto__":{"x":1},"a":{"constructor":{"y":1},"list":[{"prototype":{"z":1},"keep":2}]}}') as Record<string, unknown>;
    expect(inspectRequestValue(value)).toBeNull();
    expect(JSON.stringify(value)).toBe('{"a":{"list":[{"keep":2}]}}');
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
  });
});
