import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Pool } from 'undici';
import { adminToken, createMember, expectProblem, type TestMember } from '../helpers/factories.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, createTestApp, type TestApp } from '../helpers/test-app.js';

type Route = 'login' | 'token';

/** A sign-in by password on either route: both count against the same limits. */
function signIn(t: TestApp, email: string, password: string, route: Route = 'login') {
  return route === 'login'
    ? t.http().post('/api/v1/auth/login').send({ email, password })
    : t.http().post('/api/v1/auth/token').send({ email, password, name: 'signed in' });
}

/** The same, from another loopback address than supertest's 127.0.0.1, so the service sees another client address. */
function signInFrom(t: TestApp, localAddress: string, email: string, password: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const { port } = new URL(t.url);
  const payload = JSON.stringify({ email, password });
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, localAddress, method: 'POST', path: '/api/v1/auth/login', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const unknownEmail = () => `nobody-${randomBytes(4).toString('hex')}@test.local`;

/** What the checks below read of an answer, from supertest or from a keep-alive client. */
interface Answer {
  status: number;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

function expectTooMany(res: Answer, windowSeconds: number): number {
  expectProblem(res, 429, 'too_many_requests');
  expect(res.headers['retry-after']).toMatch(/^\d+$/);
  const retryAfter = Number(res.headers['retry-after']);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(windowSeconds);
  return retryAfter;
}

/**
 * Keep-alive connections, as browsers and scripts hold them, for the load and
 * the latency probe: supertest opens a connection per request, and under a
 * burst in this same process its set-up, not the service, is what a probe
 * measured (seconds, where a kept connection saw tens of milliseconds).
 */
function keepAlive(t: TestApp, connections: number) {
  const pool = new Pool(t.url, { connections });
  return {
    async request(method: 'GET' | 'POST', path: string, body?: unknown, token?: string): Promise<Answer> {
      const res = await pool.request({
        method,
        path,
        body: body === undefined ? undefined : JSON.stringify(body),
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      });
      return { status: res.statusCode, headers: res.headers as Record<string, string>, body: (await res.body.json()) as Record<string, unknown> };
    },
    close: () => pool.close(),
  };
}

async function timeMe(client: ReturnType<typeof keepAlive>, token: string): Promise<number> {
  const started = performance.now();
  const res = await client.request('GET', '/api/v1/me', undefined, token);
  expect(res.status).toBe(200);
  return performance.now() - started;
}

function figures(ms: number[]): string {
  const sorted = [...ms].sort((a, b) => a - b);
  return `median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(1)} ms, max ${sorted[sorted.length - 1]!.toFixed(1)} ms over ${sorted.length} requests`;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The org's lockout events, as an admin reads them through the API. */
async function lockouts(t: TestApp, admin: string) {
  const res = await t.http(admin).get('/api/v1/audit').query({ action: 'auth.lockout' });
  expect(res.status).toBe(200);
  return res.body.items as { actor: { type: string }; resource: { type: string; id: string }; outcome: string; reason: string; details: Record<string, unknown> }[];
}

describe('failed sign-ins per account', () => {
  const LIMIT = 10;
  const WINDOW_SECONDS = 10;
  let t: TestApp;
  let admin: string;

  beforeAll(async () => {
    t = await createTestApp({
      VITRINE_LOGIN_ACCOUNT_LIMIT: String(LIMIT),
      VITRINE_LOGIN_ACCOUNT_WINDOW_SECONDS: String(WINDOW_SECONDS),
      VITRINE_LOGIN_ADDRESS_LIMIT: '10000',
    });
    admin = await adminToken(t);
  });
  afterAll(() => t.close());

  it('answers 429 with Retry-After long before the hundredth of 400 guesses, serves other users meanwhile, and lets the owner in once the window has passed', async () => {
    const victim = await createMember(t, admin, 'member');
    const bystander = await createMember(t, admin, 'viewer');
    const probeClient = keepAlive(t, 1);
    const guesser = keepAlive(t, 50);
    for (let i = 0; i < 20; i++) await timeMe(probeClient, bystander.token);
    const before: number[] = [];
    for (let i = 0; i < 200; i++) before.push(await timeMe(probeClient, bystander.token));

    const during: number[] = [];
    const guessed = new AbortController();
    const probe = (async () => {
      while (!guessed.signal.aborted) during.push(await timeMe(probeClient, bystander.token));
    })();
    const started = performance.now();
    const answers: Answer[] = [];
    for (let batch = 0; batch < 8; batch++) {
      answers.push(
        ...(await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            i % 2
              ? guesser.request('POST', '/api/v1/auth/token', { email: victim.email, password: `wrong-${batch}-${i}`, name: 'guess' })
              : guesser.request('POST', '/api/v1/auth/login', { email: victim.email, password: `wrong-${batch}-${i}` }),
          ),
        )),
      );
    }
    const guessingMs = performance.now() - started;
    guessed.abort();
    await probe;
    await Promise.all([probeClient.close(), guesser.close()]);
    const count = (status: number, of = answers) => of.filter((res) => res.status === status).length;
    console.log(
      `400 wrong passwords for one account, 50 at a time, half by /auth/login and half by /auth/token: ${count(401)} × 401, ${count(429)} × 429 in ${(guessingMs / 1000).toFixed(2)} s\n` +
        `another user's GET /api/v1/me before: ${figures(before)}\n` +
        `another user's GET /api/v1/me during: ${figures(during)}`,
    );

    expect(count(401)).toBeLessThanOrEqual(LIMIT);
    expect(count(401) + count(429)).toBe(400);
    expect(count(429, answers.slice(0, 100))).toBeGreaterThanOrEqual(100 - LIMIT);
    for (const res of answers) {
      if (res.status === 401) expectProblem(res, 401, 'invalid_credentials');
      else expectTooMany(res, WINDOW_SECONDS);
    }

    // The right password is refused while the account is blocked: answering it would tell a guesser which guess was right.
    for (const route of ['login', 'token'] as const) expectTooMany(await signIn(t, victim.email, victim.password, route), WINDOW_SECONDS);
    const retryAfter = expectTooMany(await signIn(t, victim.email, victim.password), WINDOW_SECONDS);
    await sleep(retryAfter * 1000 + 250);
    expect((await signIn(t, victim.email, victim.password)).status).toBe(200);
    expect((await signIn(t, victim.email, victim.password, 'token')).status).toBe(201);

    const events = (await lockouts(t, admin)).filter((e) => e.resource.id === victim.id);
    expect(events).toEqual([
      expect.objectContaining({
        actor: expect.objectContaining({ type: 'public' }),
        outcome: 'denied',
        resource: { type: 'Member', id: victim.id },
        details: expect.objectContaining({ key: 'account', limit: LIMIT, windowSeconds: WINDOW_SECONDS, retryAfterSeconds: expect.any(Number) }),
      }),
    ]);
  });

  it('starts the count afresh after a successful sign-in', async () => {
    const member = await createMember(t, admin, 'member');
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < LIMIT - 1; i++) expectProblem(await signIn(t, member.email, 'wrong-password', i % 2 ? 'token' : 'login'), 401, 'invalid_credentials');
      expect((await signIn(t, member.email, member.password)).status).toBe(200);
    }
    for (let i = 0; i < LIMIT; i++) expectProblem(await signIn(t, member.email, 'wrong-password'), 401, 'invalid_credentials');
    expectTooMany(await signIn(t, member.email, member.password), WINDOW_SECONDS);
    expect((await lockouts(t, admin)).filter((e) => e.resource.id === member.id)).toHaveLength(1);
  });

  it('limits an unknown email the same way, with the same answers, and writes no org\'s log', async () => {
    const email = unknownEmail();
    const before = await lockouts(t, admin);
    for (let i = 0; i < LIMIT; i++) expectProblem(await signIn(t, email, 'wrong-password', i % 2 ? 'token' : 'login'), 401, 'invalid_credentials');
    expectTooMany(await signIn(t, email, 'wrong-password'), WINDOW_SECONDS);
    expectTooMany(await signIn(t, email, 'wrong-password', 'token'), WINDOW_SECONDS);
    expect(await lockouts(t, admin)).toEqual(before);
  });

  it('describes 429 on both sign-in routes in the OpenAPI document', async () => {
    const { paths } = (await t.http().get('/api/openapi.json')).body;
    for (const path of ['/api/v1/auth/login', '/api/v1/auth/token']) {
      const response = paths[path].post.responses['429'];
      expect(response?.description).toMatch(/too_many_requests/);
      expect(response?.headers?.['Retry-After']).toBeDefined();
    }
  });
});

describe('failed sign-ins per client address', () => {
  const ADDRESS_LIMIT = 5;
  let t: TestApp;
  let admin: string;
  let target: TestMember;
  let bystander: TestMember;

  beforeAll(async () => {
    t = await createTestApp({ VITRINE_LOGIN_ACCOUNT_LIMIT: '3', VITRINE_LOGIN_ADDRESS_LIMIT: String(ADDRESS_LIMIT), VITRINE_LOGIN_ADDRESS_WINDOW_SECONDS: '60' });
    admin = await adminToken(t);
    target = await createMember(t, admin, 'member');
    bystander = await createMember(t, admin, 'member');
  });
  afterAll(() => t.close());

  it('blocks an address that tries many emails, not the owners signing in from elsewhere', async () => {
    const emails = [...Array.from({ length: ADDRESS_LIMIT - 1 }, unknownEmail), target.email];
    for (const [i, email] of emails.entries()) expectProblem(await signIn(t, email, 'wrong-password', i % 2 ? 'token' : 'login'), 401, 'invalid_credentials');
    expectTooMany(await signIn(t, unknownEmail(), 'wrong-password'), 60);
    expectTooMany(await signIn(t, unknownEmail(), 'wrong-password', 'token'), 60);
    // From the blocked address even a right password is refused; from another address the same member gets in.
    expectTooMany(await signIn(t, bystander.email, bystander.password), 60);
    expect((await signInFrom(t, '127.0.0.2', bystander.email, bystander.password)).status).toBe(200);
    expect((await signInFrom(t, '127.0.0.2', ADMIN_EMAIL, ADMIN_PASSWORD)).status).toBe(200);

    const events = await lockouts(t, admin);
    expect(events).toEqual([
      expect.objectContaining({
        outcome: 'denied',
        resource: { type: 'Member', id: target.id },
        details: expect.objectContaining({ key: 'address', address: expect.stringContaining('127.0.0.1'), limit: ADDRESS_LIMIT, windowSeconds: 60 }),
      }),
    ]);
  });
});

describe('failed sign-ins across instances', () => {
  const LIMIT = 4;
  const env = { VITRINE_LOGIN_ACCOUNT_LIMIT: String(LIMIT), VITRINE_LOGIN_ADDRESS_LIMIT: '10000' };
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    a = await createTestApp(env);
    b = await createTestApp({ ...env, DATABASE_URL: a.config.databaseUrl! });
  });
  afterAll(async () => {
    await b.close();
    await a.close();
  });

  it('shares one count between two instances on the same database', async () => {
    const admin = await adminToken(a);
    const member = await createMember(a, admin, 'member');
    for (let i = 0; i < LIMIT; i++) expectProblem(await signIn(i % 2 ? b : a, member.email, 'wrong-password', i % 2 ? 'token' : 'login'), 401, 'invalid_credentials');
    expectTooMany(await signIn(a, member.email, member.password), 900);
    expectTooMany(await signIn(b, member.email, member.password), 900);
    expect((await lockouts(b, admin)).filter((e) => e.resource.id === member.id)).toHaveLength(1);
  });
});

describe('bounded password hashing', () => {
  const CONCURRENCY = 1;
  const QUEUE = 2;
  let t: TestApp;
  let admin: string;

  beforeAll(async () => {
    t = await createTestApp({ VITRINE_PASSWORD_HASH_CONCURRENCY: String(CONCURRENCY), VITRINE_PASSWORD_HASH_QUEUE: String(QUEUE), VITRINE_LOGIN_ADDRESS_LIMIT: '10000' });
    admin = await adminToken(t);
  });
  afterAll(() => t.close());

  it('answers sign-ins past the queue 503 at once instead of queueing them', async () => {
    const started = performance.now();
    const answers = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const res = await signIn(t, unknownEmail(), 'wrong-password', i % 2 ? 'token' : 'login');
        return { res, at: performance.now() - started };
      }),
    );
    const rejected = answers.filter((a) => a.res.status === 503);
    const checked = answers.filter((a) => a.res.status === 401);
    console.log(`40 concurrent sign-ins, ${CONCURRENCY} hash at a time and ${QUEUE} waiting: ${checked.length} × 401 (last at ${Math.max(...checked.map((a) => a.at)).toFixed(0)} ms), ${rejected.length} × 503 (last at ${Math.max(...rejected.map((a) => a.at)).toFixed(0)} ms)`);
    expect(rejected.length).toBeGreaterThan(0);
    expect(rejected.length + checked.length).toBe(40);
    for (const { res } of rejected) {
      expectProblem(res, 503, 'unavailable');
      expect(res.headers['retry-after']).toMatch(/^\d+$/);
    }
    // Turned away while the checks that were let in still ran, not after waiting their turn.
    expect(Math.max(...rejected.map((a) => a.at))).toBeLessThan(Math.max(...checked.map((a) => a.at)));
  });

  it('answers member creation past the queue 503 too, and creates nothing for it', async () => {
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        t.http(admin).post('/api/v1/members').send({ email: `burst-${i}@test.local`, name: `Burst ${i}`, password: 'a-long-password', role: 'viewer' }),
      ),
    );
    const created = answers.filter((res) => res.status === 201);
    const rejected = answers.filter((res) => res.status === 503);
    expect(rejected.length).toBeGreaterThan(0);
    expect(created.length + rejected.length).toBe(20);
    for (const res of rejected) expectProblem(res, 503, 'unavailable');
    const [{ count }] = await t.db.query(`SELECT count(*)::int AS count FROM members WHERE email LIKE 'burst-%'`);
    expect(count).toBe(created.length);
  });
});
