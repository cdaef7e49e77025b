import { z } from 'zod';
import { TimestampSchema } from '../common/timestamp.js';
import { ListQuerySchema } from '../common/pagination.js';
import { ACTOR_TYPES, OUTCOMES } from './audit-event.js';
import { HEADER_LINE, SEAL_LINE, type HeaderLine, type SealLine } from './audit-export.js';
import type { Seal } from './audit-seal.js';

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

export const AuditExportQuerySchema = z
  .strictObject({
    format: z.enum(['ndjson', 'csv']).default('ndjson').describe('`ndjson`: one AuditEvent per line. `csv`: a header row, then one row per event'),
    proof: z
      .enum(['true', 'false'])
      .default('false')
      .transform((v) => v === 'true')
      .describe('`true` (ndjson only): also write the header line and the seal lines that `npm run audit:verify` checks the file with, offline'),
    ...filters,
  })
  .refine((query) => !(query.format === 'csv' && query.proof === true), {
    path: ['proof'],
    message: 'is for format=ndjson only: a CSV export has no place for the header and seals',
    // Also when another field is bad, so the answer names every offending field.
    when: ({ value }) => typeof value === 'object' && value !== null,
  });
export type AuditExportQuery = z.infer<typeof AuditExportQuerySchema>;

/** A seal as a proof export writes it: documented in OpenAPI, and what the verifier reads seal lines with. */
const SealSchema = z.object({
  orgId: z.uuid(),
  blockNo: z.number().int(),
  seq: z.number().int().describe('The highest seq sealed in this org so far'),
  count: z.number().int(),
  seqs: z.array(z.number().int()),
  hashes: z.array(z.string()).describe('Event hashes (hex), in the order of `seqs`'),
  xmax: z.string(),
  xip: z.array(z.string()),
  seqHigh: z.number().int(),
  xidBound: z.string(),
  prevHash: nullableString.describe('The hash of the block before, null for the first'),
  hash: z.string().describe('SHA-256 (hex) over the RFC 8785 JSON of the block'),
  at: z.iso.datetime(),
  keyId: z.string(),
  signature: z.string().describe('base64 Ed25519 over the RFC 8785 JSON of {orgId, seq, hash, at}'),
}) satisfies z.ZodType<Seal>;

export const ExportHeaderLineSchema = z.object({
  type: z.literal(HEADER_LINE),
  header: z.object({
    orgId: z.uuid(),
    exportedAt: z.iso.datetime(),
    filters: z.record(z.string(), z.string()).describe('The filters of the request'),
    complete: z.boolean().describe('No filters: every sealed event is in the file, so a missing event is detected too'),
    blocks: z.number().int().describe('How many seal lines a complete export holds'),
    keyId: z.string(),
    publicKey: z.string().describe('PEM, SPKI: the key the seals are signed with; pin your own copy with `--public-key`'),
  }),
}) satisfies z.ZodType<HeaderLine>;

export const ExportSealLineSchema = z.object({ type: z.literal(SEAL_LINE), seal: SealSchema }) satisfies z.ZodType<SealLine>;

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
