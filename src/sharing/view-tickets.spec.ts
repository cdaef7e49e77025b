import { randomBytes } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { VIEW_TICKET_TTL_MS, ViewTickets } from './view-tickets.js';

const SHARE = '0195f0a0-7b7e-7000-8000-000000000001';
const OTHER = '0195f0a0-7b7e-7000-8000-000000000002';
const secret = randomBytes(32);
const tickets = new ViewTickets(secret);
const now = Date.UTC(2025, 5, 1);

describe('ViewTickets', () => {
  it('accepts its own ticket for the share it names until it expires', () => {
    const ticket = tickets.issue(SHARE, now);
    expect(tickets.valid(ticket, SHARE, now)).toBe(true);
    expect(tickets.valid(ticket, SHARE, now + VIEW_TICKET_TTL_MS - 1)).toBe(true);
    expect(tickets.valid(ticket, SHARE, now + VIEW_TICKET_TTL_MS)).toBe(false);
  });

  it('refuses a ticket for another share, from another secret, or with its expiry moved', () => {
    const ticket = tickets.issue(SHARE, now);
    expect(tickets.valid(ticket, OTHER, now)).toBe(false);
    expect(new ViewTickets(randomBytes(32)).valid(ticket, SHARE, now)).toBe(false);
    const [expires, mac] = ticket.split('.') as [string, string];
    const later = (parseInt(expires, 36) + VIEW_TICKET_TTL_MS).toString(36);
    expect(tickets.valid(`${later}.${mac}`, SHARE, now + VIEW_TICKET_TTL_MS)).toBe(false);
    // The same secret, handed to another instance, agrees.
    expect(new ViewTickets(Buffer.from(secret)).valid(ticket, SHARE, now)).toBe(true);
  });

  it('refuses what is no ticket at all', () => {
    const ticket = tickets.issue(SHARE, now);
    for (const bad of [undefined, '', 'x', `${ticket}x`, ticket.replace('.', ''), `${ticket.split('.')[0]}.${'A'.repeat(43)}`, `-1.${ticket.split('.')[1]}`]) {
      expect([bad, tickets.valid(bad, SHARE, now)]).toEqual([bad, false]);
    }
  });
});
