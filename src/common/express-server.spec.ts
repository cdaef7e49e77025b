import http from 'node:http';
import { afterEach, describe, expect, it } from '@jest/globals';
import express, { type Express } from 'express';
import request from 'supertest';
import { createExpressServer, VitrineExpressAdapter } from './express-server.js';

/** The prototypes each request and response to `server` arrived with, before Express saw them. */
function watch(server: http.Server) {
  const arrived: { request: object | null; response: object | null }[] = [];
  server.prependListener('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    arrived.push({ request: Object.getPrototypeOf(req) as object | null, response: Object.getPrototypeOf(res) as object | null });
  });
  return arrived;
}

describe('createExpressServer', () => {
  const servers: http.Server[] = [];
  afterEach(() => {
    for (const server of servers.splice(0)) server.close();
  });

  it('hands Express requests and responses already on the app’s prototypes, so none is re-prototyped', async () => {
    const app = express();
    app.get('/x', (_req, res) => res.send('ok'));
    const server = createExpressServer(app);
    servers.push(server);
    const arrived = watch(server);

    await request(server).get('/x').expect(200, 'ok');
    await request(server).get('/x').expect(200, 'ok');

    expect(arrived).toHaveLength(2);
    for (const { request: req, response: res } of arrived) {
      expect(req).toBe(app.request);
      expect(res).toBe(app.response);
    }
  });

  it('keeps Express’s request and response API', async () => {
    const app = express();
    app.use(express.json());
    app.post('/items/:id', (req, res) => {
      res
        .status(201)
        .set('X-Item', req.params.id!)
        .cookie('seen', '1', { httpOnly: true })
        .json({ id: req.params.id, q: req.query.q, body: req.body as unknown, type: req.get('content-type'), json: req.is('application/json'), ip: req.ip, app: req.app === app });
    });
    app.get('/old', (_req, res) => res.redirect(301, '/new'));
    const server = createExpressServer(app);
    servers.push(server);

    const created = await request(server).post('/items/42?q=find').send({ a: 1 }).expect(201);
    expect(created.headers['x-item']).toBe('42');
    expect(created.headers['set-cookie']).toEqual(['seen=1; Path=/; HttpOnly']);
    expect(created.body).toEqual({ id: '42', q: 'find', body: { a: 1 }, type: 'application/json', json: 'application/json', ip: expect.stringMatching(/127\.0\.0\.1/), app: true });
    await request(server).get('/old').expect(301).expect('Location', '/new');
    await request(server).get('/missing').expect(404);
  });
});

describe('VitrineExpressAdapter', () => {
  it('serves its Express instance from createExpressServer', async () => {
    const adapter = new VitrineExpressAdapter();
    const app = adapter.getInstance<Express>();
    app.get('/x', (_req, res) => res.json({ ok: true }));
    adapter.initHttpServer({});
    const server = adapter.getHttpServer() as http.Server;
    const arrived = watch(server);
    try {
      await request(server).get('/x').expect(200, { ok: true });
      expect(arrived).toEqual([{ request: app.request, response: app.response }]);
    } finally {
      server.close();
    }
  });

  it('leaves HTTP servers with options Vitrine does not use to Nest', async () => {
    const adapter = new VitrineExpressAdapter();
    const app = adapter.getInstance<Express>();
    app.get('/x', (_req, res) => res.json({ ok: true }));
    adapter.initHttpServer({ forceCloseConnections: true });
    const server = adapter.getHttpServer() as http.Server;
    const arrived = watch(server);
    try {
      await request(server).get('/x').expect(200, { ok: true });
      expect(arrived).toEqual([{ request: http.IncomingMessage.prototype, response: http.ServerResponse.prototype }]);
    } finally {
      server.close();
    }
  });
});
