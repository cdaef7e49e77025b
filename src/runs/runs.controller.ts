import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { z } from 'zod';
import { ApiProblems } from '../common/openapi.decorators.js';
import { PageSchema } from '../common/pagination.js';
import type { Actor, UserActor } from '../identity/actor.js';
import { CurrentActor } from '../identity/current-actor.decorator.js';
import { IdSchema } from '../identity/identity.schemas.js';
import { Authorize } from '../policy/authorize.decorator.js';
import { RunIngestService } from './run-ingest.service.js';
import {
  CreatedRunSchema,
  CreateRunSchema,
  IngestResultSchema,
  IngestSchema,
  ReplayQuerySchema,
  RunEventSchema,
  RunDetailSchema,
  RunListQuerySchema,
  RunSchema,
  type CreateRunBody,
  type IngestBody,
  type RunDetailView,
  type RunListQuery,
} from './runs.schemas.js';
import { RunsService, runView } from './runs.service.js';

@ApiTags('runs')
@ApiBearerAuth()
@Controller('api/v1/runs')
export class RunsController {
  constructor(
    @Inject(RunsService) private readonly runs: RunsService,
    @Inject(RunIngestService) private readonly ingest: RunIngestService,
  ) {}

  @Post()
  @Authorize('create', 'Run')
  @ApiOperation({ summary: 'Start a DAG run; answers its reporter token once' })
  @ApiCreatedResponse({ standardSchema: CreatedRunSchema })
  @ApiProblems(400, 401, 403, 413)
  create(@CurrentActor() actor: UserActor, @Body({ schema: CreateRunSchema }) body: CreateRunBody) {
    return this.runs.create(actor, body);
  }

  @Get()
  @Authorize('read', 'Run')
  @ApiOperation({ summary: 'Runs of the org, newest first; `label=k:v` may repeat' })
  @ApiOkResponse({ standardSchema: PageSchema(RunSchema) })
  @ApiProblems(400, 401, 403)
  list(@CurrentActor() actor: Actor, @Query({ schema: RunListQuerySchema }) query: RunListQuery) {
    return this.runs.list(actor, query);
  }

  @Get(':id')
  @Authorize('read', 'Run')
  @ApiOperation({ summary: 'A run with its nodes' })
  @ApiOkResponse({ standardSchema: RunDetailSchema })
  @ApiProblems(400, 401, 403, 404)
  async get(@CurrentActor() actor: Actor, @Param('id', { schema: IdSchema }) id: string): Promise<RunDetailView> {
    const run = await this.runs.load(actor, id, 'read');
    return { ...runView(run), can: { cancel: await this.runs.allows(actor, run, 'update') } };
  }

  @Post(':id/cancel')
  @Authorize('update', 'Run')
  @HttpCode(200)
  @ApiOperation({ summary: 'Cancel the run: its unfinished nodes end `cancelled`' })
  @ApiOkResponse({ standardSchema: RunSchema })
  @ApiProblems(400, 401, 403, 404, 409)
  async cancel(@CurrentActor() actor: Actor, @Param('id', { schema: IdSchema }) id: string) {
    await this.runs.assertCan(actor, id, 'update');
    await this.ingest.cancel(actor, id);
    return runView(await this.runs.find(actor, id));
  }

  @Post(':id/events')
  @Authorize('report', 'Run')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Report node events: 1 to 1,000, applied all or nothing, in order',
    description: '409 `dependencies_not_met`, `node_terminal` or `run_terminal` and 400 `unknown_node` name the offending event by index. An event id seen before counts as a duplicate and is not applied again.',
  })
  @ApiOkResponse({ standardSchema: IngestResultSchema })
  @ApiProblems(400, 401, 403, 404, 409, 413)
  async report(@CurrentActor() actor: Actor, @Param('id', { schema: IdSchema }) id: string, @Body({ schema: IngestSchema }) body: IngestBody) {
    await this.runs.assertCan(actor, id, 'report');
    return this.ingest.ingest(actor.orgId, id, body.events);
  }

  @Get(':id/events')
  @Authorize('read', 'Run')
  @ApiOperation({ summary: 'Replay: events after `after`, in seq order, no gaps; `nextCursor` is the next `after`' })
  @ApiOkResponse({ standardSchema: PageSchema(RunEventSchema) })
  @ApiProblems(400, 401, 403, 404)
  events(@CurrentActor() actor: Actor, @Param('id', { schema: IdSchema }) id: string, @Query({ schema: ReplayQuerySchema }) query: z.infer<typeof ReplayQuerySchema>) {
    return this.runs.events(actor, id, query.after, query.limit);
  }
}
