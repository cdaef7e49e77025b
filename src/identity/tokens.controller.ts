import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiProblems } from '../common/openapi.decorators.js';
import { decodeCursor, ListQuerySchema, PageSchema, toPage, type ListQuery } from '../common/pagination.js';
import { NO_REQUEST } from '../common/request-context.js';
import { SelfService } from '../policy/authorize.decorator.js';
import type { UserActor } from './actor.js';
import { AuthService, tokenView } from './auth.service.js';
import { CurrentActor } from './current-actor.decorator.js';
import { CreatedTokenSchema, CreateTokenSchema, IdSchema, TokenSchema, type CreateTokenBody } from './identity.schemas.js';

/** The caller's own personal access tokens. */
@ApiTags('identity')
@ApiBearerAuth()
@SelfService()
@Controller('api/v1/tokens')
export class TokensController {
  constructor(@Inject(AuthService) private readonly auth: AuthService) {}

  @Get()
  @ApiOperation({ summary: "List the caller's tokens, newest first (never their secrets)" })
  @ApiOkResponse({ standardSchema: PageSchema(TokenSchema) })
  @ApiProblems(400, 401)
  async list(@CurrentActor() actor: UserActor, @Query({ schema: ListQuerySchema }) query: ListQuery) {
    const rows = await this.auth.listTokens(actor, query.limit, decodeCursor(query.cursor, IdSchema));
    return toPage(rows, query.limit, tokenView, (t) => t.id);
  }

  @Post()
  @ApiOperation({ summary: 'Create a token for the caller; the token is shown once' })
  @ApiCreatedResponse({ standardSchema: CreatedTokenSchema })
  @ApiProblems(400, 401, 413)
  create(@CurrentActor() actor: UserActor, @Body({ schema: CreateTokenSchema }) body: CreateTokenBody) {
    return this.auth.createToken({ id: actor.id, orgId: actor.orgId, name: actor.name }, body.name, body.expiresInSeconds, actor.via, actor.context ?? NO_REQUEST);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Revoke a token at once' })
  @ApiNoContentResponse({ description: 'Revoked' })
  @ApiProblems(400, 401, 404)
  async revoke(@CurrentActor() actor: UserActor, @Param('id', { schema: IdSchema }) id: string): Promise<void> {
    await this.auth.revokeToken(actor, id);
  }
}
