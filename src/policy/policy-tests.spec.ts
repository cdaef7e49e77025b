import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { loadBundle } from './bundle.js';
import { loadCases, runPolicyTests } from './policy-tests.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const source = readFileSync(path.join(root, 'policies/default.yaml'), 'utf8');
const cases = loadCases(path.join(root, 'policies/tests'));

describe('the default bundle', () => {
  it('passes its policy tests, with an allow and a deny case for every rule', () => {
    const report = runPolicyTests(loadBundle(source).bundle, cases);
    expect(report.results.filter((r) => !r.ok)).toEqual([]);
    expect(report.uncovered).toEqual([]);
  });

  it('fails, naming the case, when a rule is changed to break it', () => {
    const broken = source.replace(/(id: restricted-never-leaves\n\s+effect: )deny/, '$1allow');
    expect(broken).not.toBe(source);
    const report = runPolicyTests(loadBundle(broken).bundle, cases);
    const failed = report.results.filter((r) => !r.ok).map((r) => r.name);
    expect(failed).toEqual(expect.arrayContaining([expect.stringContaining('restricted')]));
  });

  it('fails when a rule is dropped: its cases name a rule the bundle lacks', () => {
    const without = loadBundle(source).bundle;
    const report = runPolicyTests({ rules: without.rules.filter((r) => r.id !== 'links-expire-within-30-days') }, cases);
    expect(report.results.some((r) => !r.ok && r.detail.includes('links-expire-within-30-days'))).toBe(true);
  });
});

describe('npm run policy:test', () => {
  it('prints each case and a summary, and exits 1 naming the failing case', () => {
    const cli = path.join(root, 'dist/src/policy/policy-test-cli.js');
    const ok = spawnSync(process.execPath, [cli], { cwd: root, encoding: 'utf8' });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/✓ default\.yaml: /);
    expect(ok.stdout).toMatch(/^\d+ passed, 0 failed$/m);

    const brokenFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'vitrine-policy-')), 'broken.yaml');
    writeFileSync(brokenFile, source.replace(/(id: links-expire-within-30-days\n\s+effect: )deny/, '$1allow'));
    const failed = spawnSync(process.execPath, [cli, 'policies/tests', '--bundle', brokenFile], { cwd: root, encoding: 'utf8' });
    expect(failed.status).toBe(1);
    expect(failed.stdout).toMatch(/✗ default\.yaml: .*30 days/);
    expect(failed.stdout).toMatch(/^\d+ passed, [1-9]\d* failed$/m);
  });
});
