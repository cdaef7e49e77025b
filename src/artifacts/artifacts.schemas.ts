import { z } from 'zod';
import { IdSchema } from '../identity/identity.schemas.js';
import { ListQuerySchema } from '../common/pagination.js';
import { CONTENT_FORMATS } from './artifact-revision.entity.js';
import { CLASSIFICATIONS } from './artifact.entity.js';

export const MAX_CONTENT_BYTES = 5 * 1024 * 1024;
/** The kind rendered live from its run, with no stored content. */
export const RUN_SUMMARY = 'run-summary';

const Label = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9 ._:/-]{0,63}$/, 'must be 1–64 letters, digits, spaces, ".", "_", ":", "/" or "-"');
const LabelsSchema = z
  .array(Label)
  .max(50)
  .refine((labels) => new Set(labels).size === labels.length, 'must not repeat a label');
const TitleSchema = z.string().trim().min(1).max(200);

export const ContentSchema = z.strictObject({
  format: z.enum(CONTENT_FORMATS),
  body: z.string().refine((body) => Buffer.byteLength(body, 'utf8') <= MAX_CONTENT_BYTES, 'must be at most 5 MiB (UTF-8)'),
});

export const CreateArtifactSchema = z
  .strictObject({
    title: TitleSchema,
    kind: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'must be 1–64 lowercase letters, digits or "-"')
      .describe('Free text; the page knows `pr-walkthrough`, `explainer`, `dashboard`, `release-checklist`, `incident` and `run-summary`'),
    runId: IdSchema.optional(),
    teamId: IdSchema.optional(),
    classification: z.enum(CLASSIFICATIONS).default('internal'),
    labels: LabelsSchema.optional(),
    content: ContentSchema.optional(),
  })
  .superRefine((body, ctx) => {
    if (body.kind === RUN_SUMMARY) {
      if (!body.runId) ctx.addIssue({ code: 'custom', path: ['runId'], message: 'a run-summary artifact needs the run it summarises' });
      if (body.content) ctx.addIssue({ code: 'custom', path: ['content'], message: 'a run-summary artifact is rendered from its run and has no content' });
    } else if (!body.content) {
      ctx.addIssue({ code: 'custom', path: ['content'], message: 'is required (only a run-summary artifact has none)' });
    }
  })
  .meta({ id: 'CreateArtifactRequest' });
export type CreateArtifactBody = z.infer<typeof CreateArtifactSchema>;

export const UpdateContentSchema = ContentSchema.extend({ message: z.string().trim().min(1).max(1_000).optional() }).meta({ id: 'UpdateArtifactContentRequest' });
export type UpdateContentBody = z.infer<typeof UpdateContentSchema>;

export const PatchArtifactSchema = z
  .strictObject({ title: TitleSchema.optional(), classification: z.enum(CLASSIFICATIONS).optional(), labels: LabelsSchema.optional() })
  .refine((body) => Object.keys(body).length > 0, 'name at least one of title, classification, labels')
  .meta({ id: 'PatchArtifactRequest' });
export type PatchArtifactBody = z.infer<typeof PatchArtifactSchema>;

export const ArtifactSchema = z
  .object({
    id: z.uuid(),
    title: z.string(),
    kind: z.string(),
    runId: z.uuid().nullable(),
    teamId: z.uuid().nullable(),
    classification: z.enum(CLASSIFICATIONS),
    labels: z.array(z.string()),
    ownerId: z.uuid(),
    private: z.boolean().describe('A remix: only its owner, and whom policy lets manage the org, see it'),
    revision: z.number().int().describe('The latest revision; 0 for a run-summary, which has no stored content'),
    containsSecrets: z.boolean().describe('Whether the latest revision looks like it holds a credential'),
    remixedFrom: z.object({ artifactId: z.uuid(), revision: z.number().int() }).nullable(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: 'Artifact' });
export type ArtifactView = z.infer<typeof ArtifactSchema>;

export const RevisionSchema = z
  .object({
    revision: z.number().int(),
    format: z.enum(CONTENT_FORMATS),
    message: z.string().nullable(),
    containsSecrets: z.boolean(),
    secrets: z.array(z.object({ rule: z.string(), line: z.number().int() })).describe('What the secret scan found (rule and line, never the value)'),
    createdBy: z.uuid().describe("A member's id, or the run's id for its reporter token"),
    createdByType: z.enum(['user', 'agent']),
    createdAt: z.iso.datetime(),
  })
  .meta({ id: 'ArtifactRevision' });
export type RevisionView = z.infer<typeof RevisionSchema>;
export const RevisionWithBodySchema = RevisionSchema.extend({ body: z.string() }).meta({ id: 'ArtifactRevisionWithBody' });

export const ContentUpdatedSchema = z.object({ revision: z.number().int(), containsSecrets: z.boolean() }).meta({ id: 'ArtifactContentUpdated' });

export const ArtifactListQuerySchema = ListQuerySchema.extend({
  runId: IdSchema.optional(),
  teamId: IdSchema.optional(),
  kind: z.string().max(64).optional(),
  classification: z.enum(CLASSIFICATIONS).optional(),
  label: z.string().max(64).optional(),
}).strict();
export type ArtifactListQuery = z.infer<typeof ArtifactListQuerySchema>;

export const RevisionParamSchema = z.coerce.number({ message: 'must be a revision number' }).int().min(1).max(2_147_483_647);

export const RenderQuerySchema = z.strictObject({ revision: RevisionParamSchema.optional() });

export const RemixSchema = z
  .strictObject({ title: TitleSchema.optional(), revision: z.number().int().min(1).optional().describe('Default: the latest revision') })
  .meta({ id: 'RemixRequest' });
export type RemixBody = z.infer<typeof RemixSchema>;

const LineageEntry = z.object({
  artifactId: z.uuid(),
  title: z.string().nullable().describe('Null when the caller may not read it (another org, or a private remix)'),
  revision: z.number().int().nullable().describe('Ancestors: the revision the next one was remixed from; descendants: the revision of its parent it copied'),
});
export const LineageSchema = z.object({ ancestors: z.array(LineageEntry), descendants: z.array(LineageEntry) }).meta({ id: 'ArtifactLineage' });
