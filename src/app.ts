import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import cookieParser from 'cookie-parser';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { AppModule } from './app.module.js';
import { APP_CONFIG, type AppConfig } from './config/config.schema.js';
import { NestPinoLogger, requestIdMiddleware, requestLogger, ROOT_LOGGER } from './common/logging.js';
import { requestContextMiddleware } from './common/request-context.js';
import { setupOpenApi } from './common/openapi.js';
import { VitrineExpressAdapter } from './common/express-server.js';
import { bodyParserProblems, ProblemFilter } from './common/problem.filter.js';
import { ProblemValidationPipe } from './common/validation.pipe.js';
import { LiveIoAdapter } from './live/live-io.adapter.js';
import { MetricsService } from './ops/metrics.service.js';
import { PolicyService } from './policy/policy.service.js';
import { assetsHandler } from './web/web-assets.js';

/**
 * The Nest application on its Express platform and HTTP server (see
 * express-server.ts), not yet configured: main.ts, every test and the
 * bench create it here, then hand it to configureApp.
 */
export function createApp(config: AppConfig): Promise<NestExpressApplication> {
  return NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), new VitrineExpressAdapter(), { bodyParser: false, bufferLogs: true });
}

/**
 * Everything that turns the module graph into the HTTP service: used by
 * main.ts and by every test, so the two cannot drift. Create the app with
 * createApp (no body parser: it is set up here).
 */
export function configureApp(app: NestExpressApplication): NestExpressApplication {
  const config = app.get<AppConfig>(APP_CONFIG);
  const logger = app.get<Logger>(ROOT_LOGGER);
  app.useLogger(new NestPinoLogger(logger));
  app.disable('x-powered-by');
  const metrics = app.get(MetricsService);
  const parseCookies = cookieParser();
  const done = () => undefined;
  // One Express layer for what every request needs first, not four: each layer costs every request (measured on the ingest route).
  app.use((request: Request, response: Response, next: NextFunction) => {
    requestIdMiddleware(request, response, done);
    metrics.observe(request, response);
    // Browsers send cookies; reporters and token clients send none, and skip the parser.
    if (request.headers.cookie) parseCookies(request, response, done);
    requestContextMiddleware(request, response, next);
  });
  // The page's hashed assets, before the request log: a page load fetches several, none worth a line.
  app.use('/assets', assetsHandler());
  app.use(requestLogger(logger));
  app.use(express.json({ limit: config.bodyLimit, type: ['application/json', 'application/*+json'] }));
  // Policy bundles may be sent as YAML text.
  app.use(express.text({ limit: config.bodyLimit, type: ['application/yaml', 'application/x-yaml', 'text/yaml'] }));
  app.use(bodyParserProblems);
  app.useGlobalPipes(new ProblemValidationPipe());
  const policy = app.get(PolicyService);
  app.useGlobalFilters(new ProblemFilter((exception) => policy.recordDenial(exception)));
  // Socket.IO (`/live`) on the API's own HTTP server and port, across instances when they share a database.
  app.useWebSocketAdapter(new LiveIoAdapter(app, config));
  setupOpenApi(app);
  return app;
}
