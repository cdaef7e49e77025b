/**
 * List page benchmark: `GET /api/v1/artifacts` as a viewer in an org where
 * half the artifacts are another member's private remixes (hidden from the
 * viewer by the default bundle's `remixes-stay-private`), interleaved with
 * visible ones (one in --visible-every is visible: 2 by default, more for a
 * viewer who may see little of a large org).
 *
 *   npm run bench:lists [-- --rows 10000] [--limit 50] [--repeat 200] [--visible-every 2]
 *
 * Reports the latency of the first page (p50/p95 over --repeat requests),
 * how many items a page holds, and the time to page through the whole list.
 * The baseline is the same script on the code before visibility moved into
 * the query (the figures are in the commit that added this script).
 */
import { newId } from '../src/common/ids.js';
import { benchDatabase, fmt, numberArg, percentile } from './harness.js';
import { startService } from './service.js';

const ROWS = numberArg('rows', 10_000);
const LIMIT = numberArg('limit', 50);
const REPEAT = numberArg('repeat', 200);
const VISIBLE_EVERY = numberArg('visible-every', 2);

async function call<T>(base: string, method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: T; ms: number }> {
  const t0 = performance.now();
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { 'Content-Type': 'application/json' }), ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await res.json()) as T;
  return { status: res.status, body: json, ms: performance.now() - t0 };
}

async function main(): Promise<void> {
  const db = await benchDatabase(10);
  const { app, port } = await startService(db.url);
  const base = `http://127.0.0.1:${port}`;
  try {
    const admin = (await call<{ token: string }>(base, 'POST', '/api/v1/auth/token', { email: 'bench@bench.local', password: 'bench-password-123', name: 'bench' })).body.token;
    const member = async (role: string) => {
      const email = `${role}-${newId()}@bench.local`;
      const created = await call<{ id: string; orgId: string }>(base, 'POST', '/api/v1/members', { email, name: role, password: 'bench-password-123', role }, admin);
      if (created.status !== 201) throw new Error(`creating a ${role}: ${created.status}`);
      const token = (await call<{ token: string }>(base, 'POST', '/api/v1/auth/token', { email, password: 'bench-password-123', name: 'bench' })).body.token;
      return { ...created.body, token };
    };
    const viewer = await member('viewer');
    const remixer = await member('member');
    const owner = await member('member');

    // All but one in VISIBLE_EVERY are private remixes of the remixer's: ids are time-ordered, so they interleave.
    const ids: string[] = [];
    const privates: boolean[] = [];
    for (let i = 0; i < ROWS; i++) {
      ids.push(newId());
      privates.push(i % VISIBLE_EVERY !== 0);
    }
    for (let at = 0; at < ROWS; at += 2_000) {
      const slice = ids.slice(at, at + 2_000);
      const hidden = privates.slice(at, at + 2_000);
      await db.pool.query(
        `INSERT INTO artifacts (id, org_id, title, kind, classification, labels, owner_id, private, revision, remixed_from_id, remixed_from_revision)
         SELECT id, $2, 'Artifact', 'explainer', 'internal', '{}', CASE WHEN p THEN $3::uuid ELSE $4::uuid END, p, 1,
                CASE WHEN p THEN $5::uuid END, CASE WHEN p THEN 1 END
           FROM unnest($1::uuid[], $6::boolean[]) AS x(id, p)`,
        [slice, viewer.orgId, remixer.id, owner.id, ids[0], hidden],
      );
    }
    await db.pool.query('ANALYZE artifacts');

    const first: number[] = [];
    let firstItems = 0;
    for (let i = 0; i < REPEAT + 10; i++) {
      const res = await call<{ items: unknown[] }>(base, 'GET', `/api/v1/artifacts?limit=${LIMIT}`, undefined, viewer.token);
      if (res.status !== 200) throw new Error(`list: ${res.status}`);
      if (i >= 10) first.push(res.ms);
      firstItems = res.body.items.length;
    }
    first.sort((a, b) => a - b);

    let cursor: string | null = null;
    let pages = 0;
    let items = 0;
    let shortPages = 0;
    const t0 = performance.now();
    do {
      const res: { status: number; body: { items: unknown[]; nextCursor: string | null } } = await call(
        base,
        'GET',
        `/api/v1/artifacts?limit=${LIMIT}${cursor ? `&cursor=${cursor}` : ''}`,
        undefined,
        viewer.token,
      );
      pages++;
      items += res.body.items.length;
      cursor = res.body.nextCursor;
      if (cursor && res.body.items.length < LIMIT) shortPages++;
    } while (cursor);
    const whole = performance.now() - t0;

    console.log(`artifacts: ${fmt(ROWS)} in the org, ${fmt(privates.filter(Boolean).length)} hidden from the viewer; limit=${LIMIT}`);
    console.log(`first page: p50 ${first[Math.floor(first.length / 2)]!.toFixed(2)} ms, p95 ${percentile(first, 95).toFixed(2)} ms over ${REPEAT} requests; ${firstItems} items`);
    console.log(`whole list: ${fmt(pages)} pages (${fmt(shortPages)} short with a next cursor), ${fmt(items)} items, ${whole.toFixed(0)} ms`);
  } finally {
    await app.close();
    await db.close();
  }
}

await main();
