/** The vocabulary of API.md's Policies section. */
export const SUBJECTS = ['Run', 'Artifact', 'Share', 'Skill', 'Tool', 'Member', 'Team', 'Policy', 'AuditEvent', 'Org'] as const;
export type Subject = (typeof SUBJECTS)[number];

export const ACTIONS = ['read', 'create', 'update', 'delete', 'report', 'publish', 'remix', 'manage'] as const;
export type Action = (typeof ACTIONS)[number];

export interface Decision {
  allowed: boolean;
  ruleId: string | null;
  reason: string;
  version: string;
}
