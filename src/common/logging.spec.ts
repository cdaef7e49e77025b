import { PassThrough } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { Logger } from '@nestjs/common';
import express from 'express';
import request from 'supertest';
import { loadConfig } from '../config/config.schema.js';
import { createRootLogger, logFormat, NestPinoLogger, requestIdMiddleware, requestLogger } from './logging.js';

/** A root logger at `level` writing into an array of parsed lines. */
function capture(level = 'info') {
  const lines: Record<string, unknown>[] = [];
  const stream = new PassThrough();
  stream.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>)));
  return { lines, root: createRootLogger(loadConfig({ LOG_LEVEL: level }), stream) };
}

const settle = () => new Promise((r) => setImmediate(r));

describe('request logs', () => {
  it('carry the request id and never the credentials, cookies or bodies of a request', async () => {
    const { lines, root } = capture();
    const app = express();
    app.use(requestIdMiddleware);
    app.use(requestLogger(root));
    app.use(express.json());
    app.post('/api/v1/auth/token', (_req, res) => {
      res.status(201).json({ token: 'vtr_pat_secret-in-response' });
    });
    app.get('/s/:token', (_req, res) => {
      res.send('ok');
    });

    await request(app)
      .post('/api/v1/auth/token')
      .set('Authorization', 'Bearer vtr_pat_secret-in-header')
      .set('Cookie', 'vitrine_session=vtr_ses_secret-in-cookie')
      .set('X-Request-Id', 'req-123')
      .send({ email: 'a@b.test', password: 'secret-password' });
    await request(app).get('/s/vtr_shr_secret-in-path');
    await settle();

    const all = JSON.stringify(lines);
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect((lines[0]!.req as { id: string }).id).toBe('req-123');
    for (const secret of ['secret-in-header', 'secret-in-cookie', 'secret-password', 'secret-in-response', 'secret-in-path']) {
      expect(all).not.toContain(secret);
    }
  });

  it("leave out reporters' event POSTs, and only those", async () => {
    const { lines, root } = capture();
    const app = express();
    app.use(requestIdMiddleware);
    app.use(requestLogger(root));
    app.all('/{*path}', (_req, res) => {
      res.json({});
    });
    const send = (method: 'get' | 'post', path: string) => request(app)[method](path).send({});
    for (const path of ['/api/v1/runs/r1/events', '/api/v1/runs/r1/events/', '/api/v1/runs/r1/events?x=1', '/API/V1/Runs/r1/Events']) await send('post', path);
    for (const path of ['/api/v1/runs/r1/events', '/api/v1/runs/r1/events/more']) await send('get', path);
    for (const path of ['/api/v1/runs', '/api/v1/runs/r1/cancel', '/api/v1/runs/r1/events/more', '/api/v1/runs/r1/x/events']) await send('post', path);
    await settle();
    const logged = lines.flatMap((l) => (l.req ? [`${(l.req as { method: string }).method} ${(l.req as { url: string }).url}`] : []));
    expect(logged).toEqual([
      'GET /api/v1/runs/r1/events',
      'GET /api/v1/runs/r1/events/more',
      'POST /api/v1/runs',
      'POST /api/v1/runs/r1/cancel',
      'POST /api/v1/runs/r1/events/more',
      'POST /api/v1/runs/r1/x/events',
    ]);
  });
});

describe("Nest's logs", () => {
  it('go through the root logger with their context, fields and errors', async () => {
    const { lines, root } = capture('debug');
    const service = new NestPinoLogger(root);
    Logger.overrideLogger(service);
    try {
      new Logger('Orgs').log('admin created');
      new Logger('ProblemFilter').error({ err: new Error('boom'), requestId: 'req-9' }, 'unexpected error');
      new Logger('ExceptionsHandler').error('it broke', 'Error: it broke\n    at somewhere (file.js:1:1)');
      service.warn(new Error('plain'));
      new Logger('Extra').debug('with more', { attempt: 2 });
      new Logger('Quiet').verbose('below the level');
      await settle();
    } finally {
      Logger.overrideLogger(false);
    }
    const pick = (l: Record<string, unknown>) => ({
      level: l.level,
      msg: l.msg,
      context: l.context,
      requestId: l.requestId,
      err: (l.err as { message?: string } | undefined)?.message,
      stack: typeof l.stack === 'string' ? l.stack.split('\n')[0] : undefined,
      ...(l.params ? { params: l.params } : {}),
    });
    expect(lines.map(pick)).toEqual([
      { level: 30, msg: 'admin created', context: 'Orgs', requestId: undefined, err: undefined, stack: undefined },
      { level: 50, msg: 'unexpected error', context: 'ProblemFilter', requestId: 'req-9', err: 'boom', stack: undefined },
      { level: 50, msg: 'it broke', context: 'ExceptionsHandler', requestId: undefined, err: undefined, stack: 'Error: it broke' },
      { level: 40, msg: 'plain', context: undefined, requestId: undefined, err: 'plain', stack: undefined },
      { level: 20, msg: 'with more', context: 'Extra', requestId: undefined, err: undefined, stack: undefined, params: [{ attempt: 2 }] },
    ]);
  });
});

describe('log format', () => {
  it('is human-readable on a terminal and JSON lines anywhere else', () => {
    expect(logFormat({ isTTY: true })).toBe('pretty');
    expect(logFormat({ isTTY: false })).toBe('json');
    expect(logFormat({})).toBe('json');
  });
});

describe("Nest's route mapping lines", () => {
  async function mappingAt(level: string) {
    const { lines, root } = capture(level);
    Logger.overrideLogger(new NestPinoLogger(root));
    try {
      new Logger('RoutesResolver').log('OpsController {/}:');
      new Logger('RouterExplorer').log('Mapped {/readyz, GET} route');
      new Logger('NestApplication').log('Nest application successfully started');
      await settle();
    } finally {
      Logger.overrideLogger(false);
    }
    return lines.map((l) => [l.level, l.context]);
  }

  it('are left out at info', async () => {
    expect(await mappingAt('info')).toEqual([[30, 'NestApplication']]);
  });

  it('are logged at debug', async () => {
    expect(await mappingAt('debug')).toEqual([
      [20, 'RoutesResolver'],
      [20, 'RouterExplorer'],
      [30, 'NestApplication'],
    ]);
  });
});
