import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * How long a viewer page's ticket lets its frame load the link's content without
 * counting another view: long enough for a page left open to follow a live link's
 * revisions, short enough that a copied ticket soon stops reading uncounted.
 */
export const VIEW_TICKET_TTL_MS = 60 * 60 * 1000;

const FORMAT = /^([0-9a-z]{1,12})\.([A-Za-z0-9_-]{43})$/;

/**
 * Signed proof that a share's view was counted: the viewer page (`GET /s/{token}`)
 * counts its view and carries a ticket, which its frame's content requests show
 * so that one page load is one view. Stateless, so any instance that derives the
 * same secret accepts it; a ticket names one share and an expiry, nothing more.
 */
export class ViewTickets {
  constructor(
    private readonly secret: Buffer,
    private readonly ttlMs = VIEW_TICKET_TTL_MS,
  ) {}

  issue(shareId: string, now = Date.now()): string {
    const expires = (now + this.ttlMs).toString(36);
    return `${expires}.${this.mac(shareId, expires).toString('base64url')}`;
  }

  /** Whether `ticket` was issued for this share and has not expired; anything else (absent, malformed, forged) is false. */
  valid(ticket: string | undefined, shareId: string, now = Date.now()): boolean {
    const match = ticket === undefined ? null : FORMAT.exec(ticket);
    if (!match) return false;
    const [, expires, mac] = match as unknown as [string, string, string];
    if (parseInt(expires, 36) <= now) return false;
    const given = Buffer.from(mac, 'base64url');
    const expected = this.mac(shareId, expires);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  private mac(shareId: string, expires: string): Buffer {
    return createHmac('sha256', this.secret).update(`vitrine share view\n${shareId}\n${expires}`).digest();
  }
}
