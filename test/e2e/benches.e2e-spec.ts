import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { TEST_ADMIN_URL_ENV } from '../setup/global-setup.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Runs a built bench script on the tests' PostgreSQL server (it makes a database of its own there), briefly. */
function runBench(script: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(root, 'dist/bench', script), ...args], {
      env: { ...process.env, DATABASE_URL: process.env[TEST_ADMIN_URL_ENV]!, NODE_OPTIONS: '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

// The benchmarks are how speed is measured; a change that breaks one should fail here, not in the next session that runs it.
// These run them for a second or so a cell and check that they finish and report what they measure, not the figures.
describe('benchmarks, run briefly', () => {
  // Both print the host's writeback settings, which decide the disk's bursts in their cells.
  const kernelWriteback = /^kernel writeback: starts once the dirty page cache passes .+, and writes out any file whose dirty pages are older than [\d.]+ s/m;

  it('bench:ingest measures the steady-rate cells against given peaks and gives its verdict, with no failed request', async () => {
    const { code, stdout, stderr } = await runBench('ingest.js', ['--seconds', '0.3', '--peaks', '400,40', '--steady-seconds', '1', '--steady-reporters', '4']);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toMatch(/^PostgreSQL \d+/m);
    expect(stdout).toMatch(kernelWriteback);
    // Four steady-rate cells, each with its raw pg and bare Express baselines, and what the disks did in the service's and raw pg's.
    const disk = 'disk peak \\d+ MB/s, dirty up to \\d+ MB';
    const cell = new RegExp(`^ {3}batch +(1|100), +\\d+ requests/s \\((25|50)% of peak\\): .*, ${disk} \\| raw pg [\\d.]+ [\\d.]+ ms.*, ${disk} \\| bare Express [\\d.]+ [\\d.]+ ms`, 'gm');
    expect(stdout.match(cell)).toHaveLength(4);
    expect(stdout).toMatch(/commit p99 <= 10 ms at half the peak rate: batch 1 [\d.]+ ms \(raw pg [\d.]+ ms\), batch 100 [\d.]+ ms \(raw pg [\d.]+ ms\) → (MET|NOT MET)/);
    expect(stdout).not.toMatch(/ERR×|failed, first:/);
  }, 120_000);

  it('bench:profile measures busy time per request beside bare Express, and what the thread allocates', async () => {
    const { code, stdout, stderr } = await runBench('profile-ingest.js', ['--rate', '200', '--seconds', '1', '--rounds', '1', '--alloc']);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toMatch(/round 1: service \d+ database sessions? opened, p50 [\d.]+ p99 [\d.]+ ms, thread busy [\d.]+%, \d+ µs a request, disk peak \d+ MB\/s, dirty up to \d+ MB \| bare Express \d+ database sessions? opened, p50 [\d.]+ p99 [\d.]+ ms, thread busy [\d.]+%, \d+ µs a request, disk peak \d+ MB\/s, dirty up to \d+ MB/);
    expect(stdout).toMatch(kernelWriteback);
    expect(stdout).toMatch(/allocated on the service's thread: [\d.]+ KB a request \(sampled\)/);
    expect(stdout).toMatch(/inclusive, a request:\n +[\d.]+ KB {2}\(root\)/);
    expect(stdout).not.toMatch(/ERR×/);
  }, 120_000);

  it('bench:live times POST → run.event at real socket.io-client viewers beside the raw pipeline, every event received once and in order', async () => {
    const { code, stdout, stderr } = await runBench('live.js', ['--seconds', '1', '--viewers', '20', '--rates', '50', '--processes', '2']);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toMatch(/^PostgreSQL \d+/m);
    // One cell, each side on its own line with what it measured, then the two set side by side.
    const side = (name: string) =>
      new RegExp(`^ {3}${name} +p50 +[\\d.]+ p99 +[\\d.]+ ms, +[\\d,]+ deliveries/s \\([\\d,]+ of [\\d,]+\\), server cpu +\\d+% rss +\\d+ MB, viewers cpu +\\d+%, machine +\\d+%, sent [\\d,]+ events/s( \\(rate NOT held\\))?, sent late p99 [\\d.]+ ms`, 'm');
    expect(stdout).toMatch(/^ +20 viewers, +50 events\/s:$/m);
    expect(stdout).toMatch(side('Vitrine'));
    expect(stdout).toMatch(side('raw'));
    expect(stdout).toMatch(/^ {3}Vitrine\/raw: p99 [\d.]+×, deliveries\/s \d+%$/m);
    // The goals' cells are not in so short a run: each goal says so, or gives its verdict.
    expect(stdout).toMatch(/p99 within 1\.5× of raw at 100 viewers\/500 events\/s: not measured in this run/);
    expect(stdout).toMatch(/deliveries\/s at least 80% of raw Socket\.IO in every cell: lowest \d+% .* → (MET|NOT MET)/);
    expect(stdout).toMatch(/every viewer received every event once and in order \(Vitrine\): yes/);
    expect(stdout).not.toMatch(/ERR×|failed, first:|not received/);
  }, 120_000);

  it('bench:page times the run page\'s first view, and its frames, clicks and lag under load, beside the static, React Flow and stream baselines', async () => {
    const { code, stdout, stderr } = await runBench('page.js', ['--nodes', '200', '--rate', '50', '--seconds', '1', '--repeat', '1']);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toMatch(/^PostgreSQL \d+/m);
    expect(stdout).toMatch(/^Chromium \d+/m);
    // The run page drew its graph and then the worker's layout, once each.
    expect(stdout).toMatch(/first view, cold: run graph painted p50 [\d.]+ ms max [\d.]+ ms \(1 of 1\); full layout p50 [\d.]+ ms max [\d.]+ ms \(1 of 1\)/);
    expect(stdout).toMatch(/baseline first view: static 200 divs p50 [\d.]+ ms max [\d.]+ ms; bare React Flow p50 [\d.]+ ms/);
    expect(stdout).toMatch(/^ {3}run page: sent [\d,]+ events\/s/m);
    expect(stdout).toMatch(/^ {3}idle page \(static divs, not subscribed\): sent [\d,]+ events\/s/m);
    expect(stdout).toMatch(/^ {3}bare React Flow \(not subscribed\): sent [\d,]+ events\/s/m);
    expect(stdout).toMatch(/frames: \d+\/s, rAF interval p50 [\d.]+ ms p99 [\d.]+ ms max [\d.]+ ms; long tasks \d+/);
    expect(stdout).toMatch(/POST → box shows it: p50 [\d.]+ ms p99 [\d.]+ ms max [\d.]+ ms over \d+ events.*; POST → run\.event at a socket\.io-client: p50 [\d.]+ ms/);
    expect(stdout).toMatch(/^\| first view, cold, p50 +\| [\d.]+ ms +\| [\d.]+ ms \(static divs\) +\| [\d.]+× +\|$/m);
    expect(stdout).toMatch(/200 nodes at 50 events\/s, responsive: every click opens the panel within 200 ms: \d+ answered.* → (MET|NOT MET)/);
    expect(stdout).not.toMatch(/POSTs failed|page errors|showed no/);
  }, 120_000);

  it('bench:lists pages a viewer through artifacts half of which it may not see, every page full', async () => {
    const { code, stdout, stderr } = await runBench('lists.js', ['--rows', '300', '--limit', '20', '--repeat', '5']);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toMatch(/^artifacts: 300 in the org, 150 hidden from the viewer; limit=20$/m);
    expect(stdout).toMatch(/^first page: p50 [\d.]+ ms, p95 [\d.]+ ms over 5 requests; 20 items$/m);
    expect(stdout).toMatch(/^whole list: 8 pages \(0 short with a next cursor\), 150 items, \d+ ms$/m);
  }, 120_000);

  it('bench:signin times a bystander while wrong passwords arrive, on the service as shipped, with the limits lifted and unbounded, beside wrong tokens', async () => {
    const { code, stdout, stderr } = await runBench('sign-in.js', ['--guesses', '20', '--concurrency', '5', '--rounds', '1', '--rate', '20', '--seconds', '0.5']);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toMatch(/^PostgreSQL \d+/m);
    const bystander = 'bystander GET /me p50 +[\\d.]+ p99 +[\\d.]+ max +[\\d.]+ ms \\(\\d+ requests\\)';
    expect(stdout).toMatch(new RegExp(`^ {3}idle: the bystander alone +\\| ${bystander}$`, 'm'));
    const row = (load: string, label: string, answers: string) => new RegExp(`^ {3}${load} +${label} +${answers} +\\S.* \\| ${bystander}: p50 [\\d.]+×, p99 [\\d.]+× the baseline's$`, 'm');
    const [burst, steady] = ['1×20, 5 at once', '20/s for 0.5 s'];
    expect(stdout).toMatch(row(burst, 'baseline: GET /me with a wrong token', '401×20'));
    // Ten failures per account by default: the rest are refused before any hashing.
    expect(stdout).toMatch(row(burst, 'as shipped', '401×10 429×10'));
    expect(stdout).toMatch(row(steady, 'as shipped', '401×10'));
    expect(stdout).toMatch(row(burst, 'limits lifted, hashing unbounded \\(as before\\)', '401×20'));
    expect(stdout.match(/^ {3}(1×20|20\/s)/gm)).toHaveLength(9);
  }, 120_000);
});
