import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

// The built service (`npm test` builds first) as its own process, as a user
// runs it: for start-up, shutdown and crash tests.
export const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
export const MAIN = path.join(ROOT, 'dist/src/main.js');

export interface Started {
  child: ChildProcess;
  output: () => string;
  url: string;
}

/** The parent's environment without its Vitrine settings (or Jest's NODE_OPTIONS), plus `extra`. */
export function serviceEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('VITRINE_') || ['DATABASE_URL', 'PORT', 'HOST', 'NODE_OPTIONS'].includes(key)) delete env[key];
  return { ...env, LOG_LEVEL: 'warn', ...extra };
}

export interface SpawnOptions {
  /** In a process group of its own, as a terminal's foreground job is (a signal to the group reaches its embedded PostgreSQL too). */
  detached?: boolean;
  /** Another checkout to run the service from (its dist/src/main.js, with it as working directory). */
  checkout?: string;
  /** Run as this user instead (the test runs as root). */
  user?: { uid: number; gid: number };
}

export function spawnService(extra: Record<string, string>, options: SpawnOptions = {}): { child: ChildProcess; output: () => string } {
  const root = options.checkout ?? ROOT;
  const child = spawn(process.execPath, [path.join(root, 'dist/src/main.js')], { cwd: root, env: serviceEnv(extra), stdio: ['ignore', 'pipe', 'pipe'], detached: options.detached, ...options.user });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  return { child, output: () => output };
}

/** Spawns the service and waits until the URL its banner names (PORT=0: a new port each start) answers /readyz. */
export async function startService(extra: Record<string, string>, options: SpawnOptions = {}): Promise<Started> {
  const { child, output } = spawnService(extra, options);
  // A first start as root out of the postgres user's reach also copies PostgreSQL's binaries.
  const deadline = Date.now() + 45_000;
  while (Date.now() < deadline) {
    const url = /Vitrine is running at (http:\/\/\S+)/.exec(output())?.[1];
    if (url) {
      const ready = await fetch(`${url}/readyz`).catch(() => undefined);
      if (ready?.status === 200) return { child, output, url };
    }
    if (child.exitCode !== null) throw new Error(`vitrine exited early:\n${output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`not ready within 45 s:\n${output()}`);
}

/** SIGKILL: no shutdown hook runs, nothing is flushed. */
export function killService(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}
