/**
 * Password guessing benchmark: what wrong passwords cost everyone else. A
 * bystander's `GET /api/v1/me`, one at a time on a connection of its own, is
 * timed while guesses (half `POST /auth/login`, half `/auth/token`) arrive:
 * - in bursts: `--guesses` of them, `--concurrency` at a time (the issue's
 *   400 wrong passwords, 50 at a time), `--rounds` bursts one after another;
 * - steadily: `--rate` a second for `--seconds`, open loop, on `--concurrency`
 *   connections (the rate the service answered guesses at before the limits).
 *
 *   npm run bench:signin [-- --guesses 400] [--concurrency 50] [--rounds 5] [--rate 100] [--seconds 5]
 *
 * The built service runs in a process of its own, three times on one database:
 * as shipped (sign-in limits and bounded hashing), with the sign-in limits
 * lifted (every guess is hashed: only the hashing bound stands), and with the
 * limits lifted and hashing unbounded, as the service was before either. The
 * baseline is the same load of failing requests that carry no password
 * (`GET /me` with a wrong token), on the service as shipped, in the same run.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { newId } from '../src/common/ids.js';
import { benchDatabase, numberArg, paced, percentile } from './harness.js';
import { Client } from './http-load.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD } from './service.js';
import { startServiceProcess } from './service-process.js';

const GUESSES = numberArg('guesses', 400);
const CONCURRENCY = numberArg('concurrency', 50);
const ROUNDS = numberArg('rounds', 5);
const RATE = numberArg('rate', 100);
const SECONDS = numberArg('seconds', 5);
const PASSWORD = 'bench-password-123';

const LIMITS_LIFTED = { VITRINE_LOGIN_ACCOUNT_LIMIT: '1000000', VITRINE_LOGIN_ADDRESS_LIMIT: '1000000' };
const UNBOUNDED_HASHING = { VITRINE_PASSWORD_HASH_CONCURRENCY: '64', VITRINE_PASSWORD_HASH_QUEUE: '10000' };

interface Service {
  client: Client;
  port: number;
  child: ChildProcess;
  dataDir: string;
  /** A new member's email and bearer token. */
  member(role: 'viewer' | 'member'): Promise<{ email: string; token: string }>;
}

async function start(databaseUrl: string, settings: Record<string, string>): Promise<Service> {
  const { child, port, dataDir } = await startServiceProcess(databaseUrl, undefined, settings);
  const client = new Client(port, 1);
  const signIn = (email: string, password: string) => client.expect<{ token: string }>(201, 'POST', '/api/v1/auth/token', { email, password, name: 'bench' });
  const admin = (await signIn(ADMIN_EMAIL, ADMIN_PASSWORD)).token;
  return {
    client,
    port,
    child,
    dataDir,
    member: async (role) => {
      const email = `${role}-${newId()}@bench.local`;
      await client.expect(201, 'POST', '/api/v1/members', { email, name: role, password: PASSWORD, role }, admin);
      return { email, token: (await signIn(email, PASSWORD)).token };
    },
  };
}

async function stop(service: Service): Promise<void> {
  await service.client.close();
  if (service.child.exitCode === null && service.child.signalCode === null) {
    const exited = once(service.child, 'exit');
    service.child.kill('SIGTERM');
    await exited;
  }
  rmSync(service.dataDir, { recursive: true, force: true });
}

type Guess = (client: Client, i: number) => Promise<{ status: number }>;

interface Cell {
  /** Answers by status, e.g. "401×10 429×390". */
  answers: string;
  /** How long the load took to be answered. */
  took: string;
  bystander: number[];
}

/** The bystander's `GET /me`, one after another on a client of its own, while `load` runs. */
async function withBystander(service: Service, token: string, load: () => Promise<void>): Promise<number[]> {
  const probe = new Client(service.port, 1);
  const latencies: number[] = [];
  const loaded = new AbortController();
  const probing = (async () => {
    while (!loaded.signal.aborted) {
      const t0 = performance.now();
      const res = await probe.request('GET', '/api/v1/me', undefined, token);
      if (res.status !== 200) throw new Error(`the bystander's GET /me: ${res.status} ${res.text.slice(0, 200)}`);
      latencies.push(performance.now() - t0);
    }
  })();
  try {
    await load();
  } finally {
    loaded.abort();
    await probing;
    await probe.close();
  }
  return latencies;
}

const tally = (statuses: Map<number, number>) =>
  [...statuses]
    .sort(([a], [b]) => a - b)
    .map(([status, n]) => `${status}×${n}`)
    .join(' ');

/** ROUNDS bursts of GUESSES requests made by `request(i)`, CONCURRENCY in flight at a time; `took` is a burst's mean time. */
async function burst(service: Service, bystanderToken: string, request: Guess): Promise<Cell> {
  const load = new Client(service.port, CONCURRENCY);
  const statuses = new Map<number, number>();
  let seconds = 0;
  let next = 0;
  const bystander = await withBystander(service, bystanderToken, async () => {
    const started = performance.now();
    for (let round = 1; round <= ROUNDS; round++) {
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < GUESSES * round) {
            const { status } = await request(load, next++);
            statuses.set(status, (statuses.get(status) ?? 0) + 1);
          }
        }),
      );
    }
    seconds = (performance.now() - started) / 1000 / ROUNDS;
  });
  await load.close();
  return { answers: tally(statuses), took: `${seconds.toFixed(2)} s a burst`, bystander };
}

/** RATE requests a second made by `request(i)` for SECONDS, open loop; `took` is their latency from when each was due. */
async function steady(service: Service, bystanderToken: string, request: Guess): Promise<Cell> {
  const load = new Client(service.port, CONCURRENCY);
  const statuses = new Map<number, number>();
  let next = 0;
  let took = '';
  const bystander = await withBystander(service, bystanderToken, async () => {
    const result = await paced(CONCURRENCY, RATE, SECONDS, async () => {
      const { status } = await request(load, next++);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    });
    took = `p50 ${result.p50.toFixed(0)} p99 ${result.p99.toFixed(0)} ms`;
  });
  await load.close();
  return { answers: tally(statuses), took, bystander };
}

/** The bystander alone for SECONDS. */
const idle = (service: Service, token: string) => withBystander(service, token, () => new Promise((resolve) => setTimeout(resolve, SECONDS * 1000)));

function figures(latencies: number[]): string {
  const sorted = [...latencies].sort((a, b) => a - b);
  const ms = (n: number) => n.toFixed(1).padStart(7);
  return `bystander GET /me p50 ${ms(percentile(sorted, 50))} p99 ${ms(percentile(sorted, 99))} max ${ms(sorted[sorted.length - 1]!)} ms (${sorted.length} requests)`;
}

const guess =
  (email: string): Guess =>
  (client, i) =>
  i % 2
    ? client.request('POST', '/api/v1/auth/token', { email, password: `wrong-${i}`, name: 'guess' })
    : client.request('POST', '/api/v1/auth/login', { email, password: `wrong-${i}` });

const WRONG_TOKEN: Guess = (client) => client.request('GET', '/api/v1/me', undefined, 'vtr_pat_not-a-real-token');

async function main(): Promise<void> {
  const bench = await benchDatabase(10);
  const services: Service[] = [];
  const baselines: Partial<Record<'burst' | 'steady', number[]>> = {};
  const row = (section: 'burst' | 'steady', label: string, cell: Cell) => {
    const p = (latencies: number[], at: number) => percentile([...latencies].sort((a, b) => a - b), at);
    baselines[section] ??= cell.bystander;
    const base = baselines[section];
    const ratios = `p50 ${(p(cell.bystander, 50) / p(base, 50)).toFixed(1)}×, p99 ${(p(cell.bystander, 99) / p(base, 99)).toFixed(1)}× the baseline's`;
    console.log(`   ${(section === 'burst' ? `${ROUNDS}×${GUESSES}, ${CONCURRENCY} at once` : `${RATE}/s for ${SECONDS} s`).padEnd(20)} ${label.padEnd(44)} ${cell.answers.padEnd(24)} ${cell.took.padEnd(18)} | ${figures(cell.bystander)}: ${ratios}`);
  };
  const run = async (settings: Record<string, string>, cells: (service: Service) => Promise<void>) => {
    const service = await start(bench.url, settings);
    services.push(service);
    await cells(service);
    await stop(services.pop()!);
  };
  try {
    const [{ server_version: version }] = await bench.dataSource.query('SHOW server_version');
    console.log(`PostgreSQL ${version} (${process.env.DATABASE_URL ? 'DATABASE_URL' : 'embedded'}), node ${process.version}, ${availableParallelism()} cores`);
    console.log("a bystander's GET /api/v1/me, one at a time, while wrong passwords for one account arrive (unless said), and the baseline: as many wrong tokens");
    console.log('a steady load\'s latency runs from when each request was due');
    let bystander = '';
    let victim = '';
    const idleLabel = 'idle: the bystander alone';
    await run({}, async (shipped) => {
      bystander = (await shipped.member('viewer')).token;
      victim = (await shipped.member('member')).email;
      console.log(`   ${idleLabel.padEnd(108)} | ${figures(await idle(shipped, bystander))}`);
      row('burst', 'baseline: GET /me with a wrong token', await burst(shipped, bystander, WRONG_TOKEN));
      row('burst', 'as shipped', await burst(shipped, bystander, guess(victim)));
      row('steady', 'baseline: GET /me with a wrong token', await steady(shipped, bystander, WRONG_TOKEN));
      row('steady', 'as shipped', await steady(shipped, bystander, guess((await shipped.member('member')).email)));
      // Every request comes from 127.0.0.1, so this fills the address count: it comes last on this service.
      row('burst', 'as shipped, a new email each guess', await burst(shipped, bystander, (client, i) => guess(`nobody-${i}-${newId()}@bench.local`)(client, i)));
    });
    await run(LIMITS_LIFTED, async (lifted) => {
      row('burst', 'limits lifted, hashing bounded', await burst(lifted, bystander, guess(victim)));
      row('steady', 'limits lifted, hashing bounded', await steady(lifted, bystander, guess(victim)));
    });
    await run({ ...LIMITS_LIFTED, ...UNBOUNDED_HASHING }, async (unbounded) => {
      row('burst', 'limits lifted, hashing unbounded (as before)', await burst(unbounded, bystander, guess(victim)));
      row('steady', 'limits lifted, hashing unbounded (as before)', await steady(unbounded, bystander, guess(victim)));
    });
  } finally {
    for (const service of services) await stop(service).catch(() => undefined);
    await bench.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
