import { randomBytes, randomInt } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import canonicalize from 'canonicalize';
import { canonicalEvent, storable, type AuditEventBody } from './audit-event.js';

const text = () => ['', 'plain', 'é ü 漢字 🎉', 'quote " and \\ backslash', 'line\nbreak\ttab\u2028', '\u0001ctl', randomBytes(6).toString('base64')][randomInt(7)]!;
const maybe = <T>(value: T): T | null => (randomInt(3) === 0 ? null : value);

function randomEvent(): AuditEventBody {
  return {
    seq: randomInt(1, 2 ** 40),
    id: '0195f0a0-7b7e-7000-8000-00000000000' + randomInt(10),
    orgId: '0195f0a0-7b7e-7000-8000-000000000001',
    at: new Date(randomInt(2 ** 40)).toISOString(),
    actor: { type: (['user', 'agent', 'public', 'system'] as const)[randomInt(4)]!, id: maybe(text()), name: maybe(text()) },
    action: 'member.update',
    resource: { type: 'Member', id: maybe(text()) },
    outcome: (['allowed', 'denied', 'error'] as const)[randomInt(3)]!,
    reason: maybe(text()),
    policy: maybe({ version: String(randomInt(100)), ruleId: maybe(text()) }),
    context: { ip: maybe('127.0.0.1'), userAgent: maybe(text()), requestId: maybe(text()) },
    details: { [text()]: text(), n: randomInt(1e6) / 7, list: [1, 'two', null, { z: true, a: 1e21 }], nested: { b: [], a: {} } },
  };
}

describe('canonicalEvent', () => {
  it('is exactly the RFC 8785 form of the whole event, whatever it holds', () => {
    for (let i = 0; i < 2_000; i++) {
      const event = randomEvent();
      expect(canonicalEvent(event)).toBe(canonicalize(event));
    }
  });
});

describe('storable', () => {
  it('replaces what PostgreSQL cannot store, so a stored event hashes as it was computed', () => {
    expect(storable({ a: 'nul\0here', b: ['lone \ud800 surrogate'], c: 'pair 🎉 kept', d: undefined, e: Number.NaN })).toEqual({
      a: 'nul\uFFFDhere',
      b: ['lone \uFFFD surrogate'],
      c: 'pair 🎉 kept',
      e: null,
    });
  });
});
