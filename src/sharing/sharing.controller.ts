import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { RENDER_HEADERS } from '../artifacts/render.js';
import { Public } from '../identity/public.decorator.js';
import type { RequestWithActor } from '../identity/actor.js';
import { ArtifactSchema, RemixSchema, type RemixBody } from '../artifacts/artifacts.schemas.js';
import { ApiProblems } from '../common/openapi.decorators.js';
import { ListQuerySchema, PageSchema, type ListQuery } from '../common/pagination.js';
import { requestContext } from '../common/request-context.js';
import { APP_CONFIG, type AppConfig } from '../config/config.schema.js';
import type { Actor, UserActor } from '../identity/actor.js';
import { CurrentActor } from '../identity/current-actor.decorator.js';
import { IdSchema } from '../identity/identity.schemas.js';
import { Authorize } from '../policy/authorize.decorator.js';
import { CreatedShareSchema, CreateShareSchema, ShareSchema, ShareTokenSchema, type CreateShareBody } from './sharing.schemas.js';
import { SharingService } from './sharing.service.js';

@ApiTags('sharing')
@ApiBearerAuth()
@Controller('api/v1')
export class SharingController {
  constructor(
    @Inject(SharingService) private readonly sharing: SharingService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  @Post('artifacts/:id/shares')
  @Authorize('publish', 'Artifact')
  @ApiOperation({
    summary: 'Publish: a share link, or 403 policy_denied',
    description: 'Policy decides on the artifact and `share: {audience, expiresInSeconds, pinned}`. The token is in this answer only.',
  })
  @ApiCreatedResponse({ standardSchema: CreatedShareSchema })
  @ApiProblems(400, 401, 403, 404)
  publish(@CurrentActor() actor: UserActor, @Param('id', { schema: IdSchema }) id: string, @Body({ schema: CreateShareSchema }) body: CreateShareBody, @Req() request: Request) {
    return this.sharing.publish(actor, id, body, this.config.publicUrl ?? `${request.protocol}://${request.headers.host}`);
  }

  @Get('artifacts/:id/shares')
  @Authorize('read', 'Share')
  @ApiOperation({ summary: "The artifact's shares the caller may see, newest first, valid or not (tokens are never shown again)" })
  @ApiOkResponse({ standardSchema: PageSchema(ShareSchema) })
  @ApiProblems(400, 401, 403, 404)
  list(@CurrentActor() actor: Actor, @Param('id', { schema: IdSchema }) id: string, @Query({ schema: ListQuerySchema }) query: ListQuery) {
    return this.sharing.list(actor, id, query.limit, query.cursor);
  }

  @Delete('shares/:id')
  @HttpCode(204)
  @Authorize('delete', 'Share')
  @ApiOperation({ summary: 'Revoke a share: its link stops at once; revoking again changes nothing' })
  @ApiNoContentResponse({ description: 'Revoked' })
  @ApiProblems(400, 401, 403, 404)
  revoke(@CurrentActor() actor: Actor, @Param('id', { schema: IdSchema }) id: string) {
    return this.sharing.revoke(actor, id);
  }

  @Post('shares/:token/remix')
  @Authorize('remix', 'Artifact')
  @ApiOperation({ summary: 'Remix through a link: a private copy in the caller’s own org, or 403 policy_denied; 404 unknown link, 410 revoked or expired' })
  @ApiCreatedResponse({ standardSchema: ArtifactSchema })
  @ApiProblems(400, 401, 403, 404, 409, 410)
  remix(@CurrentActor() actor: UserActor, @Param('token', { schema: ShareTokenSchema }) token: string, @Body({ schema: RemixSchema }) body: RemixBody) {
    return this.sharing.remixByToken(actor, token, body);
  }
}

/** Share links, outside the API: what a browser opens. */
@ApiTags('sharing')
@Controller('s')
export class ShareViewController {
  constructor(@Inject(SharingService) private readonly sharing: SharingService) {}

  @Get(':token')
  @Public()
  @ApiOperation({ summary: 'The shared page, no account needed for a link (org and team shares need a signed-in member); 404 unknown, 410 revoked or expired; every view is audited' })
  @ApiProduces('text/html')
  @ApiOkResponse({ description: 'The page, under a sandboxing Content-Security-Policy' })
  @ApiProblems(404, 410)
  async view(@Param('token') token: string, @Req() request: RequestWithActor, @Res({ passthrough: true }) response: Response) {
    const html = await this.sharing.view(request.actor, token, requestContext(request));
    response.set(RENDER_HEADERS);
    return html;
  }
}
