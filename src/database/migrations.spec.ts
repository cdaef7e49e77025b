import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { MIGRATIONS } from './migrations.js';

const root = path.resolve(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), '../..');

describe('migrations', () => {
  it('registers every file in migrations/, in timestamp order', () => {
    const files = readdirSync(path.join(root, 'migrations')).filter((f) => /^\d+-[a-z0-9-]+\.ts$/.test(f));
    const classNames = files.sort().map((f) => /export class (\w+)/.exec(readFileSync(path.join(root, 'migrations', f), 'utf8'))?.[1]);
    expect(MIGRATIONS.map((m) => m.name)).toEqual(classNames);
  });

  it('never lets TypeORM synchronize the schema', () => {
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(full);
        else if (full.endsWith('.ts') && /synchronize:\s*true/.test(readFileSync(full, 'utf8'))) offenders.push(full);
      }
    };
    for (const dir of ['src', 'test', 'migrations']) walk(path.join(root, dir));
    expect(offenders).toEqual([]);
  });
});
