import semver from 'semver';
import { z } from 'zod';
import { ListQuerySchema } from '../common/pagination.js';
import { RISKS } from './tool.entity.js';

/** Tool and skill names: what a node names in `skill: "name@version"`, so no `@`. */
export const NameSchema = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,99}$/, 'must be 1–100 lowercase letters, digits, ".", "_" or "-"');
export const VersionSchema = z
  .string()
  .max(100)
  .refine((v) => semver.valid(v) !== null, 'must be a semantic version such as 1.2.3')
  .transform((v) => semver.valid(v)!);

export const CreateToolSchema = z
  .strictObject({ name: NameSchema, description: z.string().trim().min(1).max(2000), risk: z.enum(RISKS) })
  .meta({ id: 'CreateToolRequest' });
export type CreateToolBody = z.infer<typeof CreateToolSchema>;

export const ToolSchema = z
  .object({ id: z.uuid(), name: z.string(), description: z.string(), risk: z.enum(RISKS), createdBy: z.uuid(), createdAt: z.iso.datetime() })
  .meta({ id: 'Tool' });
export type ToolView = z.infer<typeof ToolSchema>;

export const CreateSkillSchema = z
  .strictObject({
    name: NameSchema,
    version: VersionSchema,
    description: z.string().trim().min(1).max(2000),
    tools: z.array(NameSchema).max(100).default([]),
    inputSchema: z.record(z.string(), z.unknown()).optional().describe('JSON Schema of the skill input'),
  })
  .meta({ id: 'CreateSkillRequest' });
export type CreateSkillBody = z.infer<typeof CreateSkillSchema>;

export const SkillSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    version: z.string(),
    description: z.string(),
    tools: z.array(z.object({ name: z.string(), risk: z.enum(RISKS) })),
    maxToolRisk: z.enum(RISKS).nullable(),
    inputSchema: z.record(z.string(), z.unknown()).nullable(),
    createdBy: z.uuid(),
    createdAt: z.iso.datetime(),
  })
  .meta({ id: 'Skill' });
export type SkillView = z.infer<typeof SkillSchema>;

export const SkillListQuerySchema = ListQuerySchema.extend({ name: NameSchema.optional() }).strict();
