import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ADMIN_EMAIL, ADMIN_PASSWORD } from './service.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TICKS_PER_SECOND = 100;

/** A process's CPU (ms) so far, from /proc. */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND) * 1000;
}

/** A process's resident memory (MB) now, from /proc. */
export function processRssMb(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) / 1024;
}

/**
 * The built service in a process of its own (dist/src/main.js, as a user runs
 * it), on the bench database, with the bench's admin, ready. `nodeArgs` go to
 * node before the script (e.g. --cpu-prof); `settings` are more VITRINE_*
 * variables; `dataDir` is the service's VITRINE_DATA_DIR, a fresh temporary
 * directory the caller removes.
 */
export async function startServiceProcess(
  databaseUrl: string,
  nodeArgs: (dataDir: string) => string[] = () => [],
  settings: Record<string, string> = {},
): Promise<{ child: ChildProcess; url: string; port: number; dataDir: string }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'vitrine-bench-service-'));
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('VITRINE_') || ['DATABASE_URL', 'PORT', 'HOST', 'NODE_OPTIONS'].includes(key)) delete env[key];
  const child = spawn(process.execPath, [...nodeArgs(dataDir), path.join(root, 'dist/src/main.js')], {
    cwd: root,
    env: { ...env, DATABASE_URL: databaseUrl, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', VITRINE_DATA_DIR: dataDir, VITRINE_ADMIN_EMAIL: ADMIN_EMAIL, VITRINE_ADMIN_PASSWORD: ADMIN_PASSWORD, VITRINE_LIVE_ADAPTER: process.env.VITRINE_LIVE_ADAPTER ?? 'none', ...settings },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Kept short: the service's warnings go here for the whole run.
  let output = '';
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const url = /Vitrine is running at (http:\/\/\S+)/.exec(output)?.[1];
    if (url && (await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200) return { child, url, port: Number(new URL(url).port), dataDir };
    if (child.exitCode !== null) throw new Error(`the service exited early:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`the service was not ready within 60 s:\n${output}`);
}
