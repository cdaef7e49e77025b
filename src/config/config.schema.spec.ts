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
    [{ VITRINE_LOGIN_ACCOUNT_LIMIT: '0' }, 'VITRINE_LOGIN_ACCOUNT_LIMIT'],
    [{ VITRINE_LOGIN_ACCOUNT_WINDOW_SECONDS: '1.5' }, 'VITRINE_LOGIN_ACCOUNT_WINDOW_SECONDS'],
    [{ VITRINE_LOGIN_ADDRESS_LIMIT: 'many' }, 'VITRINE_LOGIN_ADDRESS_LIMIT'],
    [{ VITRINE_LOGIN_ADDRESS_WINDOW_SECONDS: '86401' }, 'VITRINE_LOGIN_ADDRESS_WINDOW_SECONDS'],
    [{ VITRINE_PASSWORD_HASH_CONCURRENCY: '0' }, 'VITRINE_PASSWORD_HASH_CONCURRENCY'],
    [{ VITRINE_PASSWORD_HASH_QUEUE: '-1' }, 'VITRINE_PASSWORD_HASH_QUEUE'],
  ])('rejects %j, naming %s', (env, variable) => {
    const problems = problemsOf(env);
    expect(problems.map((p) => p.variable)).toEqual([variable]);
  });

  it("lets the heap grow to five times its live size by default, and 0 leaves it to V8", () => {
    expect(loadConfig({}).heapGrowthPercent).toBe(400);
    expect(loadConfig({ VITRINE_HEAP_GROWTH_PERCENT: '0' }).heapGrowthPercent).toBe(0);
    expect(loadConfig({ VITRINE_HEAP_GROWTH_PERCENT: '' }).heapGrowthPercent).toBe(400);
  });

  it('limits failed sign-ins to 10 per account and 100 per address in 15 minutes by default, and bounds password hashing', () => {
    const config = loadConfig({});
    expect(config.loginLimits).toEqual({ account: { limit: 10, windowSeconds: 900 }, address: { limit: 100, windowSeconds: 900 } });
    expect(config.passwordHashing.concurrency).toBeGreaterThanOrEqual(1);
    expect(config.passwordHashing.concurrency).toBeLessThanOrEqual(3);
    expect(config.passwordHashing.queue).toBe(32);
    const tuned = loadConfig({ VITRINE_LOGIN_ACCOUNT_LIMIT: '5', VITRINE_LOGIN_ACCOUNT_WINDOW_SECONDS: '60', VITRINE_PASSWORD_HASH_CONCURRENCY: '2', VITRINE_PASSWORD_HASH_QUEUE: '0' });
    expect(tuned.loginLimits.account).toEqual({ limit: 5, windowSeconds: 60 });
    expect(tuned.passwordHashing).toEqual({ concurrency: 2, queue: 0 });
  });

  it('spans instances through the Postgres adapter on a shared database only, unless told not to, and bounds each live socket', () => {
    const url = 'postgres://vitrine@db.example/vitrine';
    expect(loadConfig({})).toEqual(expect.objectContaining({ liveAdapter: 'none', liveSocketBuffer: 1_000 }));
    expect(loadConfig({ DATABASE_URL: url }).liveAdapter).toBe('postgres');
    expect(loadConfig({ DATABASE_URL: url, VITRINE_LIVE_ADAPTER: 'none', VITRINE_LIVE_SOCKET_BUFFER: '50' })).toEqual(expect.objectContaining({ liveAdapter: 'none', liveSocketBuffer: 50 }));
    expect(problemsOf({ VITRINE_LIVE_ADAPTER: 'postgres' })).toEqual([{ variable: 'VITRINE_LIVE_ADAPTER', message: expect.stringContaining('DATABASE_URL') }]);
    expect(problemsOf({ VITRINE_LIVE_ADAPTER: 'kafka', VITRINE_LIVE_SOCKET_BUFFER: '0' }).map((p) => p.variable)).toEqual(['VITRINE_LIVE_ADAPTER', 'VITRINE_LIVE_SOCKET_BUFFER']);
  });

  it('spans instances through Redis when VITRINE_REDIS_URL names one, even with a shared database', () => {
    const redis = 'redis://cache.example:6379/0';
    expect(loadConfig({ VITRINE_REDIS_URL: redis })).toEqual(expect.objectContaining({ liveAdapter: 'redis', redisUrl: redis }));
    expect(loadConfig({ VITRINE_REDIS_URL: redis, DATABASE_URL: 'postgres://vitrine@db.example/vitrine' }).liveAdapter).toBe('redis');
    expect(loadConfig({ VITRINE_REDIS_URL: redis, DATABASE_URL: 'postgres://vitrine@db.example/vitrine', VITRINE_LIVE_ADAPTER: 'postgres' }).liveAdapter).toBe('postgres');
    expect(problemsOf({ VITRINE_LIVE_ADAPTER: 'redis' })).toEqual([{ variable: 'VITRINE_LIVE_ADAPTER', message: expect.stringContaining('VITRINE_REDIS_URL') }]);
    expect(problemsOf({ VITRINE_REDIS_URL: 'http://cache.example' })).toEqual([{ variable: 'VITRINE_REDIS_URL', message: expect.stringContaining('redis://') }]);
  });

  it('names every bad variable at once', () => {
    expect(problemsOf({ PORT: '-1', LOG_LEVEL: 'x' }).map((p) => p.variable).sort()).toEqual(['LOG_LEVEL', 'PORT']);
  });
});
