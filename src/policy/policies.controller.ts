import { Body, Controller, createParamDecorator, Get, HttpCode, Inject, Param, Post, Put, Query, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { ApiBearerAuth, ApiBody, ApiConsumes, ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { ApiProblems } from '../common/openapi.decorators.js';
import { decodeCursor, encodeCursor, ListQuerySchema, PageSchema, type ListQuery } from '../common/pagination.js';
import type { UserActor } from '../identity/actor.js';
import { CurrentActor } from '../identity/current-actor.decorator.js';
import { memberAsPolicyActor, MembersService } from '../identity/members.service.js';
import { z } from 'zod';
import { Authorize } from './authorize.decorator.js';
import { CompiledPolicy } from './policy-engine.js';
import { PolicyResources } from './policy-resources.js';
import { parseBundle, PolicyVersionsService } from './policy-versions.service.js';
import {
  ActivePolicySchema,
  DryRunSchema,
  ExplainSchema,
  ExplanationSchema,
  PolicyVersionSchema,
  PutPolicyQuerySchema,
  VersionParamSchema,
  type ExplainBody,
} from './policy.schemas.js';
import { PolicyService, policyActor } from './policy.service.js';

/**
 * The body as parsed, every key kept: the request pipe strips `__proto__`,
 * `constructor` and `prototype`, which in a bundle would silently widen a rule;
 * parseBundle refuses them instead.
 */
const BundleBody = createParamDecorator((_data: unknown, context: ExecutionContext): unknown => context.switchToHttp().getRequest<Request>().body);

@ApiTags('policies')
@ApiBearerAuth()
@Controller('api/v1/policies')
export class PoliciesController {
  constructor(
    @Inject(PolicyVersionsService) private readonly versions: PolicyVersionsService,
    @Inject(PolicyService) private readonly policy: PolicyService,
    @Inject(MembersService) private readonly members: MembersService,
    @Inject(PolicyResources) private readonly resources: PolicyResources,
  ) {}

  @Get()
  @Authorize('read', 'Policy')
  @ApiOperation({ summary: "The org's active policy bundle" })
  @ApiOkResponse({ standardSchema: ActivePolicySchema })
  @ApiProblems(401, 403)
  active(@CurrentActor() actor: UserActor) {
    return this.versions.active(actor.orgId);
  }

  @Put()
  @HttpCode(200)
  @Authorize('update', 'Policy')
  @ApiOperation({
    summary: 'Validate and activate a new bundle version',
    description:
      'Body: the bundle as `application/yaml` text, or as an `application/json` object. A bundle may nest at most 64 levels of maps and lists (400 `policy_invalid` naming where). A bundle under which no active admin could update Policy any more is refused (409 `policy_lockout`). Activating it revokes, in the same transaction, every valid link `publish` would now deny (audited as `share.revoke` by the system, `revokedReason` naming the rule). With `?dryRun=true` the bundle is only checked, lockout included, and the answer lists exactly the links activation would revoke; nothing is stored.',
  })
  @ApiQuery({ name: 'dryRun', required: false, schema: { type: 'boolean' } })
  @ApiConsumes('application/yaml', 'application/json')
  @ApiBody({
    description: 'YAML text (application/yaml) or the bundle object (application/json): `{rules: [{id, effect, roles?, actions, subject, conditions?, reason}]}`',
    schema: { oneOf: [{ type: 'string' }, { type: 'object', properties: { rules: { type: 'array', items: { type: 'object' } } }, required: ['rules'] }] },
  })
  @ApiOkResponse({ description: 'The new active version, or the dry-run report', standardSchema: z.union([ActivePolicySchema, DryRunSchema]) })
  @ApiProblems(400, 401, 403, 409, 413)
  async put(@CurrentActor() actor: UserActor, @Query({ schema: PutPolicyQuerySchema }) query: z.infer<typeof PutPolicyQuerySchema>, @BundleBody() body: unknown) {
    const loaded = parseBundle(body);
    if (query.dryRun) {
      const wouldDeny = await this.versions.dryRun(actor, loaded);
      return { dryRun: true as const, valid: true as const, hash: loaded.hash, rules: loaded.bundle.rules.length, wouldDeny };
    }
    return this.versions.put(actor, loaded);
  }

  @Get('versions')
  @Authorize('read', 'Policy')
  @ApiOperation({ summary: 'Every stored version, newest first' })
  @ApiOkResponse({ standardSchema: PageSchema(PolicyVersionSchema) })
  @ApiProblems(400, 401, 403)
  async list(@CurrentActor() actor: UserActor, @Query({ schema: ListQuerySchema }) query: ListQuery) {
    const before = decodeCursor(query.cursor, z.number().int().min(1));
    const { rows, more } = await this.versions.list(actor.orgId, query.limit, before);
    return { items: rows, nextCursor: more ? encodeCursor(rows[rows.length - 1]!.version) : null };
  }

  @Post('versions/:version/activate')
  @HttpCode(200)
  @Authorize('update', 'Policy')
  @ApiOperation({
    summary: 'Roll back: make a stored version active again (no new version is made)',
    description: 'Refused with 409 `policy_lockout` when no active admin could update Policy under that version. Revokes, in the same transaction, every valid link that version does not allow.',
  })
  @ApiOkResponse({ standardSchema: ActivePolicySchema })
  @ApiProblems(400, 401, 403, 404, 409)
  activate(@CurrentActor() actor: UserActor, @Param('version', { schema: VersionParamSchema }) version: number) {
    return this.versions.activate(actor, version);
  }

  @Post('explain')
  @HttpCode(200)
  @Authorize('read', 'Policy')
  @ApiOperation({ summary: 'Why an actor may or may not do an action: the deciding rule and every rule considered' })
  @ApiOkResponse({ standardSchema: ExplanationSchema })
  @ApiProblems(400, 401, 403, 404, 413)
  async explain(@CurrentActor() actor: UserActor, @Body({ schema: ExplainSchema }) body: ExplainBody) {
    const target = body.actorId ? memberAsPolicyActor(await this.members.get(actor, body.actorId)) : policyActor(actor);
    let attributes = 'attributes' in body.resource ? body.resource.attributes : await this.resources.attributesOf(actor, body.resource.type, body.resource.id);
    if (body.share) attributes = { ...attributes, share: body.share };
    const draft = body.source ? new CompiledPolicy('draft', parseBundle(body.source).bundle) : undefined;
    const explanation = await this.policy.explain(actor, target, body.action, body.resource.type, attributes, draft);
    return {
      allowed: explanation.allowed,
      decidedBy: explanation.decidedBy,
      reason: explanation.reason,
      version: explanation.version,
      rules: explanation.rules,
    };
  }
}
