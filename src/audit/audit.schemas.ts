import { z } from 'zod';
import { TimestampSchema } from '../common/timestamp.js';
import { ListQuerySchema } from '../common/pagination.js';
import { ACTOR_TYPES, OUTCOMES } from './audit-event.js';

const nullableString = z.string().nullable();

export const AuditEventSchema = z
  .object({
    seq: z.number().int().describe('Position in the installation-wide audit sequence; increases, may skip'),
    id: z.uuid(),
    orgId: z.uuid(),
    at: z.iso.datetime(),
    actor: z.object({ type: z.enum(ACTOR_TYPES), id: nullableString, name: nullableString }),
    action: z.string().describe('`resource.verb`, e.g. `member.update`, `artifact.publish`, `auth.login`'),
    resource: z.object({ type: z.string(), id: nullableString }),
    outcome: z.enum(OUTCOMES),
    reason: nullableString,
    policy: z.object({ version: z.string(), ruleId: nullableString }).nullable(),
    context: z.object({ ip: nullableString, userAgent: nullableString, requestId: nullableString }),
    details: z.record(z.string(), z.unknown()),
    hash: z.string().describe('SHA-256 (hex) over the RFC 8785 canonical JSON of every other field'),
  })
  .meta({ id: 'AuditEvent' });

const filters = {
  actorId: z.string().min(1).max(200).optional(),
  action: z.string().regex(/^[a-z_]+\.[a-z_]+$/, 'must look like resource.verb').max(100).optional(),
  resourceType: z.string().min(1).max(100).optional(),
  resourceId: z.string().min(1).max(200).optional(),
  outcome: z.enum(OUTCOMES).optional(),
  from: TimestampSchema.optional().describe('Inclusive'),
  to: TimestampSchema.optional().describe('Exclusive'),
};

export const AuditQuerySchema = ListQuerySchema.extend(filters).strict();
export type AuditQuery = z.infer<typeof AuditQuerySchema>;
export type AuditFilters = Omit<AuditQuery, 'limit' | 'cursor'>;

export const AuditExportQuerySchema = z.strictObject({ format: z.enum(['ndjson', 'csv']).default('ndjson'), ...filters });
export type AuditExportQuery = z.infer<typeof AuditExportQuerySchema>;

export const AuditCursorSchema = z.object({ at: z.iso.datetime(), seq: z.number().int() });

export const VerifySchema = z
  .object({
    ok: z.boolean(),
    checked: z.number().int().describe('Events checked'),
    blocks: z.number().int().describe('Sealed blocks checked'),
    head: z.object({ seq: z.number().int(), hash: z.string() }).nullable().describe('The newest sealed block: highest seq and its hash'),
    firstInvalid: z.object({ seq: z.number().int(), reason: z.string() }).optional(),
  })
  .meta({ id: 'AuditVerification' });
export type VerifyView = z.infer<typeof VerifySchema>;

export const CheckpointSchema = z
  .object({
    orgId: z.uuid(),
    seq: z.number().int(),
    hash: z.string(),
    at: z.iso.datetime(),
    signature: z.string().describe('base64 Ed25519 over the RFC 8785 JSON of {orgId, seq, hash, at}'),
    blockNo: z.number().int(),
    keyId: z.string(),
  })
  .meta({ id: 'AuditCheckpoint' });

export const PublicKeySchema = z
  .object({ algorithm: z.literal('Ed25519'), publicKey: z.string().describe('PEM, SPKI'), keyId: z.string() })
  .meta({ id: 'AuditPublicKey' });

export const AuditShareSchema = z
  .object({
    shareId: z.string(),
    artifact: z.object({ id: z.string(), title: nullableString }),
    audience: nullableString,
    createdBy: z.object({ id: nullableString, name: nullableString }),
    createdAt: z.iso.datetime(),
    expiresAt: nullableString,
    revokedAt: nullableString,
    revokedBy: z.object({ id: nullableString, name: nullableString }).nullable(),
    views: z.number().int(),
  })
  .meta({ id: 'AuditShare' });

export const AuditSharesQuerySchema = ListQuerySchema.extend({ artifactId: z.string().min(1).max(200).optional() }).strict();
