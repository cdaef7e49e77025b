import { z } from 'zod';

/**
 * A time from a client: ISO 8601 with `Z` or an offset, whose UTC year is
 * 0001-9999, as both PostgreSQL's timestamptz input and Date#toISOString
 * write it. zod checks the calendar, not the range: "0000-01-01T00:00:00Z"
 * or "9999-12-31T23:59:59-05:00" passed it and then failed in PostgreSQL,
 * a 500, and inside a group commit, for every request in the group.
 */
export const TimestampSchema = z.iso.datetime({ offset: true }).refine(
  (value) => {
    // Every reporter's event carries a time, so the common case reads no Date: a time
    // written in the years 0002-9998 stays within 0001-9999 whatever its offset.
    const written = value.slice(0, 4);
    if (written !== '0000' && written !== '0001' && written !== '9999') return true;
    const year = new Date(value).getUTCFullYear();
    return year >= 1 && year <= 9999;
  },
  // Only a well-formed time: one that is not has been told so by the format check, once is enough.
  { message: 'must fall in the years 0001-9999, in UTC', when: (payload) => payload.issues.length === 0 },
);
