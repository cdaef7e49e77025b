const SPECIAL = /["\\]/;
const SPECIALS = /["\\]/g;
const escape = (text: string) => (SPECIAL.test(text) ? text.replace(SPECIALS, '\\$&') : text);

/**
 * A PostgreSQL array literal for a one-dimensional array of strings, numbers,
 * booleans, null and undefined, to send as the text of an array parameter
 * (`$1::uuid[]`): strings quoted with `"` and `\` escaped, null and undefined
 * as NULL, numbers and booleans as JavaScript writes them. Undefined for an
 * array holding anything else (objects, dates, buffers, nested arrays,
 * bigints), which node-postgres's own encoding is left to.
 *
 * node-postgres makes the same literal, but one concatenation at a time with
 * every element escaped by two regex replaces; for the 28 arrays of a
 * 100-event ingest that was about 170 KB of garbage per request on the
 * service's one thread (sampling heap profile), a share of its collection
 * pauses. This one joins the elements once, and only a string that holds `"`
 * or `\` is copied to escape it.
 */
export function pgArray(values: readonly unknown[]): string | undefined {
  let strings = true;
  let scalars = true;
  for (const v of values) {
    if (typeof v === 'string') scalars = false;
    else if (typeof v === 'number' || typeof v === 'boolean') strings = false;
    else if (v === null || v === undefined) strings = scalars = false;
    else return undefined;
  }
  if (values.length === 0) return '{}';
  if (strings) return `{"${(values as string[]).map(escape).join('","')}"}`;
  if (scalars) return `{${values.join(',')}}`;
  return `{${values.map((v) => (v === null || v === undefined ? 'NULL' : typeof v === 'string' ? `"${escape(v)}"` : String(v))).join(',')}}`;
}

/**
 * A PostgreSQL `jsonb[]` (or `json[]`) literal for these JSON values (as
 * parsed from a request); undefined as NULL. Each element is the JSON text quoted by
 * JSON.stringify a second time: for text JSON.stringify itself wrote, that
 * quoting is an array element's (only `"` and `\` escaped, each by a
 * backslash), because JSON text holds no raw control character and no
 * unpaired surrogate, the only other characters a JSON string escapes. One
 * native call per element, where pgArray's escape of the same text took two
 * regex passes: for a 100-event ingest, half the time.
 */
export function pgJsonArray(values: readonly unknown[]): string {
  return `{${values.map((value) => (value === undefined ? 'NULL' : JSON.stringify(JSON.stringify(value)))).join(',')}}`;
}
