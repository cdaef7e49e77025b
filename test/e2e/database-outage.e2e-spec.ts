import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Request } from 'express';
import pg from 'pg';
import { QueryFailedError } from 'typeorm';
import { toProblem } from '../../src/common/problem.filter.js';
import { createDataSource } from '../../src/database/data-source.js';
import { freePort } from '../../src/database/embedded-postgres.js';
import { isDatabaseUnavailable } from '../../src/database/unavailable.js';
import { Reporter } from '../../src/reporter/reporter.js';
import { adminToken, createRun, createSkill, expectProblem } from '../helpers/factories.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

// The database going away under a running service: a TCP proxy between a
// second instance and PostgreSQL is cut (every connection reset, new ones
// refused) and restored on the same port, as a database restart or a network
// fault looks to the service.

let t: TestApp;
let proxy: TcpProxy;
let second: TestApp;
let admin: string;

beforeAll(async () => {
  t = await createTestApp();
  const url = new URL(t.config.databaseUrl!);
  proxy = new TcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
  await proxy.start();
  url.hostname = '127.0.0.1';
  url.port = String(proxy.port);
  second = await createTestApp({ DATABASE_URL: url.toString() });
  admin = await adminToken(t);
});

afterAll(async () => {
  await proxy?.restore();
  await second?.close();
  await proxy?.cut();
  await t?.close();
});

async function replay(runId: string) {
  const res = await t.http(admin).get(`/api/v1/runs/${runId}/events`).query({ after: 0, limit: 1000 });
  expect(res.status).toBe(200);
  return res.body.items as { seq: number; id: string; percent?: number }[];
}

describe('while the database does not answer', () => {
  it('answers 503 unavailable with Retry-After, changes nothing, and serves again once it is back, without a restart', async () => {
    const skill = await createSkill(t, admin);
    const run = await createRun(t, admin, skill.name, { a: [] });
    const post = (events: Record<string, unknown>[]) => second.http(run.reporterToken).post(`/api/v1/runs/${run.id}/events`).send({ events });
    expect((await post([{ id: randomUUID(), node: 'a', type: 'started' }])).body.lastSeq).toBe(1);

    await proxy.cut();
    const id = randomUUID();
    try {
      const refused = await post([{ id, node: 'a', type: 'progress', percent: 50 }]);
      expectProblem(refused, 503, 'unavailable');
      expect(refused.headers['retry-after']).toBe('1');
      // Reads too, and the readiness probe says why.
      expectProblem(await second.http(admin).get(`/api/v1/runs/${run.id}`), 503, 'unavailable');
      expectProblem(await second.http(admin).get('/api/v1/runs'), 503, 'unavailable');
      expectProblem(await second.http().get('/readyz'), 503, 'not_ready');
      expect((await replay(run.id)).map((e) => e.seq)).toEqual([1]);
    } finally {
      await proxy.restore();
    }
    // The reporter's retry, with the same id, is applied once.
    expect((await post([{ id, node: 'a', type: 'progress', percent: 50 }])).body).toEqual({ accepted: 1, duplicates: 0, lastSeq: 2 });
    expect((await post([{ id, node: 'a', type: 'progress', percent: 50 }])).body).toEqual({ accepted: 0, duplicates: 1, lastSeq: 2 });
    expect((await second.http(admin).get(`/api/v1/runs/${run.id}`)).status).toBe(200);
    expect((await second.http().get('/readyz')).status).toBe(200);
  });

  it('lets a Reporter ride out the outage: its events arrive once, in order, when the database is back', async () => {
    const skill = await createSkill(t, admin);
    const run = await createRun(t, admin, skill.name, { a: [] });
    const reporter = new Reporter({ url: second.url, token: run.reporterToken, runId: run.id, flushIntervalMs: 20 });
    reporter.started('a');
    await reporter.flush();

    await proxy.cut();
    for (let percent = 1; percent <= 30; percent++) reporter.progress('a', percent);
    const flushed = reporter.flush();
    // Long enough for several refused attempts (the first retries back off from 100 ms).
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const during = await replay(run.id).finally(() => proxy.restore());
    const totals = await flushed;
    await reporter.close();

    expect(during.map((e) => e.seq)).toEqual([1]);
    expect(totals).toEqual({ accepted: 31, duplicates: 0, lastSeq: 31 });
    const events = await replay(run.id);
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 31 }, (_, i) => i + 1));
    expect(events.slice(1).map((e) => e.percent)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
  });
});

describe('an instance that stops answering in the middle of a transaction', () => {
  it('holds its runs only until PostgreSQL ends its idle session: other instances then ingest on', async () => {
    const skill = await createSkill(t, admin);
    const run = await createRun(t, admin, skill.name, { a: [] });
    // Vitrine's own data source, as an instance opens it, with the idle-in-transaction limit at 3 s
    // (long enough for the ingest below to reach the lock first, even on a loaded machine).
    const frozen = createDataSource(t.config.databaseUrl!, { poolSize: 1, applicationName: 'vitrine-frozen', idleInTransactionTimeoutMs: 3_000 });
    await frozen.initialize();
    try {
      const runner = frozen.createQueryRunner();
      await runner.startTransaction();
      await runner.query('SELECT id FROM runs WHERE id = $1 FOR UPDATE', [run.id]);
      // ... and then this instance sends nothing more, as if its host had vanished.
      const answer = t.http(run.reporterToken).post(`/api/v1/runs/${run.id}/events`).send({ events: [{ node: 'a', type: 'started' }] }).then((res) => res);
      // The ingest really waits on the frozen instance's lock.
      let waiting = 0;
      for (let i = 0; i < 150 && waiting === 0; i++) {
        const [row] = await t.db.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock' AND application_name = 'vitrine'
              AND (query LIKE '%FROM runs WHERE id = ANY%FOR UPDATE%' OR query LIKE '%vitrine_ingest_write%')`,
        );
        waiting = row.n;
        if (waiting === 0) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(waiting).toBe(1);
      const res = await answer;
      expect(res.status).toBe(200);
      expect(res.body.lastSeq).toBe(1);
      // PostgreSQL ended the frozen session (its transaction rolled back), and its pool saw it go.
      const [gone] = await t.db.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'vitrine-frozen'`);
      expect(gone.n).toBe(0);
      expect(runner.isReleased).toBe(true);
    } finally {
      await frozen.destroy();
    }
  });
});

describe('telling an outage from a fault', () => {
  const request = { id: 'r1' } as unknown as Request;

  it('takes a connection the server ended mid-query, a refused connection, no connection slot left and a pool that cannot connect as unavailable', async () => {
    // The server ends a backend (as on shutdown or restart): SQLSTATE 57P01, wrapped by TypeORM.
    const marker = `outage_${randomUUID().replaceAll('-', '')}`;
    // A data source of its own: the ended connection must not go back to the pool the rest of the test uses.
    const doomed = createDataSource(t.config.databaseUrl!, { poolSize: 1, applicationName: 'vitrine-doomed' });
    await doomed.initialize();
    const sleeping = doomed.query(`SELECT pg_sleep(30) AS ${marker}`).catch((error: unknown) => error);
    let terminated = 0;
    while (terminated === 0) {
      const [row] = await t.db.query(`SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE query LIKE $1 AND pid <> pg_backend_pid()`, [`%AS ${marker}`]);
      terminated = row.n;
    }
    const ended = await sleeping;
    await doomed.destroy();
    expect(ended).toBeInstanceOf(QueryFailedError);
    expect(((ended as QueryFailedError).driverError as { code?: string }).code).toBe('57P01');
    expect(isDatabaseUnavailable(ended)).toBe(true);
    expect(toProblem(ended, request).document).toMatchObject({ status: 503, code: 'unavailable' });

    // Nothing listens: a refused connection, from node-postgres's own client.
    const refused = await new pg.Client({ host: '127.0.0.1', port: await freePort() }).connect().catch((error: unknown) => error);
    expect((refused as { code?: string }).code).toBe('ECONNREFUSED');
    expect(isDatabaseUnavailable(refused)).toBe(true);

    // No connection left for the role (SQLSTATE 53300, class 53: insufficient resources, as a full disk is).
    const role = `outage_${randomUUID().slice(0, 8)}`;
    await t.db.query(`CREATE ROLE ${role} LOGIN PASSWORD 'outage-pw' CONNECTION LIMIT 0`);
    try {
      const url = new URL(t.config.databaseUrl!);
      const full = await new pg.Client({ host: url.hostname, port: Number(url.port), database: url.pathname.slice(1), user: role, password: 'outage-pw' })
        .connect()
        .catch((error: unknown) => error);
      expect((full as { code?: string }).code).toBe('53300');
      expect(toProblem(full, request).document).toMatchObject({ status: 503, code: 'unavailable' });
    } finally {
      await t.db.query(`DROP ROLE ${role}`);
    }

    // A peer that accepts and never answers: the pool gives up after its connection timeout.
    const accepted: net.Socket[] = [];
    const silent = net.createServer((socket) => accepted.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const pool = new pg.Pool({ host: '127.0.0.1', port: (silent.address() as net.AddressInfo).port, connectionTimeoutMillis: 100 });
    const timedOut = await pool.query('SELECT 1').catch((error: unknown) => error);
    for (const socket of accepted) socket.destroy();
    await pool.end();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
    expect((timedOut as Error).message).toBe('Connection terminated due to connection timeout');
    expect(isDatabaseUnavailable(timedOut)).toBe(true);
    expect(toProblem(timedOut, request).document.status).toBe(503);

    // Every connection of the pool busy past its timeout: node-postgres's other uncoded error.
    const busy = new pg.Pool({ connectionString: t.config.databaseUrl!, max: 1, connectionTimeoutMillis: 100 });
    const held = await busy.connect();
    const queued = await busy.query('SELECT 1').catch((error: unknown) => error);
    held.release();
    await busy.end();
    expect((queued as Error).message).toBe('timeout exceeded when trying to connect');
    expect(isDatabaseUnavailable(queued)).toBe(true);
  });

  it('keeps errors of the query itself as they were: a conflict stays 409, a failing statement 500', async () => {
    const division = await t.db.query('SELECT 1 / 0').catch((error: unknown) => error);
    expect(isDatabaseUnavailable(division)).toBe(false);
    expect(toProblem(division, request)).toMatchObject({ unexpected: true, document: { status: 500, code: 'internal_error' } });

    const duplicate = await t.db.query(`INSERT INTO orgs (id, name) SELECT gen_random_uuid(), name FROM orgs LIMIT 1`).catch((error: unknown) => error);
    expect(((duplicate as QueryFailedError).driverError as { code?: string }).code).toBe('23505');
    expect(toProblem(duplicate, request).document).toMatchObject({ status: 409, code: 'conflict' });

    expect(isDatabaseUnavailable(new Error('Connection terminated'))).toBe(false);
  });

  it('documents 503 on every API route', async () => {
    const doc = (await t.http().get('/api/openapi.json')).body as { paths: Record<string, Record<string, { responses: Record<string, { description: string }> }>> };
    const operations = Object.entries(doc.paths)
      .filter(([path]) => path.startsWith('/api/') || path.startsWith('/s/'))
      .flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ route: `${method} ${path}`, op })));
    expect(operations.length).toBeGreaterThan(50);
    expect(operations.filter(({ op }) => !op.responses['503']?.description.includes('`unavailable`')).map((o) => o.route)).toEqual([]);
    expect(doc.paths['/readyz']!.get!.responses['503']!.description).toContain('`not_ready`');
  });
});
