import http from 'node:http';
import type { NestApplicationOptions } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import express, { type Express } from 'express';

/**
 * An HTTP server for an Express app that builds each request and response
 * with the app's own prototypes (app.request, app.response), instead of
 * Node's plain ones that Express then re-prototypes.
 *
 * Express gives every request and response its app's prototype with
 * Object.setPrototypeOf, per request. On Node 20 the young-generation GC then
 * keeps those objects (and all they hold) alive until they are promoted to
 * the old generation. Measured here with bare Express and one reporter: 4–5 MB
 * promoted per scavenge, 3–6 ms per scavenge, where node:http alone promotes
 * nothing and scavenges in 0.5 ms (expressjs/express#5998 proposes this same
 * remedy). Built from classes whose prototypes already are the app's, the
 * objects keep their prototype: Express's setPrototypeOf finds it in place
 * and changes nothing.
 *
 * Call once per app, before it serves; it replaces app.request and
 * app.response with the classes' prototypes, which inherit from them.
 */
export function createExpressServer(app: Express): http.Server {
  class Request extends http.IncomingMessage {}
  class Response extends http.ServerResponse {}
  Object.setPrototypeOf(Request.prototype, app.request);
  Object.setPrototypeOf(Response.prototype, app.response);
  app.request = Request.prototype as express.Request;
  app.response = Response.prototype as unknown as express.Response;
  return http.createServer({ IncomingMessage: Request, ServerResponse: Response }, app);
}

/** Nest's Express platform, serving plain HTTP from createExpressServer. */
export class VitrineExpressAdapter extends ExpressAdapter {
  constructor() {
    super(express());
  }

  override initHttpServer(options: NestApplicationOptions): void {
    // Options Vitrine does not use keep Nest's own server.
    if (options.httpsOptions || options.return503OnClosing || options.forceCloseConnections) return super.initHttpServer(options);
    this.httpServer = createExpressServer(this.getInstance<Express>());
  }
}
