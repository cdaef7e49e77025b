import type { IncomingMessage, ServerResponse } from 'node:http';
import { RequestMethod } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import type { Params } from 'nestjs-pino';
import type { AppConfig } from '../config/config.schema.js';
import { newId } from './ids.js';

const INCOMING_ID = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * Gives every request its id before anything can fail (body parsing
 * included): the caller's `X-Request-Id` when it is sane, else a new one.
 */
export function requestIdMiddleware(request: Request, response: Response, next: NextFunction): void {
  const incoming = request.headers['x-request-id'];
  const id = typeof incoming === 'string' && INCOMING_ID.test(incoming) ? incoming : newId();
  (request as Request & { id: string }).id = id;
  response.setHeader('X-Request-Id', id);
  next();
}

/** Paths that carry a secret in the URL itself (share links). */
function redactUrl(url: string | undefined): string | undefined {
  return url?.replace(/vtr_[a-z]{3}_[A-Za-z0-9_-]+/g, 'vtr_[redacted]');
}

/**
 * Structured JSON logs. Requests are logged by method, route and id only:
 * never headers (tokens, cookies) and never bodies (passwords, artifact content).
 * Reporters' event POSTs are not logged one by one: thousands a second would
 * bury everything else and cost the ingest a log write each. The
 * http_request_duration_seconds metric counts them by status, and an
 * unexpected error on them is logged as on any route.
 */
export function loggerParams(config: AppConfig): Params {
  return {
    exclude: [{ method: RequestMethod.POST, path: 'api/v1/runs/:id/events' }],
    pinoHttp: {
      level: config.logLevel,
      genReqId: (req: IncomingMessage) => (req as IncomingMessage & { id?: string }).id ?? newId(),
      autoLogging: { ignore: (req: IncomingMessage) => req.url === '/healthz' || req.url === '/metrics' },
      serializers: {
        req: (req: { id: string; method: string; url: string; remoteAddress?: string }) => ({
          id: req.id,
          method: req.method,
          url: redactUrl(req.url),
          remoteAddress: req.remoteAddress,
        }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
      redact: { paths: ['password', '*.password', 'token', '*.token', 'authorization', '*.authorization', 'cookie', '*.cookie'], censor: '[redacted]' },
      customSuccessMessage: (req: IncomingMessage, res: ServerResponse) => `${req.method} ${redactUrl(req.url)} ${res.statusCode}`,
    },
  };
}
