import { PassThrough } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { Controller, Get, HttpCode, Module, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import express from 'express';
import { LoggerModule } from 'nestjs-pino';
import { pinoHttp } from 'pino-http';
import request from 'supertest';
import { loadConfig } from '../config/config.schema.js';
import { loggerParams, requestIdMiddleware } from './logging.js';

describe('request logs', () => {
  it('carry the request id and never the credentials, cookies or bodies of a request', async () => {
    const lines: string[] = [];
    const stream = new PassThrough();
    stream.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)));
    const params = loggerParams(loadConfig({ LOG_LEVEL: 'info' }));
    const app = express();
    app.use(requestIdMiddleware);
    app.use(pinoHttp({ ...(params.pinoHttp as object), stream } as never));
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
    await new Promise((r) => setImmediate(r));

    const all = lines.join('\n');
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(JSON.parse(lines[0]!).req.id).toBe('req-123');
    for (const secret of ['secret-in-header', 'secret-in-cookie', 'secret-password', 'secret-in-response', 'secret-in-path']) {
      expect(all).not.toContain(secret);
    }
  });

  it("leave out reporters' event POSTs, and only those", async () => {
    const lines: string[] = [];
    const stream = new PassThrough();
    stream.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)));
    const params = loggerParams(loadConfig({ LOG_LEVEL: 'info' }));
    @Controller('api/v1/runs')
    class RunsStub {
      @Post(':id/events')
      @HttpCode(200)
      report() {
        return { accepted: 1 };
      }

      @Post()
      create() {
        return { id: 'r1' };
      }

      @Get(':id/events')
      replay() {
        return { items: [] };
      }
    }
    @Module({ imports: [LoggerModule.forRoot({ ...params, pinoHttp: { ...(params.pinoHttp as object), stream } as never })], controllers: [RunsStub] })
    class LoggedModule {}
    const app = await NestFactory.create<NestExpressApplication>(LoggedModule, { logger: false });
    await app.init();
    try {
      const server = app.getHttpServer();
      expect((await request(server).post('/api/v1/runs/r1/events').send({})).status).toBe(200);
      expect((await request(server).get('/api/v1/runs/r1/events')).status).toBe(200);
      expect((await request(server).post('/api/v1/runs').send({})).status).toBe(201);
      await new Promise((r) => setImmediate(r));
      const logged = lines.map((l) => JSON.parse(l) as { req?: { method: string; url: string } }).flatMap((l) => (l.req ? [`${l.req.method} ${l.req.url}`] : []));
      expect(logged).toEqual(['GET /api/v1/runs/r1/events', 'POST /api/v1/runs']);
    } finally {
      await app.close();
    }
  });
});
