import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { EnvSchema } from '../src/config/config.schema.js';

// The README is what a newcomer reads: short, and true to the code it names.
const root = path.resolve(import.meta.dirname, '..');
const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
const scripts = Object.keys((JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts);

describe('README.md', () => {
  it('stays a newcomer\'s read: at most 320 lines, measurement notes kept in bench/README.md', () => {
    expect(readme.split('\n').length).toBeLessThanOrEqual(320);
    expect(existsSync(path.join(root, 'bench/README.md'))).toBe(true);
  });

  it('names only npm scripts that exist', () => {
    const named = [...readme.matchAll(/npm run ([a-z][\w:-]*)/g)].map((m) => m[1]!);
    const backticked = [...readme.matchAll(/`(bench:[a-z]+|migration:[a-z]+)`/g)].map((m) => m[1]!);
    expect([...named, ...backticked].filter((s) => !scripts.includes(s))).toEqual([]);
  });

  it('names only files and folders that exist', () => {
    const paths = [...readme.matchAll(/`((?:src|test|bench|policies|migrations)\/[\w./-]*)`/g)].map((m) => m[1]!);
    expect(paths.length).toBeGreaterThan(5);
    expect(paths.filter((p) => !existsSync(path.join(root, p)))).toEqual([]);
  });

  it('documents every environment variable the service reads, and no other', () => {
    const table = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('\n## ', readme.indexOf('## Configuration') + 5));
    const documented = new Set([...table.matchAll(/^\| (.+?) \|/gm)].flatMap((m) => [...m[1]!.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((v) => v[1]!)));
    expect([...documented].sort()).toEqual(Object.keys(EnvSchema.shape).sort());
  });
});
