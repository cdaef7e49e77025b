import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Validator } from '@seriousme/openapi-schema-validator';
import { adminToken } from '../helpers/factories.js';
import { ROOT } from '../helpers/service-process.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

describe('operations endpoints', () => {
  it('answers /healthz and /readyz without an account', async () => {
    expect((await t.http().get('/healthz')).body).toEqual({ status: 'ok' });
    expect((await t.http().get('/readyz')).body).toEqual({ status: 'ready', database: 'up', migrations: 'applied' });
  });

  it('reports not ready when a migration is pending', async () => {
    const [last] = await t.db.query('SELECT * FROM migrations ORDER BY id DESC LIMIT 1');
    await t.db.query('DELETE FROM migrations WHERE id = $1', [last.id]);
    try {
      const res = await t.http().get('/readyz');
      expect(res.status).toBe(503);
      expect(res.body.code).toBe('not_ready');
    } finally {
      await t.db.query('INSERT INTO migrations (id, timestamp, name) VALUES ($1, $2, $3)', [last.id, last.timestamp, last.name]);
    }
    expect((await t.http().get('/readyz')).status).toBe(200);
  });

  it('exposes Prometheus metrics with request durations by route template and status', async () => {
    const admin = await adminToken(t);
    await t.http(admin).get('/api/v1/members/01900000-0000-7000-8000-000000000000');
    const res = await t.http().get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.text).toMatch(/http_request_duration_seconds_count\{method="GET",route="\/api\/v1\/members\/:id",status="404"\} 1/);
    expect(res.text).toMatch(/process_cpu_seconds_total/);
    expect(res.text).not.toContain('01900000-0000-7000-8000-000000000000');
  });
});

describe('OpenAPI', () => {
  it('serves a document that validates as OpenAPI 3.1', async () => {
    const res = await t.http().get('/api/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body.openapi).toMatch(/^3\.1\./);
    const validator = new Validator();
    const result = await validator.validate(res.body);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('describes every route with its request schema and its problem responses', async () => {
    const doc = (await t.http().get('/api/openapi.json')).body;
    const expected = [
      ['post', '/api/v1/auth/login'],
      ['post', '/api/v1/auth/logout'],
      ['post', '/api/v1/auth/token'],
      ['get', '/api/v1/me'],
      ['get', '/api/v1/tokens'],
      ['post', '/api/v1/tokens'],
      ['delete', '/api/v1/tokens/{id}'],
      ['post', '/api/v1/orgs'],
      ['get', '/api/v1/members'],
      ['post', '/api/v1/members'],
      ['get', '/api/v1/members/{id}'],
      ['patch', '/api/v1/members/{id}'],
      ['delete', '/api/v1/members/{id}'],
      ['get', '/api/v1/teams'],
      ['post', '/api/v1/teams'],
      ['get', '/api/v1/teams/{id}'],
      ['patch', '/api/v1/teams/{id}'],
      ['delete', '/api/v1/teams/{id}'],
      ['get', '/healthz'],
      ['get', '/readyz'],
      ['get', '/metrics'],
    ];
    for (const [method, route] of expected) expect(doc.paths[route]?.[method!]).toBeDefined();
    const createMember = doc.paths['/api/v1/members'].post;
    expect(createMember.requestBody.content['application/json'].schema.$ref).toBe('#/components/schemas/CreateMemberRequest');
    expect(doc.components.schemas.CreateMemberRequest.required).toEqual(expect.arrayContaining(['email', 'name', 'password', 'role']));
    expect(createMember.responses['400'].content['application/problem+json'].schema.$ref).toBe('#/components/schemas/Problem');
    expect(createMember.responses['201'].content['application/json'].schema.$ref).toBe('#/components/schemas/Member');
    expect(doc.components.schemas.Problem.required).toEqual(expect.arrayContaining(['type', 'title', 'status', 'detail', 'code']));
  });

  it("passes Redocly's recommended lint (redocly.yaml), warnings included, so a generated client can rely on it", async () => {
    const doc = (await t.http().get('/api/openapi.json')).body;
    const dir = mkdtempSync(path.join(tmpdir(), 'vitrine-openapi-'));
    try {
      const file = path.join(dir, 'openapi.json');
      writeFileSync(file, JSON.stringify(doc));
      const cli = path.join(ROOT, 'node_modules/@redocly/cli/bin/cli.js');
      const args = [cli, 'lint', file, '--extends=recommended', `--config=${path.join(ROOT, 'redocly.yaml')}`, '--format=json'];
      // Off line: no usage report, no check for a newer version.
      const env = { ...process.env, NODE_OPTIONS: '', REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' };
      // It exits 1 when it finds an error; the report on stdout says what either way.
      const stdout = await promisify(execFile)(process.execPath, args, { env, maxBuffer: 16 * 1024 * 1024 }).then(
        (r) => r.stdout,
        (e: { stdout?: string; stderr?: string }) => e.stdout || String(e.stderr),
      );
      const report = JSON.parse(stdout) as { totals: { errors: number; warnings: number }; problems: { ruleId: string; message: string; location: { pointer: string }[] }[] };
      expect(report.problems.map((p) => `${p.ruleId} at ${p.location.map((l) => l.pointer).join(', ')}: ${p.message}`)).toEqual([]);
      expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gives `security: []` to exactly the operations that answer without an account', async () => {
    const doc = (await t.http().get('/api/openapi.json')).body as { paths: Record<string, Record<string, { security?: unknown[] }>> };
    const open: string[] = [];
    for (const [template, operations] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const url = template.replace(/\{[^}]+\}/g, randomUUID());
        const res = await t.http()[method as 'get' | 'post' | 'put' | 'patch' | 'delete'](url).send({});
        if (res.status !== 401) open.push(`${method} ${template}`);
        const documented = Array.isArray(operation.security) && operation.security.length === 0;
        expect({ operation: `${method} ${template}`, status: res.status, public: documented }).toEqual({ operation: `${method} ${template}`, status: res.status, public: res.status !== 401 });
      }
    }
    expect(open).toEqual(expect.arrayContaining(['post /api/v1/auth/login', 'get /s/{token}', 'get /healthz']));
    expect(JSON.stringify(doc)).not.toContain('x-vitrine-public');
  });

  it('serves the docs page from this origin only', async () => {
    const res = await t.http().get('/docs');
    expect(res.status).toBe(200);
    expect(res.text).toContain('swagger-ui');
    expect(res.text).not.toMatch(/src="https?:\/\//);
  });
});
