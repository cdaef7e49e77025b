import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiProblems } from '../common/openapi.decorators.js';
import { ListQuerySchema, PageSchema, type ListQuery } from '../common/pagination.js';
import { Authorize } from '../policy/authorize.decorator.js';
import type { UserActor } from './actor.js';
import { CurrentActor } from './current-actor.decorator.js';
import { IdSchema, TeamBodySchema, TeamSchema, type TeamBody } from './identity.schemas.js';
import { TeamsService, teamView } from './teams.service.js';

@ApiTags('identity')
@ApiBearerAuth()
@Controller('api/v1/teams')
export class TeamsController {
  constructor(@Inject(TeamsService) private readonly teams: TeamsService) {}

  @Get()
  @Authorize('read', 'Team')
  @ApiOperation({ summary: "List the org's teams" })
  @ApiOkResponse({ standardSchema: PageSchema(TeamSchema) })
  @ApiProblems(400, 401, 403)
  list(@CurrentActor() actor: UserActor, @Query({ schema: ListQuerySchema }) query: ListQuery) {
    return this.teams.list(actor, query.limit, query.cursor);
  }

  @Get(':id')
  @Authorize('read', 'Team')
  @ApiOperation({ summary: 'One team' })
  @ApiOkResponse({ standardSchema: TeamSchema })
  @ApiProblems(400, 401, 403, 404)
  async get(@CurrentActor() actor: UserActor, @Param('id', { schema: IdSchema }) id: string) {
    return teamView(await this.teams.get(actor, id));
  }

  @Post()
  @Authorize('create', 'Team')
  @ApiOperation({ summary: 'Create a team' })
  @ApiCreatedResponse({ standardSchema: TeamSchema })
  @ApiProblems(400, 401, 403, 409, 413)
  async create(@CurrentActor() actor: UserActor, @Body({ schema: TeamBodySchema }) body: TeamBody) {
    return teamView(await this.teams.create(actor, body));
  }

  @Patch(':id')
  @Authorize('update', 'Team')
  @ApiOperation({ summary: 'Rename a team' })
  @ApiOkResponse({ standardSchema: TeamSchema })
  @ApiProblems(400, 401, 403, 404, 409, 413)
  async update(@CurrentActor() actor: UserActor, @Param('id', { schema: IdSchema }) id: string, @Body({ schema: TeamBodySchema }) body: TeamBody) {
    return teamView(await this.teams.rename(actor, id, body));
  }

  @Delete(':id')
  @Authorize('delete', 'Team')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a team (its members stay, without it)' })
  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiProblems(400, 401, 403, 404)
  async remove(@CurrentActor() actor: UserActor, @Param('id', { schema: IdSchema }) id: string): Promise<void> {
    await this.teams.remove(actor, id);
  }
}
