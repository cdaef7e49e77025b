import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { z } from 'zod';
import { ApiProblem, ApiProblems, PASSWORD_HASHING_503 } from '../common/openapi.decorators.js';
import { PageSchema } from '../common/pagination.js';
import { Authorize } from '../policy/authorize.decorator.js';
import type { UserActor } from './actor.js';
import { CurrentActor } from './current-actor.decorator.js';
import {
  CreateMemberSchema,
  IdSchema,
  MemberListQuerySchema,
  MemberSchema,
  UpdateMemberSchema,
  type CreateMemberBody,
  type UpdateMemberBody,
} from './identity.schemas.js';
import { MembersService, memberView } from './members.service.js';

@ApiTags('identity')
@ApiBearerAuth()
@Controller('api/v1/members')
export class MembersController {
  constructor(@Inject(MembersService) private readonly members: MembersService) {}

  @Get()
  @Authorize('read', 'Member')
  @ApiOperation({ summary: "List the org's members" })
  @ApiOkResponse({ standardSchema: PageSchema(MemberSchema) })
  @ApiProblems(400, 401, 403)
  list(@CurrentActor() actor: UserActor, @Query({ schema: MemberListQuerySchema }) query: z.infer<typeof MemberListQuerySchema>) {
    return this.members.list(actor, query.limit, query.cursor, query.includeDeactivated);
  }

  @Get(':id')
  @Authorize('read', 'Member')
  @ApiOperation({ summary: 'One member' })
  @ApiOkResponse({ standardSchema: MemberSchema })
  @ApiProblems(400, 401, 403, 404)
  async get(@CurrentActor() actor: UserActor, @Param('id', { schema: IdSchema }) id: string) {
    return memberView(await this.members.get(actor, id));
  }

  @Post()
  @Authorize('create', 'Member')
  @ApiOperation({ summary: 'Add a member to the org' })
  @ApiCreatedResponse({ standardSchema: MemberSchema })
  @ApiProblems(400, 401, 403, 409, 413)
  @ApiProblem(503, PASSWORD_HASHING_503)
  async create(@CurrentActor() actor: UserActor, @Body({ schema: CreateMemberSchema }) body: CreateMemberBody) {
    return memberView(await this.members.create(actor, body));
  }

  @Patch(':id')
  @Authorize('update', 'Member')
  @ApiOperation({ summary: "Change a member's name, password, role or teams" })
  @ApiOkResponse({ standardSchema: MemberSchema })
  @ApiProblems(400, 401, 403, 404, 409, 413)
  @ApiProblem(503, PASSWORD_HASHING_503)
  async update(
    @CurrentActor() actor: UserActor,
    @Param('id', { schema: IdSchema }) id: string,
    @Body({ schema: UpdateMemberSchema }) body: UpdateMemberBody,
  ) {
    return memberView(await this.members.update(actor, id, body));
  }

  @Delete(':id')
  @Authorize('delete', 'Member')
  @HttpCode(204)
  @ApiOperation({ summary: 'Deactivate a member: no more logins, every token and session revoked' })
  @ApiNoContentResponse({ description: 'Deactivated' })
  @ApiProblems(400, 401, 403, 404, 409)
  async remove(@CurrentActor() actor: UserActor, @Param('id', { schema: IdSchema }) id: string): Promise<void> {
    await this.members.deactivate(actor, id);
  }
}
