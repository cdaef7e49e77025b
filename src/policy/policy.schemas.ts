import { z } from 'zod';
import { IdSchema } from '../identity/identity.schemas.js';
import { ACTIONS, SUBJECTS } from './policy.types.js';

export const ActivePolicySchema = z
  .object({
    version: z.number().int(),
    hash: z.string().describe('SHA-256 (hex) of source'),
    source: z.string().describe('The bundle, YAML'),
    activatedAt: z.iso.datetime(),
    activatedBy: z.uuid().nullable(),
  })
  .meta({ id: 'ActivePolicy' });
export type ActivePolicyView = z.infer<typeof ActivePolicySchema>;

export const PolicyVersionSchema = z
  .object({
    version: z.number().int(),
    hash: z.string(),
    parentVersion: z.number().int().nullable(),
    createdBy: z.uuid().nullable(),
    createdAt: z.iso.datetime(),
    active: z.boolean(),
  })
  .meta({ id: 'PolicyVersion' });
export type PolicyVersionView = z.infer<typeof PolicyVersionSchema>;

export const DryRunSchema = z
  .object({
    dryRun: z.literal(true),
    valid: z.literal(true),
    hash: z.string(),
    rules: z.number().int(),
    /** Share links valid now that the new bundle would no longer allow. */
    wouldDeny: z.array(z.object({ shareId: z.uuid(), artifactId: z.uuid(), ruleId: z.string().nullable(), reason: z.string() })),
  })
  .meta({ id: 'PolicyDryRun' });

export const PutPolicyQuerySchema = z.strictObject({
  dryRun: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
});

export const VersionParamSchema = z.coerce.number().int().min(1);

const ShareSchema = z.strictObject({
  audience: z.enum(['link', 'org', 'team']),
  expiresInSeconds: z.number().int().min(1).nullable().default(null),
  pinned: z.boolean().default(false),
});

export const ExplainSchema = z
  .strictObject({
    actorId: IdSchema.optional(),
    action: z.enum(ACTIONS),
    resource: z.union([
      z.strictObject({ type: z.enum(SUBJECTS), id: IdSchema }),
      z.strictObject({ type: z.enum(SUBJECTS), attributes: z.record(z.string(), z.unknown()) }),
    ]),
    share: ShareSchema.optional(),
    source: z.string().min(1).max(1_000_000).optional(),
  })
  .meta({ id: 'ExplainRequest' });
export type ExplainBody = z.infer<typeof ExplainSchema>;

export const ExplanationSchema = z
  .object({
    allowed: z.boolean(),
    decidedBy: z.object({ ruleId: z.string(), effect: z.enum(['allow', 'deny']), reason: z.string() }).nullable(),
    reason: z.string(),
    version: z.string().describe('The active version number, or "draft" when `source` was given'),
    rules: z.array(z.object({ id: z.string(), effect: z.enum(['allow', 'deny']), applies: z.boolean(), matched: z.boolean() })),
  })
  .meta({ id: 'Explanation' });
