import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { ConfigError, loadConfig } from './config.schema.js';

function problemsOf(env: Record<string, string>): { variable: string; message: string }[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected the configuration to be rejected');
}

describe('configuration', () => {
  it('defaults to the embedded database on 127.0.0.1:3000', () => {
    const config = loadConfig({});
    expect(config).toEqual(
      expect.objectContaining({ databaseUrl: undefined, port: 3000, host: '127.0.0.1', dataDir: path.resolve('.vitrine'), logLevel: 'info' }),
    );
  });

  it('accepts PORT=0 (a free port) and a trailing slash on the public URL', () => {
    const config = loadConfig({ PORT: '0', VITRINE_PUBLIC_URL: 'https://vitrine.example.com/' });
    expect(config.port).toBe(0);
    expect(config.publicUrl).toBe('https://vitrine.example.com');
  });

  it.each([
    [{ PORT: 'abc' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ DATABASE_URL: 'mysql://localhost/x' }, 'DATABASE_URL'],
    [{ DATABASE_URL: 'not a url' }, 'DATABASE_URL'],
    [{ VITRINE_PUBLIC_URL: 'ftp://x' }, 'VITRINE_PUBLIC_URL'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ VITRINE_ADMIN_EMAIL: 'not-an-email', VITRINE_ADMIN_PASSWORD: 'long-enough' }, 'VITRINE_ADMIN_EMAIL'],
    [{ VITRINE_ADMIN_EMAIL: 'a@b.test', VITRINE_ADMIN_PASSWORD: 'short' }, 'VITRINE_ADMIN_PASSWORD'],
    [{ VITRINE_ADMIN_EMAIL: 'a@b.test' }, 'VITRINE_ADMIN_PASSWORD'],
    [{ VITRINE_ADMIN_PASSWORD: 'long-enough' }, 'VITRINE_ADMIN_EMAIL'],
    [{ VITRINE_HEAP_GROWTH_PERCENT: '-1' }, 'VITRINE_HEAP_GROWTH_PERCENT'],
    [{ VITRINE_HEAP_GROWTH_PERCENT: '1.5' }, 'VITRINE_HEAP_GROWTH_PERCENT'],
    [{ VITRINE_HEAP_GROWTH_PERCENT: '1001' }, 'VITRINE_HEAP_GROWTH_PERCENT'],
    [{ VITRINE_HEAP_GROWTH_PERCENT: 'lots' }, 'VITRINE_HEAP_GROWTH_PERCENT'],
  ])('rejects %j, naming %s', (env, variable) => {
    const problems = problemsOf(env);
    expect(problems.map((p) => p.variable)).toEqual([variable]);
  });

  it("lets the heap grow to five times its live size by default, and 0 leaves it to V8", () => {
    expect(loadConfig({}).heapGrowthPercent).toBe(400);
    expect(loadConfig({ VITRINE_HEAP_GROWTH_PERCENT: '0' }).heapGrowthPercent).toBe(0);
    expect(loadConfig({ VITRINE_HEAP_GROWTH_PERCENT: '' }).heapGrowthPercent).toBe(400);
  });

  it('names every bad variable at once', () => {
    expect(problemsOf({ PORT: '-1', LOG_LEVEL: 'x' }).map((p) => p.variable).sort()).toEqual(['LOG_LEVEL', 'PORT']);
  });
});
