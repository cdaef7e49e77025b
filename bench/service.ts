import { tmpdir } from 'node:os';
import path from 'node:path';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { configureApp, createApp } from '../src/app.js';
import { setHeapGrowth } from '../src/common/heap-growth.js';
import { loadConfig, type AppConfig } from '../src/config/config.schema.js';
import type { Client } from './http-load.js';

export const ADMIN_EMAIL = 'bench@bench.local';
export const ADMIN_PASSWORD = 'bench-password-123';

/**
 * The real service in this process, started as main.ts starts it (the same
 * heap growth, for the whole process) and as test/helpers/test-app.ts
 * configures it, on the bench database, listening on a free port.
 * `beforeConfigure` may put middleware ahead of the app's own.
 */
export async function startService(databaseUrl: string, beforeConfigure?: (app: NestExpressApplication) => void): Promise<{ app: NestExpressApplication; config: AppConfig; port: number }> {
  const config = loadConfig({
    DATABASE_URL: databaseUrl,
    // One instance: no fan-out to others unless the bench's environment asks for it.
    VITRINE_LIVE_ADAPTER: process.env.VITRINE_LIVE_ADAPTER ?? 'none',
    PORT: '0',
    LOG_LEVEL: 'silent',
    VITRINE_ADMIN_EMAIL: ADMIN_EMAIL,
    VITRINE_ADMIN_PASSWORD: ADMIN_PASSWORD,
    VITRINE_AUDIT_SIGNING_KEY_FILE: path.join(tmpdir(), 'vitrine-bench-audit-key.pem'),
    // From the bench's environment, as an operator sets it, to compare settings.
    VITRINE_HEAP_GROWTH_PERCENT: process.env.VITRINE_HEAP_GROWTH_PERCENT,
  });
  setHeapGrowth(config.heapGrowthPercent);
  const app = await createApp(config);
  beforeConfigure?.(app);
  configureApp(app);
  await app.listen(0, '127.0.0.1');
  return { app, config, port: (app.getHttpServer().address() as { port: number }).port };
}

/**
 * Signs in as the bench's admin and registers the tool and skill the runs
 * use; answers a function that starts a fresh run of `nodes` nodes (n0, n1,
 * …), a week before stalling so the stall sweeper stays out of the bench.
 */
export async function benchRuns(admin: Client, title: string, nodes: number): Promise<() => Promise<{ id: string; reporterToken: string; path: string }>> {
  const { token } = await admin.expect<{ token: string }>(201, 'POST', '/api/v1/auth/token', { email: ADMIN_EMAIL, password: ADMIN_PASSWORD, name: title });
  await admin.expect(201, 'POST', '/api/v1/tools', { name: 'bench-tool', description: 'bench', risk: 'low' }, token);
  await admin.expect(201, 'POST', '/api/v1/skills', { name: 'bench-skill', version: '1.0.0', description: 'bench', tools: ['bench-tool'] }, token);
  const body = { title, staleAfterSeconds: 7 * 24 * 3600, nodes: Array.from({ length: nodes }, (_, i) => ({ key: `n${i}`, skill: 'bench-skill' })) };
  return async () => {
    const run = await admin.expect<{ id: string; reporterToken: string }>(201, 'POST', '/api/v1/runs', body, token);
    return { ...run, path: `/api/v1/runs/${run.id}/events` };
  };
}
