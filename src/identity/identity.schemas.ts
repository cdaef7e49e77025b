import { z } from 'zod';
import { ListQuerySchema } from '../common/pagination.js';
import { ROLES } from './member.entity.js';

/**
 * An id from a client (path, query, body or cursor): any letter case, as UUIDs are, lower-cased
 * as PostgreSQL gives it back, so caches, token scopes and policy conditions compare it as the same id.
 */
export const IdSchema = z.uuid({ message: 'must be a UUID' }).transform((id) => id.toLowerCase());

const email = z.email().max(320).transform((value) => value.toLowerCase());
const password = z.string().min(8, 'must be at least 8 characters').max(256);
const displayName = z.string().trim().min(1).max(200);
const tokenName = z.string().trim().min(1).max(100);
/** At least a minute, at most a year; 90 days when omitted. */
const expiresInSeconds = z.number().int().min(60).max(365 * 24 * 3600);

export const LoginSchema = z.strictObject({ email, password: z.string().min(1).max(256) }).meta({ id: 'LoginRequest' });
export type LoginBody = z.infer<typeof LoginSchema>;

export const CreateTokenWithPasswordSchema = z
  .strictObject({ email, password: z.string().min(1).max(256), name: tokenName, expiresInSeconds: expiresInSeconds.optional() })
  .meta({ id: 'CreateTokenWithPasswordRequest' });
export type CreateTokenWithPasswordBody = z.infer<typeof CreateTokenWithPasswordSchema>;

export const CreateTokenSchema = z
  .strictObject({ name: tokenName, expiresInSeconds: expiresInSeconds.optional() })
  .meta({ id: 'CreateTokenRequest' });
export type CreateTokenBody = z.infer<typeof CreateTokenSchema>;

export const RoleSchema = z.enum(ROLES);

export const CreateMemberSchema = z
  .strictObject({
    email,
    name: displayName,
    password,
    role: RoleSchema,
    teamIds: z.array(IdSchema).max(100).optional(),
  })
  .meta({ id: 'CreateMemberRequest' });
export type CreateMemberBody = z.infer<typeof CreateMemberSchema>;

export const UpdateMemberSchema = z
  .strictObject({
    name: displayName.optional(),
    password: password.optional(),
    role: RoleSchema.optional(),
    teamIds: z.array(IdSchema).max(100).optional(),
  })
  .refine((body) => Object.keys(body).length > 0, { message: 'names no field to change' })
  .meta({ id: 'UpdateMemberRequest' });
export type UpdateMemberBody = z.infer<typeof UpdateMemberSchema>;

export const TeamBodySchema = z.strictObject({ name: displayName }).meta({ id: 'TeamRequest' });
export type TeamBody = z.infer<typeof TeamBodySchema>;

export const CreateOrgSchema = z
  .strictObject({
    name: z.string().trim().min(1).max(100).regex(/^[a-z0-9][a-z0-9-]*$/, 'must be lower-case letters, digits and dashes'),
    admin: z.strictObject({ email, name: displayName, password }),
  })
  .meta({ id: 'CreateOrgRequest' });
export type CreateOrgBody = z.infer<typeof CreateOrgSchema>;

export const MemberListQuerySchema = z.strictObject({
  ...ListQuerySchema.shape,
  includeDeactivated: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
});

// Responses

export const MeSchema = z
  .object({ id: z.uuid(), email: z.string(), name: z.string(), role: RoleSchema, orgId: z.uuid(), teamIds: z.array(z.uuid()) })
  .meta({ id: 'Me' });

export const MemberSchema = z
  .object({
    id: z.uuid(),
    orgId: z.uuid(),
    email: z.string(),
    name: z.string(),
    role: RoleSchema,
    teamIds: z.array(z.uuid()),
    deactivatedAt: z.iso.datetime().nullable(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: 'Member' });
export type MemberView = z.infer<typeof MemberSchema>;

export const TeamSchema = z
  .object({ id: z.uuid(), orgId: z.uuid(), name: z.string(), createdAt: z.iso.datetime(), updatedAt: z.iso.datetime() })
  .meta({ id: 'Team' });
export type TeamView = z.infer<typeof TeamSchema>;

export const TokenSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    expiresAt: z.iso.datetime(),
    revokedAt: z.iso.datetime().nullable(),
    lastUsedAt: z.iso.datetime().nullable(),
    createdAt: z.iso.datetime(),
  })
  .meta({ id: 'Token' });
export type TokenView = z.infer<typeof TokenSchema>;

export const CreatedTokenSchema = z
  .object({ id: z.uuid(), name: z.string(), token: z.string().describe('Shown once; only its hash is stored'), expiresAt: z.iso.datetime(), createdAt: z.iso.datetime() })
  .meta({ id: 'CreatedToken' });

export const LoginResponseSchema = z.object({ user: MeSchema }).meta({ id: 'LoginResponse' });

export const OrgSchema = z
  .object({ id: z.uuid(), name: z.string(), createdAt: z.iso.datetime(), admin: MemberSchema })
  .meta({ id: 'Org' });
