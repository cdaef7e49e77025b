import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MAIN, serviceEnv, spawnService, startService, type Started } from '../helpers/service-process.js';

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
    // The page a newcomer is sent to is served by the same start.
    expect(banner).toContain(`The page:             ${first.url}/ `);
    const page = await fetch(`${first.url}/`);
    expect([page.status, page.headers.get('content-type')]).toEqual([200, expect.stringMatching(/^text\/html/)]);
    expect(await page.text()).toMatch(/<script type="module"[^>]* src="\/assets\/[^"]+\.js"/);

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

describe('start-up output', () => {
  let outputDir: string;
  beforeAll(async () => {
    outputDir = await mkdtemp(path.join(os.tmpdir(), 'vitrine-startup-output-'));
  });
  afterAll(async () => {
    for (const pid of await postgresOn(outputDir)) process.kill(pid, 'SIGKILL');
    await rm(outputDir, { recursive: true, force: true });
  });

  /** What the service printed by the time it was ready, and a moment after. */
  async function startupOutput(logLevel: string): Promise<string[]> {
    const started = await startService({ VITRINE_DATA_DIR: outputDir, PORT: '0', LOG_LEVEL: logLevel });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const lines = started.output().split('\n');
    expect(await stop(started)).toBe(0);
    return lines.slice(0, lines.findIndex((line) => line.includes('shutting down')));
  }
  const isJson = (line: string) => line.startsWith('{');
  // Request lines come from the test's own requests once the service is ready.
  const isStartupLog = (line: string) => isJson(line) && !('req' in (JSON.parse(line) as object));
  const bannerStart = (lines: string[]) => lines.findIndex((line) => /Vitrine is running at/.test(line));

  it('prints JSON log lines when stdout is not a terminal, route mapping left out at info, and the banner with the admin login last', async () => {
    const lines = await startupOutput('info');
    const banner = bannerStart(lines);
    const logs = lines.slice(0, banner).filter(isJson).map((line) => JSON.parse(line) as { level: number; context?: string; msg: string });
    expect(logs.map((l) => l.msg)).toContain('Nest application successfully started');
    expect(logs.filter((l) => l.context === 'RouterExplorer' || l.context === 'RoutesResolver')).toEqual([]);
    // Nothing after the banner: not one log line, and its last line is the password.
    expect(lines.slice(banner).filter(isStartupLog)).toEqual([]);
    expect(lines.filter((line) => line.trim() && !isJson(line)).at(-1)).toMatch(/^\s+password:\s+\S+$/);
  });

  it('logs route mapping at debug, still before the banner', async () => {
    const lines = await startupOutput('debug');
    const banner = bannerStart(lines);
    const mapping = lines.filter(isJson).map((line) => JSON.parse(line) as { level: number; context?: string; msg: string }).filter((l) => l.context === 'RouterExplorer');
    expect(mapping.map((l) => l.msg)).toContain('Mapped {/readyz, GET} route');
    expect(new Set(mapping.map((l) => l.level))).toEqual(new Set([20]));
    expect(lines.slice(banner).filter(isStartupLog)).toEqual([]);
  });

  const hasScript = spawnSync('script', ['--version']).status === 0;
  if (!hasScript) console.warn('startup.e2e-spec: the terminal test is skipped: no `script` (util-linux) to give the service a terminal');
  (hasScript ? describe : describe.skip)('on a terminal', () => {
    it('prints human-readable log lines, and the banner last', async () => {
      // script(1) runs the service on a pseudo-terminal of its own, as a person's `npm start` is.
      const child = spawn('script', ['-qfec', `${process.execPath} ${MAIN}`, '/dev/null'], {
        env: serviceEnv({ VITRINE_DATA_DIR: outputDir, PORT: '0', LOG_LEVEL: 'info' }),
        stdio: ['pipe', 'pipe', 'pipe'],
        detached: true,
      });
      let output = '';
      child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
      const exited = new Promise((resolve) => child.once('exit', resolve));
      const deadline = Date.now() + 45_000;
      let url: string | undefined;
      while (!url && Date.now() < deadline) {
        url = /Vitrine is running at (http:\/\/\S+)/.exec(output)?.[1];
        if (!url) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(url).toBeDefined();
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const atStart = output;
      // A terminal's Ctrl-C.
      child.stdin!.write('\x03');
      await exited;
      expect(await postgresOn(outputDir)).toEqual([]);

      const lines = stripVTControlCharacters(atStart).split(/\r?\n/);
      expect(lines.filter(isJson)).toEqual([]);
      expect(lines).toContainEqual(expect.stringMatching(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: \[NestApplication\] Nest application successfully started$/));
      expect(lines.filter((line) => / INFO: /.test(line)).join('\n')).not.toMatch(/RouterExplorer|RoutesResolver/);
      const banner = bannerStart(lines);
      expect(lines.slice(banner).filter((line) => / (DEBUG|INFO|WARN|ERROR): /.test(line) && !/ INFO: GET \/readyz 200 \(\d+ ms\)$/.test(line))).toEqual([]);
      expect(lines.slice(0, banner).filter((line) => / INFO: /.test(line)).length).toBeGreaterThan(0);
    });
  });
});
