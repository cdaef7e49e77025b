import { Inject, Injectable } from '@nestjs/common';
import semver from 'semver';
import { DataSource, In } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import { newId } from '../common/ids.js';
import { decodeCursor, orgPageById, toPage, type Page } from '../common/pagination.js';
import { AppError, ConflictError, NotFoundError } from '../common/problem.js';
import type { UserActor } from '../identity/actor.js';
import { IdSchema } from '../identity/identity.schemas.js';
import { queryBuilderBinder, type SqlAttributes } from '../policy/policy-sql.js';
import { PolicyService } from '../policy/policy.service.js';
import { Skill } from './skill.entity.js';
import type { CreateSkillBody, CreateToolBody, SkillView, ToolView } from './skills.schemas.js';
import { RISKS, Tool, type Risk } from './tool.entity.js';

export function toolView(tool: Tool): ToolView {
  return { id: tool.id, name: tool.name, description: tool.description, risk: tool.risk, createdBy: tool.createdBy, createdAt: tool.createdAt.toISOString() };
}

const maxRisk = (tools: { risk: Risk }[]): Risk | null =>
  tools.reduce<Risk | null>((max, t) => (max === null || RISKS.indexOf(t.risk) > RISKS.indexOf(max) ? t.risk : max), null);

export function skillView(skill: Skill): SkillView {
  const tools = (skill.tools ?? []).map((t) => ({ name: t.name, risk: t.risk })).sort((a, b) => a.name.localeCompare(b.name));
  return {
    id: skill.id,
    name: skill.name,
    version: skill.version,
    description: skill.description,
    tools,
    maxToolRisk: maxRisk(tools),
    inputSchema: skill.inputSchema,
    createdBy: skill.createdBy,
    createdAt: skill.createdAt.toISOString(),
  };
}

/** What policy conditions on a Skill may name. */
function skillAttributes(orgId: string, actorId: string, name: string, version: string, tools: Tool[]): Record<string, unknown> {
  return { orgId, name, version, createdBy: actorId, tools: tools.map((t) => t.name).sort(), maxToolRisk: maxRisk(tools) };
}

/** What policy conditions on a Tool may name, as SQL over a query's `r` alias (rulesToSql). */
export const TOOL_SQL_ATTRIBUTES: SqlAttributes = {
  id: { type: 'text', sql: 'r.id', uuid: true },
  orgId: { type: 'text', sql: 'r.org_id', uuid: true },
  name: { type: 'text', sql: 'r.name' },
  risk: { type: 'text', sql: 'r.risk' },
  createdBy: { type: 'text', sql: 'r.created_by', uuid: true },
};

/**
 * What policy conditions on a stored Skill may name (skillAttributes plus its
 * id), as SQL over a query's `s` alias: tool names sorted as skillAttributes
 * sorts them, the highest risk in RISKS' order, null without tools.
 */
export const SKILL_SQL_ATTRIBUTES: SqlAttributes = {
  id: { type: 'text', sql: 's.id', uuid: true },
  orgId: { type: 'text', sql: 's.org_id', uuid: true },
  name: { type: 'text', sql: 's.name' },
  version: { type: 'text', sql: 's.version' },
  createdBy: { type: 'text', sql: 's.created_by', uuid: true },
  tools: { type: 'text[]', sql: `ARRAY(SELECT t.name FROM skill_tools st JOIN tools t ON t.id = st.tool_id WHERE st.skill_id = s.id ORDER BY t.name COLLATE "C")` },
  maxToolRisk: {
    type: 'text',
    nullable: true,
    sql: `(SELECT (ARRAY[${RISKS.map((r) => `'${r}'`).join(', ')}])[max(array_position(ARRAY[${RISKS.map((r) => `'${r}'`).join(', ')}], t.risk))] FROM skill_tools st JOIN tools t ON t.id = st.tool_id WHERE st.skill_id = s.id)`,
  },
};

/** Tools and immutable, versioned skills of an org. */
@Injectable()
export class SkillsService {
  constructor(
    @Inject(DataSource) private readonly db: DataSource,
    @Inject(PolicyService) private readonly policy: PolicyService,
    @Inject(AuditService) private readonly audit: AuditService,
  ) {}

  async createTool(actor: UserActor, body: CreateToolBody): Promise<Tool> {
    return this.db.transaction(async (manager) => {
      const tool = manager.getRepository(Tool).create({ id: newId(), orgId: actor.orgId, ...body, createdBy: actor.id });
      const decision = await this.policy.assert(actor, 'create', 'Tool', { orgId: actor.orgId, name: body.name, risk: body.risk, createdBy: actor.id });
      await manager.getRepository(Tool).insert(tool);
      await this.audit.record(manager, { orgId: actor.orgId, actor, action: 'tool.create', resource: { type: 'Tool', id: tool.id }, policy: decision, details: { name: tool.name, risk: tool.risk } });
      return manager.getRepository(Tool).findOneByOrFail({ id: tool.id });
    });
  }

  async listTools(actor: UserActor, limit: number, cursor?: string): Promise<Page<ToolView>> {
    return orgPageById(this.db.getRepository(Tool), actor.orgId, limit, cursor, toolView, async (qb) => {
      qb.andWhere(await this.policy.readFilter(actor, 'Tool', TOOL_SQL_ATTRIBUTES, queryBuilderBinder(qb)));
    });
  }

  /** A name+version is immutable: posting it again is 409 `conflict`. */
  async createSkill(actor: UserActor, body: CreateSkillBody): Promise<Skill> {
    return this.db.transaction(async (manager) => {
      const names = [...new Set(body.tools)];
      const tools = names.length ? await manager.getRepository(Tool).findBy({ orgId: actor.orgId, name: In(names) }) : [];
      const known = new Set(tools.map((t) => t.name));
      const unknown = body.tools.flatMap((name, i) => (known.has(name) ? [] : [{ path: `tools.${i}`, message: `no tool named "${name}" in this org` }]));
      if (unknown.length) throw new AppError(400, 'validation_failed', 'Invalid request', 'The skill names tools this org does not have', unknown);
      // Who may register a skill depends on the tools it uses (e.g. high-risk tools: admins only).
      const decision = await this.policy.assert(actor, 'create', 'Skill', skillAttributes(actor.orgId, actor.id, body.name, body.version, tools));
      const existing = await manager.getRepository(Skill).findOneBy({ orgId: actor.orgId, name: body.name, version: body.version });
      if (existing) throw new ConflictError(`Skill ${body.name}@${body.version} exists already; versions are immutable, publish a new version`);
      const skill = manager.getRepository(Skill).create({
        id: newId(),
        orgId: actor.orgId,
        name: body.name,
        version: body.version,
        description: body.description,
        inputSchema: body.inputSchema ?? null,
        createdBy: actor.id,
        tools,
      });
      await manager.getRepository(Skill).save(skill);
      await this.audit.record(manager, {
        orgId: actor.orgId,
        actor,
        action: 'skill.create',
        resource: { type: 'Skill', id: skill.id },
        policy: decision,
        details: { name: skill.name, version: skill.version, tools: names.sort(), maxToolRisk: maxRisk(tools) },
      });
      return manager.getRepository(Skill).findOneOrFail({ where: { id: skill.id }, relations: { tools: true } });
    });
  }

  /** One page of skills, every version, by name then id. */
  async listSkills(actor: UserActor, limit: number, cursor?: string, name?: string): Promise<Page<SkillView>> {
    const after = decodeCursor(cursor, IdSchema);
    const qb = this.db.getRepository(Skill).createQueryBuilder('s').select('s.id', 'id').where('s.org_id = :orgId', { orgId: actor.orgId }).orderBy('s.id').limit(limit + 1);
    if (name) qb.andWhere('s.name = :name', { name });
    if (after) qb.andWhere('s.id > :after', { after });
    qb.andWhere(await this.policy.readFilter(actor, 'Skill', SKILL_SQL_ATTRIBUTES, queryBuilderBinder(qb)));
    const ids = (await qb.getRawMany<{ id: string }>()).map((r) => r.id);
    const skills = ids.length ? await this.db.getRepository(Skill).find({ where: { id: In(ids) }, relations: { tools: true }, order: { id: 'ASC' } }) : [];
    return toPage(skills, limit, skillView, (s) => s.id);
  }

  /** `name` alone: the highest release, as npm's `latest` would be; pre-releases only when there is no release. */
  async resolve(orgId: string, name: string, version?: string): Promise<Skill | null> {
    const repo = this.db.getRepository(Skill);
    if (version !== undefined) return repo.findOne({ where: { orgId, name, version }, relations: { tools: true } });
    const versions = await repo.find({ select: { id: true, version: true }, where: { orgId, name } });
    if (versions.length === 0) return null;
    const releases = versions.filter((v) => semver.prerelease(v.version) === null);
    const latest = (releases.length ? releases : versions).reduce((best, v) => (semver.gt(v.version, best.version) ? v : best));
    return repo.findOne({ where: { id: latest.id }, relations: { tools: true } });
  }

  async get(actor: UserActor, name: string, version?: string): Promise<Skill> {
    const skill = await this.resolve(actor.orgId, name, version);
    if (!skill) throw new NotFoundError('Skill', version ? `${name}@${version}` : name);
    return skill;
  }
}
