import type { Request } from 'express';
import type { Role } from './member.entity.js';

/** Who is calling: resolved once per request by the auth guard. */
export interface UserActor {
  type: 'user';
  id: string;
  orgId: string;
  email: string;
  name: string;
  role: Role;
  teamIds: string[];
  installationAdmin: boolean;
  /** How the caller authenticated. */
  via: 'token' | 'session';
  credentialId: string;
  /** The org's active policy version, read together with the credentials. */
  policyVersionId: string | null;
}

export type Actor = UserActor;

export interface RequestWithActor extends Request {
  actor?: Actor;
}
