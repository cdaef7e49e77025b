import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject, type OperationObject } from '@nestjs/swagger';
import { z } from 'zod';
import { problemResponse, PUBLIC_OPERATION } from './openapi.decorators.js';

const ProblemSchema = z
  .object({
    type: z.string().describe('URI identifying the problem type: urn:vitrine:problem:<code>'),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.string().describe('Stable snake_case error code'),
    errors: z.array(z.object({ path: z.string(), message: z.string(), line: z.number().int().optional() })).optional(),
    policy: z.object({ version: z.string().nullable(), ruleId: z.string().nullable() }).optional().describe('On policy_denied: the bundle version and the deciding rule (null when no rule allowed it)'),
    requestId: z.string().nullable(),
  })
  .describe('RFC 9457 problem document');

/** zod → JSON Schema 2020-12, the dialect of OpenAPI 3.1. */
function toJsonSchema(schema: unknown, { schemaType }: { schemaType: 'input' | 'output' }) {
  if (!(schema instanceof z.ZodType)) return undefined;
  const json = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io: schemaType,
    unrepresentable: 'any',
    override: ({ jsonSchema }) => {
      delete (jsonSchema as Record<string, unknown>).$schema;
    },
  }) as Record<string, unknown>;
  const { $defs, $schema: _dialect, ...rest } = json;
  return { schema: rest, components: ($defs ?? {}) as Record<string, Record<string, unknown>> };
}

/**
 * An output schema written out in place, for a response the decorators cannot
 * describe with one schema (a body served in several media types).
 */
export function inlineJsonSchema(schema: z.ZodType): Record<string, unknown> {
  const { schema: json, components } = toJsonSchema(schema, { schemaType: 'output' })!;
  if (Object.keys(components).length > 0) throw new Error('inlineJsonSchema: the schema has named parts; $ref their components instead');
  return json;
}

export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Vitrine')
    .setDescription(
      [
        'Self-hosted, policy-governed control plane for what AI agents produce. Errors are RFC 9457 problem documents (`application/problem+json`).',
        '',
        // OpenAPI has no place for a Socket.IO protocol: what `/live` carries is said here.
        '**Live updates** (Socket.IO namespace `/live` on the same origin; `auth: {token}` with a personal, reporter or share token, or the session cookie). ' +
          'Emit `subscribe` with exactly one of `{run, after?}`, `{artifact}`, `{share: token}` or `{runs: {}}`; the ack is `{ok: true, snapshot, replayed}` or ' +
          '`{ok: false, error: {code, message, errors?}}` with the HTTP API\'s codes (`unavailable` while the database is away). `unsubscribe` takes the same target. ' +
          'Server events: `run.event` (missed ones first, in seq order, no gap or duplicate), `run.updated` `{runId, status, lastSeq}`, ' +
          '`run.created` `{runId}` (to `{runs}`: each new run the subscriber may read), `artifact.revised` `{artifactId, revision, lastSeq?}`, ' +
          '`share.revoked` `{shareId, reason}`, `unsubscribed` `{run|artifact|share, error}` (access decided again and refused), ' +
          'and `closing` `{code: "too_slow" | "credential_expired", message}` before the server disconnects.',
      ].join('\n'),
    )
    .setVersion('1')
    .setOpenAPIVersion('3.1.0')
    // Relative: the origin that serves this document, wherever Vitrine is deployed.
    .addServer('/', 'The Vitrine that serves this document')
    // Tokens are opaque, not JWTs (the builder's default bearerFormat).
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: undefined, description: 'Personal access token (vtr_pat_…) or run reporter token (vtr_run_…)' })
    .addCookieAuth('vitrine_session')
    .build();
  const document = SwaggerModule.createDocument(app, config, {
    standardSchemaConverter: toJsonSchema as never,
    operationIdFactory: (controllerKey: string, methodKey: string) => `${controllerKey.replace(/Controller$/, '')}_${methodKey}`,
  });
  document.components ??= {};
  document.components.schemas ??= {};
  document.components.schemas.Problem = toJsonSchema(ProblemSchema, { schemaType: 'output' })!.schema as never;
  for (const [path, operations] of Object.entries(document.paths)) {
    for (const method of ['get', 'put', 'post', 'delete', 'patch'] as const) {
      const operation = operations[method] as (OperationObject & { [PUBLIC_OPERATION]?: boolean }) | undefined;
      if (!operation) continue;
      // A route marked Public needs no account: an empty requirement, not the absence of one.
      if (operation[PUBLIC_OPERATION]) {
        delete operation[PUBLIC_OPERATION];
        operation.security = [];
      }
      // Every route that reads the database (the API and share links) answers 503 while it cannot reach it.
      if (path.startsWith('/api/') || path.startsWith('/s/')) operation.responses['503'] ??= problemResponse(503);
    }
  }
  return document;
}

/** Serves the document at /api/openapi.json and Swagger UI (bundled, no CDN) at /docs. */
export function setupOpenApi(app: INestApplication): OpenAPIObject {
  const document = buildOpenApiDocument(app);
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: '/api/openapi.json', raw: ['json'], customSiteTitle: 'Vitrine API' });
  return document;
}
