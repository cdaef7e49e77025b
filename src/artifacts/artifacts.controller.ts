import { Body, Controller, Get, HttpCode, Inject, Param, Patch, Post, Put, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { ApiProblems } from '../common/openapi.decorators.js';
import { ListQuerySchema, PageSchema, type ListQuery } from '../common/pagination.js';
import type { Actor, UserActor } from '../identity/actor.js';
import { CurrentActor } from '../identity/current-actor.decorator.js';
import { IdSchema } from '../identity/identity.schemas.js';
import { Authorize } from '../policy/authorize.decorator.js';
import {
  ArtifactListQuerySchema,
  ArtifactSchema,
  ContentUpdatedSchema,
  CreateArtifactSchema,
  LineageSchema,
  PatchArtifactSchema,
  RemixSchema,
  RenderQuerySchema,
  RevisionParamSchema,
  RevisionSchema,
  RevisionWithBodySchema,
  UpdateContentSchema,
  type ArtifactListQuery,
  type CreateArtifactBody,
  type PatchArtifactBody,
  type RemixBody,
  type UpdateContentBody,
} from './artifacts.schemas.js';
import { ArtifactsService, artifactView } from './artifacts.service.js';
import { RENDER_HEADERS } from './render.js';

@ApiTags('artifacts')
@ApiBearerAuth()
@Controller('api/v1/artifacts')
export class ArtifactsController {
  constructor(@Inject(ArtifactsService) private readonly artifacts: ArtifactsService) {}

  @Post()
  @Authorize('create', 'Artifact')
  @ApiOperation({ summary: 'Write an artifact: revision 1 of its content (a run-summary has none)' })
  @ApiCreatedResponse({ standardSchema: ArtifactSchema })
  @ApiProblems(400, 401, 403, 413)
  create(@CurrentActor() actor: UserActor, @Body({ schema: CreateArtifactSchema }) body: CreateArtifactBody) {
    return this.artifacts.create(actor, body);
  }

  @Get()
  @Authorize('read', 'Artifact')
  @ApiOperation({ summary: 'Artifacts of the org the caller may read, newest first' })
  @ApiOkResponse({ standardSchema: PageSchema(ArtifactSchema) })
  @ApiProblems(400, 401, 403)
  list(@CurrentActor() actor: Actor, @Query({ schema: ArtifactListQuerySchema }) query: ArtifactListQuery) {
    return this.artifacts.list(actor, query);
  }

  @Get(':id')
  @Authorize('read', 'Artifact')
  @ApiOperation({ summary: 'An artifact (without its content: see revisions)' })
  @ApiOkResponse({ standardSchema: ArtifactSchema })
  @ApiProblems(400, 401, 403, 404)
  async get(@CurrentActor() actor: Actor, @Param('id', { schema: IdSchema }) id: string) {
    return artifactView((await this.artifacts.load(actor, id, 'read')).artifact);
  }

  @Patch(':id')
  @Authorize('update', 'Artifact')
  @ApiOperation({ summary: "Change an artifact's title, classification or labels" })
  @ApiOkResponse({ standardSchema: ArtifactSchema })
  @ApiProblems(400, 401, 403, 404)
  patch(@CurrentActor() actor: Actor, @Param('id', { schema: IdSchema }) id: string, @Body({ schema: PatchArtifactSchema }) body: PatchArtifactBody) {
    return this.artifacts.patch(actor, id, body);
  }

  @Put(':id/content')
  @Authorize('update', 'Artifact')
  @ApiOperation({ summary: "A new immutable revision of the content; a run's reporter token may update its run's artifacts" })
  @ApiOkResponse({ standardSchema: ContentUpdatedSchema })
  @ApiProblems(400, 401, 403, 404, 409, 413)
  updateContent(@CurrentActor() actor: Actor, @Param('id', { schema: IdSchema }) id: string, @Body({ schema: UpdateContentSchema }) body: UpdateContentBody) {
    return this.artifacts.updateContent(actor, id, body);
  }

  @Get(':id/revisions')
  @Authorize('read', 'Artifact')
  @ApiOperation({ summary: 'Revisions, newest first, without their bodies' })
  @ApiOkResponse({ standardSchema: PageSchema(RevisionSchema) })
  @ApiProblems(400, 401, 403, 404)
  revisions(@CurrentActor() actor: Actor, @Param('id', { schema: IdSchema }) id: string, @Query({ schema: ListQuerySchema }) query: ListQuery) {
    return this.artifacts.revisions(actor, id, query.limit, query.cursor);
  }

  @Get(':id/revisions/:revision')
  @Authorize('read', 'Artifact')
  @ApiOperation({ summary: 'One revision with its body' })
  @ApiOkResponse({ standardSchema: RevisionWithBodySchema })
  @ApiProblems(400, 401, 403, 404)
  revision(@CurrentActor() actor: Actor, @Param('id', { schema: IdSchema }) id: string, @Param('revision', { schema: RevisionParamSchema }) revision: number) {
    return this.artifacts.revision(actor, id, revision);
  }

  @Get(':id/render')
  @Authorize('read', 'Artifact')
  @ApiOperation({
    summary: 'The self-contained page of a revision (default: the latest): its own inline scripts run, sandboxed; nothing outside it is ever loaded',
    description:
      "Served under `Content-Security-Policy: sandbox allow-scripts; default-src 'none'; script-src 'unsafe-inline'; …`: agent HTML may run its own inline scripts (dashboards, tabs, charts), as an opaque origin that reaches neither Vitrine's cookies, DOM nor API, and with no network at all (no fetch, XHR, WebSocket, remote script, image, font or frame; images and fonts only as data: URLs).",
  })
  @ApiProduces('text/html')
  @ApiOkResponse({ description: 'The page, under the render Content-Security-Policy (sandbox allow-scripts, no network)' })
  @ApiProblems(400, 401, 403, 404)
  async render(@CurrentActor() actor: Actor, @Param('id', { schema: IdSchema }) id: string, @Query({ schema: RenderQuerySchema }) query: { revision?: number }, @Res({ passthrough: true }) response: Response) {
    const { artifact } = await this.artifacts.load(actor, id, 'read');
    const html = await this.artifacts.render(artifact, query.revision);
    response.set(RENDER_HEADERS);
    return html;
  }

  @Get(':id/lineage')
  @Authorize('read', 'Artifact')
  @ApiOperation({ summary: 'What the artifact was remixed from (nearest first) and what was remixed from it' })
  @ApiOkResponse({ standardSchema: LineageSchema })
  @ApiProblems(400, 401, 403, 404)
  lineage(@CurrentActor() actor: Actor, @Param('id', { schema: IdSchema }) id: string) {
    return this.artifacts.lineage(actor, id);
  }

  @Post(':id/remix')
  @HttpCode(201)
  @Authorize('remix', 'Artifact')
  @ApiOperation({ summary: "A private copy of the artifact for the caller, or 403 policy_denied" })
  @ApiCreatedResponse({ standardSchema: ArtifactSchema })
  @ApiProblems(400, 401, 403, 404, 409)
  async remix(@CurrentActor() actor: UserActor, @Param('id', { schema: IdSchema }) id: string, @Body({ schema: RemixSchema }) body: RemixBody) {
    const { artifact, decision } = await this.artifacts.load(actor, id, 'remix');
    return this.artifacts.remix(actor, artifact, decision, body);
  }
}
