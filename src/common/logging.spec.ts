import { PassThrough } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import express from 'express';
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
});
