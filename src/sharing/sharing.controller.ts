import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Query, Req, Res, ServiceUnavailableException } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiProduces, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { RENDER_HEADERS } from '../artifacts/render.js';
import { Public } from '../identity/public.decorator.js';
import type { RequestWithActor } from '../identity/actor.js';
import { ArtifactSchema, RemixSchema, type RemixBody } from '../artifacts/artifacts.schemas.js';
import { ApiProblems } from '../common/openapi.decorators.js';
import { AppError } from '../common/problem.js';
import { PROBLEM_CONTENT_TYPE } from '../common/problem.filter.js';
import { ListQuerySchema, PageSchema, type ListQuery } from '../common/pagination.js';
import { requestContext } from '../common/request-context.js';
import { APP_CONFIG, type AppConfig } from '../config/config.schema.js';
import type { Actor, UserActor } from '../identity/actor.js';
import { CurrentActor } from '../identity/current-actor.decorator.js';
import { IdSchema } from '../identity/identity.schemas.js';
import { Authorize } from '../policy/authorize.decorator.js';
import { pageHeaders, pageShell, shellWithMeta } from '../web/web-assets.js';
import { CreatedShareSchema, CreateShareSchema, ShareContentQuerySchema, ShareSchema, ShareTokenSchema, type CreateShareBody, type ShareContentQuery } from './sharing.schemas.js';
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

/** The problem answers of the viewer page: for a browser (`Accept` naming `text/html`), the page itself with that status (it shows the state); problem+json for any other client. */
const PageOrProblem = (status: 404 | 410, description: string) =>
  ApiResponse({ status, description, content: { 'text/html': { schema: { type: 'string' } }, [PROBLEM_CONTENT_TYPE]: { schema: { $ref: '#/components/schemas/Problem' } } } });

/** Share links, outside the API: what a browser opens. */
@ApiTags('sharing')
@Controller('s')
export class ShareViewController {
  constructor(@Inject(SharingService) private readonly sharing: SharingService) {}

  @Get(':token')
  @Public()
  @ApiOperation({
    summary: 'The viewer page of a link, no account needed (org and team shares need a signed-in member); each load is one view, counted and audited',
    description:
      'The page app (the same shell as `/`), told in `<meta name="vitrine-share" content="{json}">` what the link serves: `{state: "valid", token, share: {id, audience, revision, expiresAt}, artifact: {title, kind, revision}, sharedBy, ticket, now}`, or `{state: "not_found" | "revoked" | "expired", token, now}` with status 404 or 410. ' +
      'The page shows the content from `GET /s/{token}/content?ticket=…` in an `<iframe sandbox="allow-scripts">`: the ticket proves this view was counted, so the frame is not counted again. ' +
      'The page follows a live link through `/live` (`subscribe {share: token}`) and says "revoked" or "expired" when that happens.',
  })
  @ApiProduces('text/html', PROBLEM_CONTENT_TYPE)
  @ApiOkResponse({ description: 'The viewer page, under the page Content-Security-Policy; never stored by caches (it carries a view ticket)' })
  @PageOrProblem(404, 'For a browser the page, else a problem: `not_found`: unknown link, or an org or team share and the caller is not signed in as a member of it')
  @PageOrProblem(410, 'For a browser the page, else a problem: `share_revoked` or `share_expired`')
  async page(@Param('token') token: string, @Req() request: RequestWithActor, @Res() response: Response): Promise<void> {
    const shell = pageShell();
    if (shell === undefined) throw new ServiceUnavailableException('The page is not built: run `npm run build`.');
    const now = new Date().toISOString();
    let status = 200;
    let meta: Record<string, unknown>;
    try {
      meta = { state: 'valid', token, ...(await this.sharing.viewPage(request.actor, token, requestContext(request))), now };
    } catch (error) {
      // A browser (which names text/html in Accept) gets the page, which says what happened; any
      // other client, curl's */* and no Accept at all included, the problem document.
      const gone = error instanceof AppError && (error.status === 404 || error.status === 410);
      const browser = /\btext\/html\b/.test(request.get('accept') ?? '') && request.accepts(['html', PROBLEM_CONTENT_TYPE, 'json']) === 'html';
      if (!gone || !browser) throw error;
      status = error.status;
      meta = { state: error.status === 404 ? 'not_found' : error.code === 'share_expired' ? 'expired' : 'revoked', token, now };
    }
    const headers = { ...pageHeaders(`${request.protocol}://${request.get('host')}`), 'Cache-Control': 'no-store' };
    response.status(status).set(headers).send(shellWithMeta(shell, 'vitrine-share', meta));
  }

  @Get(':token/content')
  @Public()
  @ApiOperation({
    summary: 'What a link serves, as a self-contained page under the render CSP: the viewer page’s frame',
    description:
      "A pinned link's revision, else the artifact's latest. Served under `Content-Security-Policy: sandbox allow-scripts; default-src 'none'; script-src 'unsafe-inline'; …`: its inline scripts run as an opaque origin that reaches neither Vitrine's cookies, DOM nor API, and nothing outside the page is loaded. " +
      'With the `ticket` of the viewer page that counted its view, this is that view; without a valid one, this request is a view of its own, counted and audited.',
  })
  @ApiProduces('text/html')
  @ApiOkResponse({ description: 'The page, under the render Content-Security-Policy (sandbox allow-scripts, no network)' })
  @ApiProblems(400, 404, 410)
  async content(
    @Param('token') token: string,
    @Query({ schema: ShareContentQuerySchema }) query: ShareContentQuery,
    @Req() request: RequestWithActor,
    @Res({ passthrough: true }) response: Response,
  ): Promise<string> {
    const html = await this.sharing.content(request.actor, token, query, requestContext(request));
    response.set(RENDER_HEADERS);
    return html;
  }
}
