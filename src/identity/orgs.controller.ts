import { Body, Controller, Inject, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiProblem, ApiProblems, PASSWORD_HASHING_503 } from '../common/openapi.decorators.js';
import { Authorize } from '../policy/authorize.decorator.js';
import type { UserActor } from './actor.js';
import { CurrentActor } from './current-actor.decorator.js';
import { CreateOrgSchema, OrgSchema, type CreateOrgBody } from './identity.schemas.js';
import { OrgsService } from './orgs.service.js';

@ApiTags('identity')
@ApiBearerAuth()
@Controller('api/v1/orgs')
export class OrgsController {
  constructor(@Inject(OrgsService) private readonly orgs: OrgsService) {}

  @Post()
  @Authorize('create', 'Org')
  @ApiOperation({ summary: 'Create an org and its first admin (installation admin only)' })
  @ApiCreatedResponse({ standardSchema: OrgSchema })
  @ApiProblems(400, 401, 403, 409, 413)
  @ApiProblem(503, PASSWORD_HASHING_503)
  create(@CurrentActor() actor: UserActor, @Body({ schema: CreateOrgSchema }) body: CreateOrgBody) {
    return this.orgs.create(actor, body);
  }
}
