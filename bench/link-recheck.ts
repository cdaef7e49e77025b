/**
 * The link re-check at scale: a bundle's dry run and its activation over
 * `links` valid links of one org, through the real HTTP API, with the time
 * and the peak memory each takes; beside, in the same run, the baseline of
 * reading every link with its artifact in one raw pg query and deciding each
 * with raw CASL, which is what holding them all at once costs.
 *
 *   npm run bench:policy -- --links 100000
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createMongoAbility, subject as tagSubject } from '@casl/ability';
import { loadBundle } from '../src/policy/bundle.js';
import { benchDatabase, fmt } from './harness.js';
import { startService } from './service.js';

const ADMIN = { email: 'bench@bench.local', password: 'bench-password-123' };
const LINKS_PER_ARTIFACT = 10;
/** One artifact in a hundred carries a label a stricter bundle refuses: `embargoed-a` or `embargoed-b`, alternately. */
const EMBARGOED_EVERY = 100;

const DEFAULT_SOURCE = readFileSync(path.resolve(import.meta.dirname, '../../policies/default.yaml'), 'utf8');
/** Two stricter bundles, so that activation can be timed and then measured on links it has not revoked yet. */
const stricter = (labels: string[]) => `${DEFAULT_SOURCE}
  - id: embargoed-stays-in
    effect: deny
    actions: [publish]
    subject: Artifact
    conditions: { labels: { $in: [${labels.join(', ')}] } }
    reason: Embargoed artifacts are not shared
`;
const STRICT_A = stricter(['embargoed-a']);
const STRICT_AB = stricter(['embargoed-a', 'embargoed-b']);

interface Peak {
  ms: number;
  heapMb: number;
  rssMb: number;
}

const gc = (globalThis as { gc?: () => void }).gc;

/**
 * Runs `work` timed, then `memoryWork` (the same work on data in the same state) with
 * a full collection every 25 ms (which slows it) so the heap figure is what
 * is live, above what was live before; garbage not yet collected is not what
 * a paged scan holds. RSS is the peak of either pass.
 */
async function measured(work: () => Promise<unknown>, memoryWork?: () => Promise<unknown>): Promise<Peak> {
  let rss = process.memoryUsage.rss();
  const rssSampler = setInterval(() => (rss = Math.max(rss, process.memoryUsage.rss())), 5);
  const t0 = performance.now();
  await work();
  const ms = performance.now() - t0;
  gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  let heap = heap0;
  const heapSampler = setInterval(() => {
    gc?.();
    heap = Math.max(heap, process.memoryUsage().heapUsed);
  }, 25);
  if (gc && memoryWork) await memoryWork();
  clearInterval(heapSampler);
  clearInterval(rssSampler);
  return { ms, heapMb: (heap - heap0) / 2 ** 20, rssMb: rss / 2 ** 20 };
}

export async function linkRecheckBench(links: number): Promise<void> {
  console.log(`\nlink re-check: ${fmt(links)} valid links of one org (${LINKS_PER_ARTIFACT} per artifact), 1 in ${EMBARGOED_EVERY} on an artifact the stricter bundle refuses`);
  if (!gc) console.log('(no heap figures: run node with --expose-gc, as npm run bench:policy does)');
  const bench = await benchDatabase();
  const { app, port } = await startService(bench.url);
  try {
    const base = `http://127.0.0.1:${port}`;
    const call = async (method: string, url: string, body?: string, type = 'application/json', token?: string) => {
      const res = await fetch(`${base}${url}`, { method, body, headers: { 'content-type': type, ...(token && { authorization: `Bearer ${token}` }) } });
      const json = (await res.json()) as Record<string, unknown>;
      if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${JSON.stringify(json).slice(0, 300)}`);
      return json;
    };
    const { token } = (await call('POST', '/api/v1/auth/token', JSON.stringify({ ...ADMIN, name: 'links' }))) as { token: string };
    const [{ id: adminId, org_id: orgId }] = await bench.pool.query('SELECT id, org_id FROM members WHERE email = $1', [ADMIN.email]).then((r) => r.rows);
    const artifacts = Math.ceil(links / LINKS_PER_ARTIFACT);
    const s0 = performance.now();
    await bench.pool.query(
      `INSERT INTO artifacts (id, org_id, title, kind, classification, labels, owner_id, revision, contains_secrets)
       SELECT gen_random_uuid(), $1, 'artifact ' || i, 'explainer', 'internal', CASE WHEN i % $4 = 0 THEN ARRAY['embargoed-' || CASE WHEN i % (2 * $4) = 0 THEN 'a' ELSE 'b' END] ELSE '{weekly}'::text[] END, $2, 1, false
         FROM generate_series(1, $3) AS i`,
      [orgId, adminId, artifacts, EMBARGOED_EVERY],
    );
    await bench.pool.query(`INSERT INTO artifact_revisions (artifact_id, revision, format, body, contains_secrets, created_by, created_by_type) SELECT id, 1, 'markdown', 'hello', false, owner_id, 'user' FROM artifacts WHERE org_id = $1`, [orgId]);
    // Every tenth link is pinned to revision 1, so the re-check reads pinned revisions too.
    await bench.pool.query(
      `INSERT INTO shares (id, org_id, artifact_id, audience, revision, expires_in_seconds, expires_at, token_hash, created_by)
       SELECT gen_random_uuid(), a.org_id, a.id, 'link', CASE WHEN k = 1 THEN 1 END, 86400, now() + interval '1 day', sha256((a.id::text || k)::bytea), a.owner_id
         FROM artifacts a CROSS JOIN generate_series(1, $2) AS k WHERE a.org_id = $1`,
      [orgId, LINKS_PER_ARTIFACT],
    );
    await bench.pool.query('ANALYZE');
    console.log(`seeded ${fmt(artifacts)} artifacts and ${fmt(artifacts * LINKS_PER_ARTIFACT)} links in ${((performance.now() - s0) / 1000).toFixed(1)} s`);

    // Baseline: every valid link with its artifact in one query, decided one by one with raw CASL.
    const rules = loadBundle(STRICT_AB).bundle.rules.filter((r) => !r.roles || r.roles.includes('admin'));
    const ability = createMongoAbility(rules.map((r) => ({ action: r.actions, subject: r.subject, inverted: r.effect === 'deny', conditions: r.conditions })) as never);
    let rawDenied = 0;
    const baseline = async () => {
      rawDenied = 0;
      const { rows } = await bench.pool.query(
        `SELECT s.id, s.audience, s.expires_in_seconds, s.revision, a.id AS artifact_id, a.classification, a.labels, a.contains_secrets, a.owner_id, a.team_id
           FROM shares s JOIN artifacts a ON a.id = s.artifact_id
          WHERE s.org_id = $1 AND s.revoked_at IS NULL AND (s.expires_at IS NULL OR s.expires_at > now())`,
        [orgId],
      );
      for (const row of rows) {
        const attributes = { id: row.artifact_id, classification: row.classification, labels: row.labels, containsSecrets: row.contains_secrets, ownerId: row.owner_id, teamId: row.team_id, share: { audience: row.audience, expiresInSeconds: row.expires_in_seconds, pinned: row.revision !== null } };
        if (!ability.can('publish', tagSubject('Artifact', attributes) as never)) rawDenied++;
      }
    };
    const raw = await measured(baseline, baseline);

    let listed = 0;
    const dryRun = async () => {
      listed = ((await call('PUT', '/api/v1/policies?dryRun=true', STRICT_AB, 'application/yaml', token)).wouldDeny as unknown[]).length;
    };
    const dry = await measured(dryRun, dryRun);
    const revokedNow = async () => Number((await bench.pool.query('SELECT count(*) FROM shares WHERE revoked_at IS NOT NULL')).rows[0].count);
    // Timed on the `a` links, measured on the `b` links, which the first activation left valid.
    const activation = await measured(
      () => call('PUT', '/api/v1/policies', STRICT_A, 'application/yaml', token),
      () => call('PUT', '/api/v1/policies', STRICT_AB, 'application/yaml', token),
    );
    const revoked = await revokedNow();
    if (listed !== rawDenied || (gc && revoked !== listed)) {
      console.log(`MISMATCH: raw CASL denies ${rawDenied}, the dry run lists ${listed}, activation revoked ${revoked}`);
      process.exitCode = 1;
    }
    const row = (name: string, p: Peak, note: string) => console.log(`${name.padEnd(44)} ${(p.ms / 1000).toFixed(2).padStart(7)} s ${p.heapMb.toFixed(1).padStart(9)} MB ${p.rssMb.toFixed(0).padStart(8)} MB   ${note}`);
    console.log(`${'what'.padEnd(44)} ${'time'.padStart(9)} ${'live heap'.padStart(12)} ${'peak RSS'.padStart(11)}`);
    row('baseline: raw pg, all at once, + raw CASL', raw, `${fmt(rawDenied)} denied`);
    row('dry run (PUT ?dryRun=true), paged', dry, `${fmt(listed)} listed`);
    row('activation (PUT): re-check + revoke', activation, `${fmt(revoked)} revoked and audited (in two activations)`);
    console.log(`per link: baseline ${((raw.ms * 1000) / links).toFixed(1)} µs, dry run ${((dry.ms * 1000) / links).toFixed(1)} µs, activation ${((activation.ms * 1000) / links).toFixed(1)} µs`);
  } finally {
    await app.close();
    await bench.close();
  }
}
