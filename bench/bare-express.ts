import type { Server } from 'node:http';
import express from 'express';
import { createExpressServer } from '../src/common/express-server.js';

/** Bare Express on the service's HTTP server, with its JSON parser and one route answering as ingest does: the HTTP ceiling of one Node thread. */
export async function bareExpress(bodyLimit: string): Promise<{ server: Server; port: number }> {
  const bare = express();
  bare.use(express.json({ limit: bodyLimit }));
  let seq = 0;
  bare.post('/bare/:id/events', (request, response) => {
    const events = (request.body as { events: unknown[] }).events;
    seq += events.length;
    response.json({ accepted: events.length, duplicates: 0, lastSeq: seq });
  });
  const server = await new Promise<Server>((resolve) => {
    const s = createExpressServer(bare).listen(0, '127.0.0.1', () => resolve(s));
  });
  return { server, port: (server.address() as { port: number }).port };
}
