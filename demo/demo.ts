/**
 * `npm run demo`: starts Vitrine in this process on its own embedded PostgreSQL, then
 * plays a simulated multi-agent run (demo/demo-run.ts) against it and prints where to
 * watch it, the login and the share link. Vitrine keeps serving until Ctrl-C; Enter
 * starts another run.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { setHeapGrowth } from '../src/common/heap-growth.js';
import { ConfigError, loadConfig } from '../src/config/config.schema.js';
import { EmbeddedPostgresError, startEmbeddedPostgres } from '../src/database/embedded-postgres.js';
import { DemoApiError, registerSkills, runDemo, signIn, type DemoApi, type DemoLinks } from './demo-run.js';
import { longestPathSeconds } from './scenario.js';

const USAGE = `usage: npm run demo -- [--pace <factor>] [--port <port>] [--data-dir <dir>]

  --pace <factor>   speed-up: 1 (default) takes about ${Math.round(longestPathSeconds()) + 5} s, 10 about ${Math.round((longestPathSeconds() + 5) / 10)} s
  --port <port>     port to serve on (default 3100, or a free one when 3100 is taken)
  --data-dir <dir>  the demo's own embedded PostgreSQL data (default ./.vitrine-demo)
`;

/**
 * The demo keeps its data apart from `npm start`'s ./.vitrine: a newcomer's own instance
 * (its admin, its one-time password) is never touched, `npm start` may run beside the demo,
 * and each demo start finds its previous runs. Its admin's password is kept in this file
 * (mode 0600, as the cluster's password is beside it) so that every start can print a
 * login that works.
 */
const DEFAULT_DATA_DIR = '.vitrine-demo';
const LOGIN_FILE = 'demo-login.json';
const DEFAULT_PORT = 3100;
const ROOT = path.resolve(import.meta.dirname, '../..');

/** Set once Ctrl-C (or an error) starts the shutdown, which ends the process itself. */
let closing = false;

function say(line = ''): void {
  process.stdout.write(line + '\n');
}

function fail(message: string): never {
  process.stderr.write(`demo: ${message}\n`);
  process.exit(1);
}

function parse(argv: string[]): { pace: number; port: number | undefined; dataDir: string } {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: { pace: { type: 'string' }, port: { type: 'string' }, 'data-dir': { type: 'string' }, help: { type: 'boolean', short: 'h' } } }));
  } catch (error) {
    fail(`${(error as Error).message}\n\n${USAGE}`);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const pace = values.pace === undefined ? 1 : Number(values.pace);
  if (!(pace > 0 && pace <= 1000)) fail(`--pace must be a number above 0, up to 1000; got "${values.pace}"`);
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) fail(`--port must be a port number (0 for any free one); got "${values.port}"`);
  return { pace, port, dataDir: path.resolve(values['data-dir'] ?? DEFAULT_DATA_DIR) };
}

/** The demo admin's login, made on the data directory's first use. */
async function demoLogin(dataDir: string): Promise<{ email: string; password: string }> {
  const file = path.join(dataDir, LOGIN_FILE);
  if (existsSync(file)) return JSON.parse(await fs.readFile(file, 'utf8')) as { email: string; password: string };
  const login = { email: 'admin@vitrine.local', password: randomBytes(12).toString('base64url') };
  await fs.mkdir(dataDir, { recursive: true });
  await fs.writeFile(file, JSON.stringify(login), { mode: 0o600 });
  return login;
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

function printLinks(links: DemoLinks, login: { email: string; password: string }): void {
  say();
  say(`  Watch the run:   ${links.runUrl}`);
  say(`  Sign in as:      ${login.email}`);
  say(`  Password:        ${login.password}`);
  say(`  Shared by link:  ${links.shareUrl}`);
  say();
}

/** Runs an interrupted demo left running (Ctrl-C stops its database with it) are cancelled, not left to stall. */
async function cancelLeftovers(api: DemoApi): Promise<void> {
  let cancelled = 0;
  for (const status of ['pending', 'running']) {
    const { body } = await api.call<{ items: { id: string }[] }>('GET', `/api/v1/runs?status=${status}&label=demo:true&limit=500`);
    for (const run of body.items) await api.call('POST', `/api/v1/runs/${run.id}/cancel`, undefined, [200, 409]);
    cancelled += body.items.length;
  }
  if (cancelled) say(`Cancelled ${cancelled} run(s) an interrupted demo left unfinished`);
}

async function main(): Promise<void> {
  const { pace, port: askedPort, dataDir } = parse(process.argv.slice(2));
  const login = await demoLogin(dataDir);
  let config;
  try {
    config = loadConfig({
      VITRINE_DATA_DIR: dataDir,
      VITRINE_ADMIN_EMAIL: login.email,
      VITRINE_ADMIN_PASSWORD: login.password,
      VITRINE_POLICIES_DIR: path.join(ROOT, 'policies'),
      PORT: String(askedPort ?? ((await portIsFree(DEFAULT_PORT)) ? DEFAULT_PORT : 0)),
      // Request lines would bury the demo's own; LOG_LEVEL=info brings them back.
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      VITRINE_POSTGRES_FALLBACK_DIR: process.env.VITRINE_POSTGRES_FALLBACK_DIR,
    });
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message);
    throw error;
  }
  setHeapGrowth(config.heapGrowthPercent);

  const shown = path.relative(process.cwd(), dataDir);
  say(`Starting the embedded PostgreSQL (data in ${shown && !shown.startsWith('..') ? shown : dataDir}) …`);
  // The service's modules load (a second or more) while PostgreSQL starts, not before the first line.
  const loading = import('../src/app.js');
  loading.catch(() => undefined); // awaited below, once PostgreSQL is up: its failure is reported there
  const embedded = await startEmbeddedPostgres({ dataDir, database: 'vitrine', log: (m) => say(`  ${m}`), fallbackDir: config.postgresFallbackDir });
  say('Starting Vitrine (migrating the database) …');
  const { createApp, configureApp } = await loading;
  const app = await createApp({ ...config, databaseUrl: embedded.url }).catch(async (error: unknown) => {
    await embedded.stop();
    throw error;
  });
  configureApp(app);

  const stopRun = new AbortController();
  let current: Promise<void> | undefined;
  const shutdown = async (why: string, code: number) => {
    if (closing) return;
    closing = true;
    say(`\n${why}: stopping …`);
    stopRun.abort(new Error(why));
    // The run is cancelled within seconds; an agent's send still retrying (the database stopping
    // with the same Ctrl-C) is not waited for.
    await Promise.race([current?.catch(() => undefined), sleep(5_000)]);
    try {
      await app.close();
    } finally {
      await embedded.stop();
      say('Vitrine demo stopped.');
      process.exit(code);
    }
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void shutdown(signal, 0));
  embedded.onUnexpectedExit((how, lastLog) => {
    if (closing) return;
    fail(`the embedded PostgreSQL ${how}${lastLog ? `. Its last log lines:\n${lastLog}` : ''}`);
  });

  await app.listen(config.port, config.host);
  const url = `http://${config.host}:${(app.getHttpServer().address() as AddressInfo).port}`;
  say(`Vitrine is running at ${url}`);

  let api: DemoApi;
  try {
    api = await signIn(url, login.email, login.password);
  } catch (error) {
    const why =
      error instanceof DemoApiError && error.status === 401
        ? `cannot sign in as ${login.email} with the password in ${path.join(dataDir, LOGIN_FILE)} (was it changed, or the directory used by something other than the demo?); delete ${dataDir} to start the demo afresh`
        : `cannot sign in: ${error instanceof Error ? error.message : String(error)}`;
    process.stderr.write(`demo: ${why}\n`);
    return shutdown('error', 1);
  }
  say(`Signed in as ${login.email}`);
  await cancelLeftovers(api);
  const { created } = await registerSkills(api);
  say(created ? `Registered the agents' tools and skills (${created})` : "The agents' tools and skills are registered from an earlier demo");

  const play = () => {
    current = runDemo({ api, pace, signal: stopRun.signal, say, onReady: (links) => printLinks(links, login) }).then(
      (result) => {
        const counts = Object.entries(result.counts)
          .map(([status, n]) => `${n} ${status}`)
          .join(', ');
        say(`Run ${result.status} in ${result.seconds.toFixed(1)} s (${counts}); the walkthrough has ${result.revisions} revisions.`);
        printLinks(result, login);
        say('Vitrine keeps running. Press Enter for another run, Ctrl-C to stop.');
        current = undefined;
      },
      (error: unknown) => {
        if (stopRun.signal.aborted) return;
        process.stderr.write(`demo: the run stopped: ${error instanceof Error ? error.message : String(error)}\n`);
        void shutdown('error', 1);
      },
    );
  };
  // terminal: false leaves Ctrl-C a signal (a raw-mode terminal would swallow it).
  createInterface({ input: process.stdin, terminal: false }).on('line', () => {
    if (closing) return;
    if (current) say('A run is still going: press Enter again once it has ended.');
    else play();
  });
  play();
}

main().catch((error: unknown) => {
  // Start-up steps cut off by Ctrl-C fail as the database goes: the shutdown under way says enough.
  if (closing) return;
  if (error instanceof EmbeddedPostgresError) fail(error.message);
  fail(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
});
