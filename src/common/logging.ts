import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LoggerService } from '@nestjs/common';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { pino, type DestinationStream, type Logger as Pino } from 'pino';
import { pinoHttp } from 'pino-http';
import pinoPretty from 'pino-pretty';
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

/** The application's one pino logger: Nest's logs and request logs both go through it. */
export const ROOT_LOGGER = Symbol('ROOT_LOGGER');

type LogFormat = 'pretty' | 'json';

/** Lines a person reads on a terminal; JSON lines, for log shippers, everywhere else. */
export function logFormat(stdout: { isTTY?: boolean } = process.stdout): LogFormat {
  return stdout.isTTY ? 'pretty' : 'json';
}

/** Writes the root logger's lines, in `logFormat()`'s format, to stdout unless given a stream. */
export function createRootLogger(config: Pick<AppConfig, 'logLevel'>, stream?: DestinationStream): Pino {
  const options = {
    level: config.logLevel,
    redact: { paths: ['password', '*.password', 'token', '*.token', 'authorization', '*.authorization', 'cookie', '*.cookie'], censor: '[redacted]' },
  };
  if (stream) return pino(options, stream);
  if (logFormat() === 'json') return pino(options);
  // Synchronous: a line is on the terminal before whatever main.ts prints next (the banner must stay last).
  const pretty = pinoPretty({
    sync: true,
    translateTime: 'SYS:HH:MM:ss.l',
    // A request's line already says its method, path and status: its req/res objects would add nine lines.
    ignore: 'pid,hostname,context,req,res,responseTime',
    messageFormat: '{if context}[{context}] {end}{msg}{if responseTime} ({responseTime} ms){end}',
  });
  return pino(options, pretty);
}

/**
 * Writes `text` to stdout after every line the root logger (created by createRootLogger without
 * a stream) has taken so far. JSON lines go out asynchronously, so `text` joins their queue; the
 * terminal's lines are written synchronously, so they are out already.
 */
export function writeAfterLogs(root: Pino, text: string): void {
  if (logFormat() === 'pretty') process.stdout.write(text);
  else (root as unknown as Record<symbol, DestinationStream>)[pino.symbols.streamSym]!.write(text);
}

/** Nest's start-up lines, one per controller and route (about 90): wanted only when debugging. */
const ROUTE_MAPPING = new Set(['RoutesResolver', 'RouterExplorer']);

/** A reporter's `POST /api/v1/runs/{id}/events` (Express matches paths case-insensitively, with or without a trailing slash). */
const REPORTER_POST = /^\/api\/v1\/runs\/[^/?]+\/events\/?(?:\?|$)/i;

/**
 * Structured JSON request logs. Requests are logged by method, route and id
 * only: never headers (tokens, cookies) and never bodies (passwords, artifact
 * content). Reporters' event POSTs are not logged one by one: thousands a
 * second would bury everything else and cost the ingest a log write each. The
 * http_request_duration_seconds metric counts them by status, and an
 * unexpected error on them is logged as on any route (ProblemFilter).
 * Mount after requestIdMiddleware.
 */
export function requestLogger(root: Pino): RequestHandler {
  const log = pinoHttp({
    logger: root,
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
    customSuccessMessage: (req: IncomingMessage, res: ServerResponse) => `${req.method} ${redactUrl(req.url)} ${res.statusCode}`,
  });
  return (request, response, next) => (request.method === 'POST' && REPORTER_POST.test(request.url) ? next() : log(request, response, next));
}

type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/**
 * Nest's LoggerService on the root pino logger. Nest passes the logger's
 * context (its name) last, and `error(message, stack)` for exceptions; an
 * object first (as `logger.error({ err, requestId }, 'unexpected error')`)
 * becomes the line's fields, as with pino itself.
 */
export class NestPinoLogger implements LoggerService {
  constructor(private readonly root: Pino) {}

  log(message: unknown, ...params: unknown[]): void {
    this.write('info', message, params);
  }
  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }
  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }
  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }

  private write(level: Level, message: unknown, params: unknown[]): void {
    const rest = params.filter((p) => p !== undefined);
    const context = rest.length && typeof rest[rest.length - 1] === 'string' ? (rest.pop() as string) : undefined;
    if (level === 'info' && context && ROUTE_MAPPING.has(context)) level = 'debug';
    if (!this.root.isLevelEnabled(level)) return;
    const fields: Record<string, unknown> = {};
    if (context !== undefined) fields.context = context;
    let text: string | undefined;
    if (message instanceof Error) {
      fields.err = message;
      text = message.message;
    } else if (typeof message === 'object' && message !== null) {
      Object.assign(fields, message);
      if (typeof rest[0] === 'string') text = rest.shift() as string;
    } else {
      text = String(message);
    }
    if (typeof rest[0] === 'string' && /\n\s+at /.test(rest[0])) fields.stack = rest.shift();
    if (rest.length) fields.params = rest;
    this.root[level](fields, text);
  }
}
