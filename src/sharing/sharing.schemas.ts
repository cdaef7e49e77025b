import { z } from 'zod';
import { RevisionParamSchema } from '../artifacts/artifacts.schemas.js';
import { AUDIENCES } from './share.entity.js';

/** Links may be asked for up to a year; the default bundle allows at most 30 days. */
export const MAX_EXPIRES_IN_SECONDS = 365 * 24 * 3600;

export const CreateShareSchema = z
  .strictObject({
    audience: z.enum(AUDIENCES),
    expiresInSeconds: z.number().int().min(60).max(MAX_EXPIRES_IN_SECONDS).optional().describe('No expiry when left out (the default bundle refuses that for links)'),
    revision: z.number().int().min(1).optional().describe('Pin the share to this revision; left out, the link follows the live artifact'),
  })
  .meta({ id: 'CreateShareRequest' });
export type CreateShareBody = z.infer<typeof CreateShareSchema>;

export const ShareSchema = z
  .object({
    id: z.uuid(),
    artifactId: z.uuid(),
    audience: z.enum(AUDIENCES),
    teamId: z.uuid().nullable().describe('For a team share: the team it serves'),
    revision: z.number().int().nullable().describe('Null: the link follows the live artifact'),
    expiresAt: z.iso.datetime().nullable(),
    url: z.string().nullable().describe('`VITRINE_PUBLIC_URL/s/{token}`; only in the answer that made the share'),
    state: z.enum(['valid', 'revoked', 'expired']),
    createdBy: z.uuid(),
    createdAt: z.iso.datetime(),
    revokedAt: z.iso.datetime().nullable(),
    revokedReason: z
      .string()
      .nullable()
      .describe('Set when policy revoked the link (revokedAt set, no person): the rule that denies it now and why, e.g. after a new revision with secrets, a classification change or a new bundle'),
  })
  .meta({ id: 'Share' });
export type ShareView = z.infer<typeof ShareSchema>;

export const CreatedShareSchema = ShareSchema.extend({
  token: z.string().describe('`vtr_shr_…`: shown in this answer only'),
}).meta({ id: 'CreatedShare' });

export const ShareTokenSchema = z.string().regex(/^vtr_shr_[A-Za-z0-9_-]{43}$/, 'must be a share token (vtr_shr_…)');

export const ShareContentQuerySchema = z.strictObject({
  revision: RevisionParamSchema.optional().describe(
    "The revision the viewer expects: a pinned link's own (any other is 400), or for a live link at most the latest (a later one is 404). A live link always serves the latest revision, never an older one; the number only gives each revision its own URL",
  ),
  ticket: z
    .string()
    .max(200)
    .optional()
    .describe('The view ticket of the viewer page (`GET /s/{token}`), whose view is counted already; without a valid one (absent, for another link, or older than an hour) this request counts and audits a view itself'),
});
export type ShareContentQuery = z.infer<typeof ShareContentQuerySchema>;

/** What the viewer page is told of a link it may show (`<meta name="vitrine-share">`); no account is needed to read it. */
export interface SharePage {
  share: { id: string; audience: (typeof AUDIENCES)[number]; revision: number | null; expiresAt: string | null };
  artifact: { title: string; kind: string; revision: number };
  /** The display name of the member who made the link, while they are an active member; never an email. */
  sharedBy: string | null;
  ticket: string;
}
