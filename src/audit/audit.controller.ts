import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Controller, Get, Inject, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { ApiProblems } from '../common/openapi.decorators.js';
import { inlineJsonSchema } from '../common/openapi.js';
import { ListQuerySchema, PageSchema, type ListQuery } from '../common/pagination.js';
import type { UserActor } from '../identity/actor.js';
import { CurrentActor } from '../identity/current-actor.decorator.js';
import { Authorize } from '../policy/authorize.decorator.js';
import { positionalBinder } from '../policy/policy-sql.js';
import { PolicyService } from '../policy/policy.service.js';
import { AuditChainService, notYetSealed } from './audit-chain.service.js';
import { CSV_COLUMNS, csvExport, ndjsonExport, proofExport } from './audit-export.js';
import {
  AuditEventSchema,
  AuditExportQuerySchema,
  AuditQuerySchema,
  AuditShareSchema,
  AuditSharesQuerySchema,
  CheckpointSchema,
  ExportHeaderLineSchema,
  ExportSealLineSchema,
  PublicKeySchema,
  VerifySchema,
  type AuditExportQuery,
  type AuditQuery,
} from './audit.schemas.js';
import { AuditService, auditSqlAttributes, type ExtraWhere } from './audit.service.js';
import type { z } from 'zod';

@ApiTags('audit')
@ApiBearerAuth()
@Authorize('read', 'AuditEvent')
@Controller('api/v1/audit')
export class AuditController {
  constructor(
    @Inject(AuditService) private readonly audit: AuditService,
    @Inject(AuditChainService) private readonly chain: AuditChainService,
    @Inject(PolicyService) private readonly policy: PolicyService,
  ) {}

  @Get()
  @ApiOperation({ summary: "Query the org's audit log, newest first; `from` inclusive, `to` exclusive" })
  @ApiOkResponse({ standardSchema: PageSchema(AuditEventSchema) })
  @ApiProblems(400, 401, 403)
  async list(@CurrentActor() actor: UserActor, @Query({ schema: AuditQuerySchema }) query: AuditQuery) {
    const { limit, cursor, ...filters } = query;
    return this.audit.list(actor.orgId, filters, limit, cursor, await this.visible(actor, 'e'));
  }

  /** The events the caller may read, as a condition on the query (its placeholders numbered after `params`): skipped before the page is cut. */
  private async visible(actor: UserActor, alias: 'e' | 'p', params: unknown[] = []): Promise<ExtraWhere> {
    const where = await this.policy.readFilter(actor, 'AuditEvent', auditSqlAttributes(alias), positionalBinder(params));
    return { where, params };
  }

  @Get('export')
  @ApiOperation({
    summary: 'Stream every sealed event that matches, newest first',
    description:
      '`ndjson`: one AuditEvent per line (the shape `GET /api/v1/audit` lists) and nothing else, for `jq` and log shippers. ' +
      'With `proof=true` it adds what an offline check needs: first a line `{"type": "vitrine.audit.header", "header": {...}}`, ' +
      'then the events, then one `{"type": "vitrine.audit.seal", "seal": {...}}` line per sealed block, oldest first; ' +
      'an AuditEvent has no top-level `type`, so `jq -c \'select(.type == null)\'` keeps the events. ' +
      '`npm run audit:verify -- <file> [--public-key key.pem]` checks such a file. ' +
      '`csv`: a header row, then one row per event; `proof=true` with `csv` is 400 `validation_failed` naming `proof`. ' +
      'The export seals what is pending first and holds the events sealed by then.',
  })
  @ApiOkResponse({
    description: 'The export, streamed',
    content: {
      'application/x-ndjson': {
        schema: {
          description: 'One JSON object per line: an AuditEvent, or with `proof=true` also the header line (first) and the seal lines (last)',
          oneOf: [{ $ref: '#/components/schemas/AuditEvent' }, inlineJsonSchema(ExportHeaderLineSchema), inlineJsonSchema(ExportSealLineSchema)],
        },
      },
      'text/csv': { schema: { type: 'string', description: `RFC 4180, columns: ${CSV_COLUMNS.join(', ')}` } },
    },
  })
  @ApiProblems(400, 401, 403)
  async export(@CurrentActor() actor: UserActor, @Query({ schema: AuditExportQuerySchema }) query: AuditExportQuery, @Res() response: Response): Promise<void> {
    const { format, proof, ...filters } = query;
    await this.audit.recordNow({ orgId: actor.orgId, actor, action: 'audit.export', resource: { type: 'AuditEvent', id: null }, details: { format, proof, filters } });
    await this.chain.seal(true);
    const last = await this.chain.lastHead(actor.orgId);
    const pending = notYetSealed(last);
    // Sealed, and what the caller may read: an export holds no event a list would hide.
    const visible = await this.visible(actor, 'e', [...pending.params]);
    const sealed = { where: `NOT ${pending.where} AND (${visible.where})`, params: visible.params };
    const events = last ? this.audit.stream(actor.orgId, filters, sealed) : (async function* () {})();
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    response.setHeader('Content-Type', format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8');
    response.setHeader('Content-Disposition', `attachment; filename="audit-${stamp}${proof ? '.proof' : ''}.${format}"`);
    let body: AsyncIterable<string>;
    if (format === 'csv') body = csvExport(events);
    else if (!proof) body = ndjsonExport(events);
    else {
      const header = {
        orgId: actor.orgId,
        exportedAt: new Date().toISOString(),
        filters,
        complete: Object.keys(filters).length === 0 && visible.where === 'TRUE',
        blocks: last?.blockNo ?? 0,
        keyId: this.chain.key.keyId,
        publicKey: this.chain.key.publicKeyPem,
      };
      body = proofExport(header, events, this.chain.seals(actor.orgId, last?.blockNo ?? 0));
    }
    // Errors after the first byte can only cut the stream short; the verifier then fails on the truncated file.
    await pipeline(Readable.from(body), response).catch(() => response.destroy());
  }

  @Get('verify')
  @ApiOperation({ summary: "Recompute the org's chain; names the first invalid seq" })
  @ApiOkResponse({ standardSchema: VerifySchema })
  @ApiProblems(401, 403)
  verify(@CurrentActor() actor: UserActor) {
    return this.chain.verify(actor.orgId);
  }

  @Get('checkpoints')
  @ApiOperation({ summary: 'Signed heads of the chain, newest first; keep them outside the database to check later' })
  @ApiOkResponse({ standardSchema: PageSchema(CheckpointSchema) })
  @ApiProblems(400, 401, 403)
  checkpoints(@CurrentActor() actor: UserActor, @Query({ schema: ListQuerySchema }) query: ListQuery) {
    return this.chain.checkpoints(actor.orgId, query.limit, query.cursor);
  }

  @Get('public-key')
  @ApiOperation({ summary: 'The key that signs checkpoints' })
  @ApiOkResponse({ standardSchema: PublicKeySchema })
  @ApiProblems(401, 403)
  publicKey() {
    return { algorithm: 'Ed25519' as const, publicKey: this.chain.key.publicKeyPem, keyId: this.chain.key.keyId };
  }

  @Get('shares')
  @ApiOperation({ summary: 'Who shared what: every share link, who made and revoked it, and how often it was viewed' })
  @ApiOkResponse({ standardSchema: PageSchema(AuditShareSchema) })
  @ApiProblems(400, 401, 403)
  async shares(@CurrentActor() actor: UserActor, @Query({ schema: AuditSharesQuerySchema }) query: z.infer<typeof AuditSharesQuerySchema>) {
    // A share is listed when the caller may read the event that published it.
    return this.audit.shares(actor.orgId, query.limit, query.cursor, query.artifactId, await this.visible(actor, 'p'));
  }
}
