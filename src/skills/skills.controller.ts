import { Body, Controller, Get, Inject, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { z } from 'zod';
import { ApiProblems } from '../common/openapi.decorators.js';
import { ListQuerySchema, PageSchema, type ListQuery } from '../common/pagination.js';
import type { UserActor } from '../identity/actor.js';
import { CurrentActor } from '../identity/current-actor.decorator.js';
import { Authorize } from '../policy/authorize.decorator.js';
import {
  CreateSkillSchema,
  CreateToolSchema,
  NameSchema,
  SkillListQuerySchema,
  SkillSchema,
  ToolSchema,
  VersionSchema,
  type CreateSkillBody,
  type CreateToolBody,
} from './skills.schemas.js';
import { SkillsService, skillView, toolView } from './skills.service.js';

@ApiTags('skills')
@ApiBearerAuth()
@Controller('api/v1')
export class SkillsController {
  constructor(@Inject(SkillsService) private readonly skills: SkillsService) {}

  @Post('tools')
  @Authorize('create', 'Tool')
  @ApiOperation({ summary: 'Register a tool agents may call, with its risk' })
  @ApiCreatedResponse({ standardSchema: ToolSchema })
  @ApiProblems(400, 401, 403, 409, 413)
  async createTool(@CurrentActor() actor: UserActor, @Body({ schema: CreateToolSchema }) body: CreateToolBody) {
    return toolView(await this.skills.createTool(actor, body));
  }

  @Get('tools')
  @Authorize('read', 'Tool')
  @ApiOperation({ summary: "The org's tools" })
  @ApiOkResponse({ standardSchema: PageSchema(ToolSchema) })
  @ApiProblems(400, 401, 403)
  listTools(@CurrentActor() actor: UserActor, @Query({ schema: ListQuerySchema }) query: ListQuery) {
    return this.skills.listTools(actor, query.limit, query.cursor);
  }

  @Post('skills')
  @Authorize('create', 'Skill')
  @ApiOperation({ summary: 'Register a skill version; name+version is immutable (posting it again is 409)' })
  @ApiCreatedResponse({ standardSchema: SkillSchema })
  @ApiProblems(400, 401, 403, 409, 413)
  async createSkill(@CurrentActor() actor: UserActor, @Body({ schema: CreateSkillSchema }) body: CreateSkillBody) {
    return skillView(await this.skills.createSkill(actor, body));
  }

  @Get('skills')
  @Authorize('read', 'Skill')
  @ApiOperation({ summary: "The org's skills, every version; `?name=` narrows to one skill" })
  @ApiOkResponse({ standardSchema: PageSchema(SkillSchema) })
  @ApiProblems(400, 401, 403)
  listSkills(@CurrentActor() actor: UserActor, @Query({ schema: SkillListQuerySchema }) query: z.infer<typeof SkillListQuerySchema>) {
    return this.skills.listSkills(actor, query.limit, query.cursor, query.name);
  }

  @Get('skills/:name')
  @Authorize('read', 'Skill')
  @ApiOperation({ summary: 'The latest version of a skill: the highest release (a pre-release only when there is no release)' })
  @ApiOkResponse({ standardSchema: SkillSchema })
  @ApiProblems(400, 401, 403, 404)
  async latest(@CurrentActor() actor: UserActor, @Param('name', { schema: NameSchema }) name: string) {
    return skillView(await this.skills.get(actor, name));
  }

  @Get('skills/:name/versions/:version')
  @Authorize('read', 'Skill')
  @ApiOperation({ summary: 'One version of a skill' })
  @ApiOkResponse({ standardSchema: SkillSchema })
  @ApiProblems(400, 401, 403, 404)
  async version(
    @CurrentActor() actor: UserActor,
    @Param('name', { schema: NameSchema }) name: string,
    @Param('version', { schema: VersionSchema }) version: string,
  ) {
    return skillView(await this.skills.get(actor, name, version));
  }
}
