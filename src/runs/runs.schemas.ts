import { z } from 'zod';
import { TimestampSchema } from '../common/timestamp.js';
import { IdSchema } from '../identity/identity.schemas.js';
import { ListQuerySchema } from '../common/pagination.js';
import { NODE_STATUSES } from './run-node.entity.js';
import { RUN_STATUSES } from './run.entity.js';

/** A run's status, as other modules name it (they do not reach into the entity). */
export type { RunStatus } from './run.entity.js';

export const MAX_NODES = 2_000;
export const MAX_EVENTS = 1_000;
export const MAX_OUTPUT_BYTES = 64 * 1024;
export const EVENT_TYPES = ['started', 'progress', 'log', 'heartbeat', 'succeeded', 'failed', 'skipped'] as const;
export type EventType = (typeof EVENT_TYPES)[number];
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

export const NodeKeySchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'must be 1–100 letters, digits, ".", "_" or "-"');
const SkillRefSchema = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,99}(@[0-9A-Za-z.+-]{1,100})?$/, 'must be "name" or "name@version"');
const labelKey = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$/, 'must be 1–64 letters, digits, ".", "_", "/" or "-"');

export const CreateRunSchema = z
  .strictObject({
    title: z.string().trim().min(1).max(200),
    teamId: IdSchema.optional(),
    labels: z
      .record(labelKey, z.string().max(256))
      .refine((labels) => Object.keys(labels).length <= 50, 'at most 50 labels')
      .optional(),
    staleAfterSeconds: z.number().int().min(5).max(7 * 24 * 3600).default(60),
    nodes: z
      .array(
        z.strictObject({
          key: NodeKeySchema,
          title: z.string().trim().min(1).max(200).optional(),
          skill: SkillRefSchema,
          dependsOn: z.array(NodeKeySchema).max(MAX_NODES).optional(),
        }),
      )
      .min(1)
      .max(MAX_NODES),
  })
  .meta({ id: 'CreateRunRequest' });
export type CreateRunBody = z.infer<typeof CreateRunSchema>;

export const NodeSchema = z
  .object({
    key: z.string(),
    title: z.string(),
    skill: z.string().describe('`name@version`: the exact version resolved at creation'),
    dependsOn: z.array(z.string()),
    status: z.enum(NODE_STATUSES),
    reason: z.string().nullable(),
    percent: z.number().nullable(),
    message: z.string().nullable(),
    stalled: z.boolean(),
    startedAt: z.iso.datetime().nullable(),
    endedAt: z.iso.datetime().nullable(),
    output: z.unknown().optional(),
    error: z.object({ message: z.string(), code: z.string().optional() }).optional(),
  })
  .meta({ id: 'RunNode' });
export type NodeView = z.infer<typeof NodeSchema>;

export const RunSchema = z
  .object({
    id: z.uuid(),
    title: z.string(),
    status: z.enum(RUN_STATUSES),
    teamId: z.uuid().nullable(),
    labels: z.record(z.string(), z.string()),
    staleAfterSeconds: z.number().int(),
    createdBy: z.uuid(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
    endedAt: z.iso.datetime().nullable(),
    lastSeq: z.number().int(),
    nodes: z.array(NodeSchema),
  })
  .meta({ id: 'Run' });
export type RunView = z.infer<typeof RunSchema>;

const AllowedSchema = z.object({ allowed: z.boolean(), reason: z.string().describe("The deciding rule's reason, as `POST /policies/explain` gives it") });

export const RunDetailSchema = RunSchema.extend({
  can: z
    .object({ cancel: AllowedSchema.describe('`POST /runs/{id}/cancel` (action `update`); a finished run is not cancelled whatever this says') })
    .describe('What the active policy lets the caller do to this run, decided as the action itself would be; asking audits nothing'),
}).meta({ id: 'RunDetail' });
export type RunDetailView = z.infer<typeof RunDetailSchema>;

export const CreatedRunSchema = RunSchema.extend({
  reporterToken: z.string().describe('`vtr_run_…`: reports to this run only; shown once; expires an hour after the run ends'),
}).meta({ id: 'CreatedRun' });

export const RunListQuerySchema = ListQuerySchema.extend({
  status: z.enum(RUN_STATUSES).optional(),
  teamId: IdSchema.optional(),
  label: z
    .union([z.string(), z.array(z.string()).max(20)])
    .transform((v) => (Array.isArray(v) ? v : [v]))
    .pipe(z.array(z.string().regex(/^[^:]{1,64}:.{0,256}$/, 'must be key:value')))
    .optional()
    .describe('key:value; repeat to require several'),
}).strict();
export type RunListQuery = z.infer<typeof RunListQuerySchema>;

const outputSize = (value: unknown) => Buffer.byteLength(JSON.stringify(value ?? null), 'utf8');

const EVENT_OPTIONAL_FIELDS = ['percent', 'message', 'level', 'output', 'error'] as const;
/** The optional fields each event type takes (built once: every event of every batch is checked against it). */
const EVENT_FIELDS: Record<EventType, readonly (typeof EVENT_OPTIONAL_FIELDS)[number][]> = {
  started: ['message'],
  progress: ['percent', 'message'],
  log: ['message', 'level'],
  heartbeat: [],
  succeeded: ['output', 'message'],
  failed: ['error'],
  skipped: ['message'],
};
const eventIssue = (issues: z.core.$ZodRawIssue[], input: unknown, field: string, message: string) => issues.push({ code: 'custom', input, path: [field], message });

export const EventSchema = z
  .strictObject({
    // Lower-cased (IdSchema): the same id in other letters is the same event, also before it reaches the database.
    id: IdSchema.optional().describe('Idempotency key: an id seen before is not applied again (in any letter case)'),
    node: NodeKeySchema,
    type: z.enum(EVENT_TYPES),
    percent: z.number().min(0).max(100).optional(),
    message: z.string().max(4_096).optional(),
    level: z.enum(LOG_LEVELS).optional(),
    output: z.unknown().optional(),
    error: z.strictObject({ message: z.string().min(1).max(4_096), code: z.string().max(100).optional() }).optional(),
    at: TimestampSchema.optional(),
  })
  .check(({ value: event, issues }) => {
    // A check on the payload, not superRefine: this runs for every event of every batch,
    // and superRefine gives each one an addIssue closure of its own.
    for (const field of EVENT_OPTIONAL_FIELDS) {
      if (event[field] !== undefined && !EVENT_FIELDS[event.type].includes(field)) eventIssue(issues, event, field, `is not part of a "${event.type}" event`);
    }
    if (event.type === 'progress' && event.percent === undefined && event.message === undefined) eventIssue(issues, event, 'percent', 'a progress event needs percent or message');
    if (event.type === 'log' && event.message === undefined) eventIssue(issues, event, 'message', 'a log event needs a message');
    if (event.type === 'failed' && event.error === undefined) eventIssue(issues, event, 'error', 'a failed event needs an error');
    if (event.output !== undefined && outputSize(event.output) > MAX_OUTPUT_BYTES) eventIssue(issues, event, 'output', 'must be at most 64 KiB of JSON');
  });
export type IncomingEvent = z.infer<typeof EventSchema>;

export const IngestSchema = z.strictObject({ events: z.array(EventSchema).min(1).max(MAX_EVENTS) }).meta({ id: 'RunEventsRequest' });
export type IngestBody = z.infer<typeof IngestSchema>;

export const IngestResultSchema = z
  .object({ accepted: z.number().int(), duplicates: z.number().int(), lastSeq: z.number().int().describe("The run's last seq once this batch was applied") })
  .meta({ id: 'RunEventsResult' });
export type IngestResult = z.infer<typeof IngestResultSchema>;

export const ReplayQuerySchema = z.strictObject({
  after: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(1_000).default(100),
});

export const RunEventSchema = z
  .object({
    seq: z.number().int(),
    id: z.uuid(),
    at: z.iso.datetime(),
    node: z.string(),
    type: z.string().describe('An event type, or one Vitrine writes: `skipped` (upstream), `cancelled`, `stalled`'),
  })
  .catchall(z.unknown())
  .meta({ id: 'RunEvent' });
export type RunEventView = z.infer<typeof RunEventSchema>;
