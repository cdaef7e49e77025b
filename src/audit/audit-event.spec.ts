import { randomBytes, randomInt } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import canonicalize from 'canonicalize';
import { canonicalEvent, storable, type AuditEventBody } from './audit-event.js';
import { eventHash } from './audit-seal.js';
import { canonicalFromVerifyRow, hashVerifyRows } from './audit-verify-rows.js';

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

/** The text VERIFY_ROW makes of a stored event (details as jsonb prints them: spaced, keys reordered). */
function verifyRow(e: AuditEventBody, hash: string): string {
  const n = (v: string | null) => v ?? '\x1e';
  const details = JSON.stringify(Object.fromEntries(Object.entries(e.details).reverse())).replace(/,"/g, ', "');
  return [e.seq, e.id, e.orgId, Date.parse(e.at), e.actor.type, n(e.actor.id), n(e.actor.name), e.action, e.resource.type, n(e.resource.id),
    e.outcome, n(e.reason), n(e.policy?.version ?? null), n(e.policy?.ruleId ?? null), n(e.context.ip), n(e.context.userAgent), n(e.context.requestId), hash, details].join('\x1f');
}

describe('canonicalFromVerifyRow', () => {
  it('writes the same text as canonicalEvent from a stored row, so verify recomputes the hash record stored', () => {
    for (let i = 0; i < 2_000; i++) {
      const event = storable(randomEvent());
      const row = verifyRow(event, 'ab'.repeat(32));
      expect(canonicalFromVerifyRow(row)).toEqual({ seq: event.seq, stored: 'ab'.repeat(32), canonical: canonicalEvent(event) });
    }
  });

  it('flags a row whose contents no longer match its stored hash', () => {
    const event = storable(randomEvent());
    const good = verifyRow(event, eventHash(event));
    const edited = verifyRow({ ...event, action: 'member.delete' }, eventHash(event));
    const { computed, stored } = hashVerifyRows([good, edited]);
    expect(computed[0]).toBe(stored[0]);
    expect(computed[1]).not.toBe(stored[1]);
  });
});

describe('storable', () => {
  it('replaces what PostgreSQL cannot store, so a stored event hashes as it was computed', () => {
    expect(storable({ a: 'nul\0here', b: ['lone \ud800 surrogate'], c: 'pair 🎉 kept', d: undefined, e: Number.NaN, f: 'sep\x1e\x1f' })).toEqual({
      a: 'nul\uFFFDhere',
      f: 'sep\uFFFD\uFFFD',
      b: ['lone \uFFFD surrogate'],
      c: 'pair 🎉 kept',
      e: null,
    });
  });
});
