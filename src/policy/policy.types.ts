/** The vocabulary of API.md's Policies section. */
export const SUBJECTS = ['Run', 'Artifact', 'Share', 'Skill', 'Tool', 'Member', 'Team', 'Policy', 'AuditEvent', 'Org'] as const;
export type Subject = (typeof SUBJECTS)[number];

/** `declassify` is lowering an artifact's classification; raising it is `update`. */
export const ACTIONS = ['read', 'create', 'update', 'delete', 'report', 'publish', 'remix', 'declassify', 'manage'] as const;
export type Action = (typeof ACTIONS)[number];

/** Member roles, plus `reporter`: the reporter token of one run. */
export const POLICY_ROLES = ['admin', 'member', 'auditor', 'viewer', 'reporter'] as const;
export type PolicyRole = (typeof POLICY_ROLES)[number];

/**
 * The attributes a rule's conditions may name, per subject. `share` exists
 * only when the action is `publish` (API.md: `share: {audience, expiresInSeconds, pinned}`).
 */
export const SUBJECT_ATTRIBUTES: Record<Subject, readonly string[]> = {
  Run: ['id', 'orgId', 'teamId', 'createdBy', 'status', 'labels', 'title'],
  Artifact: [
    'id',
    'orgId',
    'teamId',
    'ownerId',
    'runId',
    'kind',
    'title',
    'classification',
    'labels',
    'containsSecrets',
    'private',
    'publishedByLink',
    'sameOrg',
    'remixedFrom',
    'share',
  ],
  Share: ['id', 'orgId', 'artifactId', 'audience', 'createdBy', 'expiresAt', 'revision'],
  Skill: ['id', 'orgId', 'name', 'version', 'createdBy', 'tools', 'maxToolRisk'],
  Tool: ['id', 'orgId', 'name', 'risk', 'createdBy'],
  Member: ['id', 'orgId', 'role', 'teamIds', 'email'],
  Team: ['id', 'orgId', 'name'],
  Policy: ['orgId', 'version'],
  AuditEvent: ['orgId', 'actorId', 'action', 'resourceType', 'outcome'],
  Org: ['id', 'name'],
};

/** The operators CASL's MongoDB matcher implements; anything else it would silently treat as equality. */
export const CONDITION_OPERATORS = ['$eq', '$ne', '$lt', '$lte', '$gt', '$gte', '$in', '$nin', '$all', '$size', '$regex', '$options', '$elemMatch', '$exists'] as const;

export const ACTOR_PLACEHOLDERS = ['{{actor.id}}', '{{actor.teamIds}}', '{{actor.orgId}}', '{{actor.runId}}'] as const;

export interface Decision {
  allowed: boolean;
  ruleId: string | null;
  reason: string;
  version: string;
}
