import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnService, startService, type Started } from '../helpers/service-process.js';

// `npm start` on a machine with no PostgreSQL server: the built service, on
// its embedded PostgreSQL, as a user runs it.
const start = (dataDir: string, options: { detached?: boolean } = {}) => startService({ VITRINE_DATA_DIR: dataDir, PORT: '0' }, options);

function stop(started: Started, signal: NodeJS.Signals = 'SIGINT'): Promise<number | null> {
  return new Promise((resolve) => {
    started.child.once('exit', (code) => resolve(code));
    started.child.kill(signal);
  });
}

/** PostgreSQL processes serving a data directory, from /proc. */
async function postgresOn(dataDir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes('postgres') && cmdline.includes(dataDir)) pids.push(Number(entry));
  }
  return pids;
}

let dataDir: string;
beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'vitrine-startup-'));
});
afterAll(async () => {
  for (const pid of await postgresOn(dataDir)) process.kill(pid, 'SIGKILL');
  await rm(dataDir, { recursive: true, force: true });
});

describe('npm start on the embedded PostgreSQL', () => {
  let password: string;
  let token: string;

  it('becomes ready, and prints the URL and a generated admin login once', async () => {
    const first = await start(dataDir);
    const banner = first.output();
    expect(banner).toMatch(/Vitrine is running at http:\/\/127\.0\.0\.1:\d+/);
    expect(banner).toMatch(/email:\s+admin@vitrine\.local/);
    password = /password:\s+(\S+)/.exec(banner)![1]!;
    const res = await fetch(`${first.url}/api/v1/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'admin@vitrine.local', password, name: 'startup-test' }),
    });
    expect(res.status).toBe(201);
    token = ((await res.json()) as { token: string }).token;

    expect(await stop(first)).toBe(0);
    expect(await postgresOn(dataDir)).toEqual([]);
  });

  it('reuses the data on the next start, without a new admin', async () => {
    const second = await start(dataDir);
    expect(second.output()).not.toMatch(/password:/);
    const me = await fetch(`${second.url}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(me.status).toBe(200);
    expect(await stop(second, 'SIGTERM')).toBe(0);
    expect(await postgresOn(dataDir)).toEqual([]);
  });

  it('recovers the data directory after the service was killed with SIGKILL', async () => {
    const third = await start(dataDir);
    await stop(third, 'SIGKILL');
    const fourth = await start(dataDir);
    expect((await fetch(`${fourth.url}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    expect(await stop(fourth)).toBe(0);
    expect(await postgresOn(dataDir)).toEqual([]);
  });

  it('exits, saying why, when its embedded PostgreSQL dies under it, and the next start serves the same data', async () => {
    const fifth = await start(dataDir);
    const exited = new Promise<number | null>((resolve) => fifth.child.once('exit', resolve));
    // The postmaster: the first line of its lock file.
    const postmaster = Number((await readFile(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8')).split('\n')[0]);
    process.kill(postmaster, 'SIGKILL');
    expect(await exited).toBe(1);
    expect(fifth.output()).toMatch(/the embedded PostgreSQL killed by SIGKILL; exiting so that Vitrine is started again/);

    const sixth = await start(dataDir);
    expect((await fetch(`${sixth.url}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    expect(await stop(sixth)).toBe(0);
    expect(await postgresOn(dataDir)).toEqual([]);
  });

  it('stops cleanly on Ctrl-C, which reaches its embedded PostgreSQL at the same time', async () => {
    // A terminal's Ctrl-C signals the whole foreground process group: PostgreSQL shuts down on
    // its own while the service drains, and that is no reason to exit as if it had died.
    const seventh = await start(dataDir, { detached: true });
    const exited = new Promise<number | null>((resolve) => seventh.child.once('exit', resolve));
    // A request still arriving keeps the service draining until PostgreSQL is long gone.
    const { hostname, port } = new URL(seventh.url);
    const slow = net.connect(Number(port), hostname);
    await new Promise((resolve) => slow.once('connect', resolve));
    slow.write('POST /api/v1/auth/token HTTP/1.1\r\nHost: vitrine\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{');
    await new Promise((resolve) => setTimeout(resolve, 100));
    process.kill(-seventh.child.pid!, 'SIGINT');
    while ((await postgresOn(dataDir)).length > 0) await new Promise((resolve) => setTimeout(resolve, 50));
    await new Promise((resolve) => setTimeout(resolve, 200));
    slow.destroy();
    expect(await exited).toBe(0);
    expect(seventh.output()).toMatch(/Vitrine stopped\./);
    expect(seventh.output()).not.toMatch(/exiting so that Vitrine is started again/);
    expect(await postgresOn(dataDir)).toEqual([]);
  });

  it('refuses to start on invalid configuration, naming the variable', async () => {
    const { child, output } = spawnService({ PORT: 'eighty', VITRINE_DATA_DIR: dataDir });
    const code = await new Promise((resolve) => child.once('exit', resolve));
    expect(code).toBe(1);
    expect(output()).toMatch(/PORT/);
  });
});
