/**
 * Audit log benchmark, every figure beside its baseline from the same run:
 *
 *   npm run bench:audit [-- --rows 1000000] [--verify-events 200000] [--seconds 4] [--only writes|verify|queries]
 *
 * 1. Audited actions/s: a change plus its audit event in one transaction
 *    (AuditService.record, hashed, sealed in the background as in production)
 *    beside the same change with a plain INSERT of the event row (raw pg), and
 *    beside the rejected design, a per-org hash chain extended under a lock.
 * 2. Verify: events/s through AuditChainService.verify over valid events,
 *    the first run (which starts the verify workers) and the median of three more.
 * 3. Query p50/p95 for each documented filter through AuditService.list on
 *    an org with --rows events (1M by default; pass 10000000 for 10M).
 */
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { DataSource } from 'typeorm';
import { canonicalEventPrefix } from '../src/audit/audit-event.js';
import { AuditChainService } from '../src/audit/audit-chain.service.js';
import { AuditService } from '../src/audit/audit.service.js';
import { loadConfig } from '../src/config/config.schema.js';
import { newId } from '../src/common/ids.js';
import { queryRows } from '../src/database/query-rows.js';
import { benchDatabase, fmt, load, numberArg, percentile, stringArg } from './harness.js';

const ROWS = numberArg('rows', 1_000_000);
const VERIFY_EVENTS = numberArg('verify-events', 200_000);
const SECONDS = numberArg('seconds', 4);
const CONCURRENCY = [1, 8, 32];

const ACTIONS = ['member.create', 'member.update', 'team.create', 'run.create', 'artifact.publish', 'artifact.remix', 'share.view', 'share.revoke', 'policy.update', 'auth.login'];
const TYPES = ['Member', 'Team', 'Run', 'Artifact', 'Share', 'Policy', 'Token', 'Skill'];

async function newOrg(db: DataSource, name: string): Promise<string> {
  const id = newId();
  await db.query('INSERT INTO orgs (id, name) VALUES ($1, $2)', [id, name]);
  return id;
}

function entry(orgId: string, i: number) {
  return {
    orgId,
    actor: { type: 'user' as const, id: newId(), name: `Member ${i % 100}` },
    action: 'team.create',
    resource: { type: 'Team', id: newId() },
    policy: { version: '1', ruleId: 'admins-manage-everything' },
    details: { name: `team ${i}` },
  };
}

async function writes(db: DataSource, pool: import('pg').Pool, audit: AuditService, chain: AuditChainService) {
  await db.query(`CREATE TABLE bench_changes (id uuid PRIMARY KEY, org_id uuid NOT NULL, name text NOT NULL)`);
  await db.query(`CREATE TABLE bench_plain_events (LIKE audit_events INCLUDING DEFAULTS)`);
  await db.query(`ALTER TABLE bench_plain_events ALTER COLUMN seq SET DEFAULT nextval('audit_events_seq'), ADD PRIMARY KEY (seq)`);
  await db.query(`CREATE TABLE bench_heads (org_id uuid PRIMARY KEY, seq bigint NOT NULL, hash bytea NOT NULL)`);
  await db.query(`CREATE TABLE bench_chained_events (LIKE audit_events INCLUDING DEFAULTS, prev_hash bytea, PRIMARY KEY (seq))`);
  const org = await newOrg(db, 'writes');
  await db.query(`INSERT INTO bench_heads VALUES ($1, 0, sha256(''))`, [org]);
  let n = 0;

  const plain = async () => {
    const i = n++;
    const e = entry(org, i);
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('INSERT INTO bench_changes VALUES ($1, $2, $3)', [e.resource.id, org, `team ${i}`]);
      await client.query(
        `INSERT INTO bench_plain_events (id, org_id, at, actor_type, actor_id, actor_name, action, resource_type, resource_id, outcome, policy_version, policy_rule_id, details, hash)
         VALUES ($1, $2, now(), 'user', $3, $4, $5, 'Team', $6, 'allowed', '1', 'admins-manage-everything', $7, sha256(''))`,
        [newId(), org, e.actor.id, e.actor.name, e.action, e.resource.id, e.details],
      );
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  };

  const audited = () => {
    const i = n++;
    const e = entry(org, i);
    return db.transaction(async (manager) => {
      await manager.query('INSERT INTO bench_changes VALUES ($1, $2, $3)', [e.resource.id, org, `team ${i}`]);
      await audit.record(manager, e);
    });
  };

  // The design measured and rejected: each event chained to the previous one
  // under the org's head row lock, which every writer holds through its commit.
  const chained = () => {
    const i = n++;
    const e = entry(org, i);
    return db.transaction(async (manager) => {
      await manager.query('INSERT INTO bench_changes VALUES ($1, $2, $3)', [e.resource.id, org, `team ${i}`]);
      const [head] = await queryRows<{ seq: string; hash: Buffer }>(manager, 'UPDATE bench_heads SET seq = seq + 1 WHERE org_id = $1 RETURNING seq, hash', [org]);
      const body = { id: newId(), orgId: org, at: new Date().toISOString(), actor: e.actor, action: e.action, resource: e.resource, outcome: 'allowed' as const, reason: null, policy: e.policy, context: { ip: null, userAgent: null, requestId: null }, details: { ...e.details, prevHash: head.hash.toString('hex') } };
      const hash = createHash('sha256').update(`${canonicalEventPrefix(body)}${head.seq}}`).digest();
      await manager.query(
        `INSERT INTO bench_chained_events (seq, id, org_id, at, actor_type, actor_id, actor_name, action, resource_type, resource_id, outcome, details, hash, prev_hash)
         VALUES ($1, $2, $3, $4, 'user', $5, $6, $7, 'Team', $8, 'allowed', $9, $10, $11)`,
        [head.seq, body.id, org, body.at, e.actor.id, e.actor.name, e.action, e.resource.id, body.details, hash, head.hash],
      );
      await manager.query('UPDATE bench_heads SET hash = $2 WHERE org_id = $1', [org, hash]);
    });
  };

  const appendAlone = await load(32, SECONDS, () => audit.recordNow(entry(org, n++)));
  const plainAlone = await load(32, SECONDS, () =>
    pool.query(
      `INSERT INTO bench_plain_events (id, org_id, at, actor_type, actor_id, actor_name, action, resource_type, resource_id, outcome, details, hash)
       VALUES ($1, $2, now(), 'user', $3, 'A', 'team.create', 'Team', $4, 'allowed', '{}', sha256(''))`,
      [newId(), org, newId(), newId()],
    ),
  );
  console.log(`\n0. one event appended on its own (a denial, a failed login), 32 concurrent writers, ${SECONDS} s each:`);
  console.log(`   raw pg plain INSERT: ${fmt(plainAlone.perSecond)}/s p99 ${plainAlone.p99.toFixed(2)} ms | AuditService.recordNow: ${fmt(appendAlone.perSecond)}/s p99 ${appendAlone.p99.toFixed(2)} ms`);
  console.log(`\n1. audited actions/s (a change + its event, one transaction, ${SECONDS} s per cell; latency = commit round trip)`);
  console.log('   concurrency | raw pg: change + plain event row | Vitrine: change + AuditService.record | rejected: per-org chain under lock');
  chain.onApplicationBootstrap(); // the background sealer runs, as in production
  for (const c of CONCURRENCY) {
    const a = await load(c, SECONDS, plain);
    const b = await load(c, SECONDS, audited);
    const d = await load(c, SECONDS, chained);
    const cell = (r: typeof a) => `${fmt(r.perSecond).padStart(6)}/s p50 ${r.p50.toFixed(2)} ms p99 ${r.p99.toFixed(2)} ms`;
    console.log(`   ${String(c).padStart(11)} | ${cell(a)} | ${cell(b)} | ${cell(d)}`);
  }
  await chain.onApplicationShutdown();
  const t0 = performance.now();
  await chain.seal(true);
  const [{ blocks, sealed }] = await db.query(`SELECT count(*)::int AS blocks, COALESCE(sum(count), 0)::int AS sealed FROM audit_blocks WHERE org_id = $1`, [org]);
  console.log(`   sealer kept up: ${fmt(sealed)} events in ${fmt(blocks)} blocks; the final seal took ${(performance.now() - t0).toFixed(0)} ms`);
}

/** Valid events in bulk (the real prefix and the real in-database hash), for verify. */
async function bulkValidEvents(db: DataSource, orgId: string, count: number) {
  const chunk = 5_000;
  for (let done = 0; done < count; done += chunk) {
    const n = Math.min(chunk, count - done);
    const ids: string[] = [];
    const ats: string[] = [];
    const details: string[] = [];
    const prefixes: string[] = [];
    const actors: string[] = [];
    for (let i = 0; i < n; i++) {
      const body = {
        id: newId(),
        orgId,
        at: new Date().toISOString(),
        actor: { type: 'user' as const, id: actors[i] = newId(), name: 'Bench' },
        action: 'team.create',
        resource: { type: 'Team', id: null },
        outcome: 'allowed' as const,
        reason: null,
        policy: null,
        context: { ip: null, userAgent: null, requestId: null },
        details: { i: done + i },
      };
      ids.push(body.id);
      ats.push(body.at);
      details.push(JSON.stringify(body.details));
      prefixes.push(canonicalEventPrefix(body));
    }
    await db.query(
      `INSERT INTO audit_events (seq, id, org_id, at, actor_type, actor_id, actor_name, action, resource_type, outcome, details, hash)
       SELECT u.seq, u.id, $1, u.at, 'user', u.actor, 'Bench', 'team.create', 'Team', 'allowed', u.details, sha256(convert_to(u.prefix || u.seq::text || '}', 'UTF8'))
         FROM (SELECT audit_next_seq() AS seq, * FROM unnest($2::uuid[], $3::timestamptz[], $4::text[], $5::jsonb[], $6::text[]) AS u(id, at, actor, details, prefix)) u`,
      [orgId, ids, ats, actors, details, prefixes],
    );
  }
}

async function verify(db: DataSource, chain: AuditChainService) {
  const org = await newOrg(db, 'verify');
  process.stdout.write(`\n2. verify: writing ${fmt(VERIFY_EVENTS)} valid events…`);
  await bulkValidEvents(db, org, VERIFY_EVENTS);
  let t0 = performance.now();
  await chain.seal(true);
  const sealMs = performance.now() - t0;
  // Verify reads a log written earlier: let the fresh rows get their visibility hints and statistics first.
  await db.query('VACUUM (ANALYZE) audit_events');
  console.log(` sealed in ${sealMs.toFixed(0)} ms (${fmt(VERIFY_EVENTS / (sealMs / 1000))} events/s)`);
  // The first verify also starts the worker threads and their connections; the API keeps them.
  const runs: { ms: number; result: Awaited<ReturnType<AuditChainService['verify']>> }[] = [];
  for (let i = 0; i < 4; i++) {
    t0 = performance.now();
    const result = await chain.verify(org);
    runs.push({ ms: performance.now() - t0, result });
  }
  const [first, ...again] = runs;
  const median = again.map((r) => r.ms).sort((a, b) => a - b)[1]!;
  const { result } = first!;
  console.log(`   verify: ok=${runs.every((r) => r.result.ok)}, ${fmt(result.checked)} events in ${result.blocks} block(s)`);
  console.log(`   first verify (starts the workers): ${first!.ms.toFixed(0)} ms → ${fmt(result.checked / (first!.ms / 1000))} events/s`);
  console.log(`   again (median of 3): ${median.toFixed(0)} ms → ${fmt(result.checked / (median / 1000))} events/s (runs: ${again.map((r) => r.ms.toFixed(0)).join(', ')} ms)`);
  await chain.onApplicationShutdown();
  const [{ rows }] = await db.query(`SELECT count(*)::int AS rows FROM audit_events WHERE org_id = $1`, [org]);
  t0 = performance.now();
  await db.query(`SELECT sum(length(details::text)) FROM audit_events WHERE org_id = $1`, [org]);
  const scanMs = performance.now() - t0;
  console.log(`   baseline: a bare SQL scan of the same ${fmt(rows)} rows takes ${scanMs.toFixed(0)} ms (${fmt(rows / (scanMs / 1000))} rows/s)`);
}

async function queries(db: DataSource, audit: AuditService) {
  const org = await newOrg(db, 'queries');
  const noise = await newOrg(db, 'noise');
  process.stdout.write(`\n3. query: generating ${fmt(ROWS)} events in the org (and ${fmt(ROWS / 10)} in another)…`);
  const t0 = performance.now();
  // Synthetic rows (hashes are placeholders): 1,000 actors, 10 actions, 8 types,
  // 100k resources, 95/4/1 % allowed/denied/error, spread over a year.
  const fill = async (orgId: string, count: number) => {
    const step = 250_000;
    for (let from = 1; from <= count; from += step) {
      await db.query(
        `INSERT INTO audit_events (seq, id, org_id, at, actor_type, actor_id, actor_name, action, resource_type, resource_id, outcome, details, hash)
         SELECT audit_next_seq(), gen_random_uuid(), $1, now() - interval '365 days' + (g * (interval '365 days' / $3::int)),
                'user', 'actor-' || (g % 1000), 'Actor', ($4::text[])[1 + g % 10], ($5::text[])[1 + (g / 7) % 8], 'res-' || (g % 100000),
                CASE WHEN g % 100 < 95 THEN 'allowed' WHEN g % 100 < 99 THEN 'denied' ELSE 'error' END, '{}', sha256(g::text::bytea)
           FROM generate_series($2::int, LEAST($2::int + ${step} - 1, $3::int)) g`,
        [orgId, from, count, ACTIONS, TYPES],
      );
      process.stdout.write('.');
    }
  };
  await fill(org, ROWS);
  await fill(noise, Math.floor(ROWS / 10));
  await db.query('ANALYZE audit_events');
  console.log(` ${((performance.now() - t0) / 1000).toFixed(0)} s`);

  const [{ size }] = await db.query(`SELECT pg_size_pretty(pg_total_relation_size('audit_events')) AS size`);
  console.log(`   table with its indexes: ${size}. Each filter: 200 first pages of 50, newest first, random values, through AuditService.list`);
  const [{ mid }] = await db.query(`SELECT at AS mid FROM audit_events WHERE org_id = $1 ORDER BY at LIMIT 1 OFFSET $2`, [org, Math.floor(ROWS / 2)]);
  const midCursor = Buffer.from(JSON.stringify({ at: new Date(mid).toISOString(), seq: Number.MAX_SAFE_INTEGER })).toString('base64url');
  const r = (n: number) => Math.floor(Math.random() * n);
  const day = (d: number) => new Date(Date.now() - d * 86_400_000).toISOString();
  const cases: [string, () => [Record<string, string>, string | undefined]][] = [
    ['(none: newest page)', () => [{}, undefined]],
    ['actorId', () => [{ actorId: `actor-${r(1000)}` }, undefined]],
    ['action', () => [{ action: ACTIONS[r(10)]! }, undefined]],
    ['resourceType', () => [{ resourceType: TYPES[r(8)]! }, undefined]],
    ['resourceId', () => [{ resourceId: `res-${r(100000)}` }, undefined]],
    ['resourceType+resourceId', () => [{ resourceType: TYPES[r(8)]!, resourceId: `res-${r(100000)}` }, undefined]],
    ['outcome=denied', () => [{ outcome: 'denied' }, undefined]],
    ['outcome=error', () => [{ outcome: 'error' }, undefined]],
    ['from/to (one day)', () => { const d = 1 + r(360); return [{ from: day(d + 1), to: day(d) }, undefined]; }],
    ['actorId + from/to (30 days)', () => { const d = 30 + r(330); return [{ actorId: `actor-${r(1000)}`, from: day(d + 30), to: day(d) }, undefined]; }],
    ['cursor mid-log (page 10,000)', () => [{}, midCursor]],
    ['action + cursor mid-log', () => [{ action: ACTIONS[r(10)]! }, midCursor]],
  ];
  console.log('   filter                          |   p50 ms |   p95 ms | rows/page');
  for (const [name, make] of cases) {
    const times: number[] = [];
    let rows = 0;
    for (let i = 0; i < 220; i++) {
      const [filters, cursor] = make();
      const t = performance.now();
      const page = await audit.list(org, filters, 50, cursor);
      if (i >= 20) times.push(performance.now() - t);
      rows += page.items.length;
    }
    times.sort((a, b) => a - b);
    console.log(`   ${name.padEnd(31)} | ${percentile(times, 50).toFixed(2).padStart(8)} | ${percentile(times, 95).toFixed(2).padStart(8)} | ${(rows / 220).toFixed(0).padStart(9)}`);
  }
  const times: number[] = [];
  for (let i = 0; i < 220; i++) {
    const t = performance.now();
    // The org's newest page as the service orders it, on the index it uses (ordering by seq alone would walk the whole log's primary key, other orgs' rows included).
    await db.query('SELECT * FROM audit_events WHERE org_id = $1 ORDER BY at DESC, seq DESC LIMIT 50', [org]);
    if (i >= 20) times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  console.log(`   baseline: raw SELECT of the org's newest 50 on its (org_id, at, seq) index: p50 ${percentile(times, 50).toFixed(2)} ms, p95 ${percentile(times, 95).toFixed(2)} ms`);
}

async function main() {
  console.log(`audit bench: Node ${process.version}, ${process.platform}/${process.arch}, ${(await import('node:os')).cpus().length} cores`);
  const bench = await benchDatabase();
  try {
    const [{ server_version: version }] = await bench.dataSource.query('SHOW server_version');
    console.log(`PostgreSQL ${version} (${process.env.DATABASE_URL ? 'DATABASE_URL' : 'embedded'}), pool 40`);
    const config = loadConfig({ DATABASE_URL: bench.url, VITRINE_AUDIT_SIGNING_KEY_FILE: path.join(tmpdir(), 'vitrine-bench-audit-key.pem'), VITRINE_AUDIT_SEAL_INTERVAL_MS: '1000' });
    const audit = new AuditService(bench.dataSource);
    const chain = new AuditChainService(bench.dataSource, config);
    const only = stringArg('only');
    if (!only || only === 'writes') await writes(bench.dataSource, bench.pool, audit, chain);
    if (!only || only === 'verify') await verify(bench.dataSource, chain);
    if (!only || only === 'queries') await queries(bench.dataSource, audit);
  } finally {
    await bench.close();
  }
}

await main();
