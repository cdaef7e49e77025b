import type { Request } from 'express';
import type { RequestContext } from '../common/request-context.js';
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
  /** When that session or token stops working: a socket opened with it is closed then. */
  expiresAt: Date;
  /** The org's active policy version, read together with the credentials. */
  policyVersionId: string | null;
  /** The request this actor acts in, for the audit log; set by the auth guard, absent outside a request. */
  context?: RequestContext;
}

/** A run's reporter token: an agent that may report to that run and keep its artifacts current. */
export interface AgentActor {
  type: 'agent';
  /** The run's id: the agent is known by the run it reports to. */
  id: string;
  runId: string;
  orgId: string;
  name: string;
  role: 'reporter';
  teamIds: string[];
  installationAdmin: false;
  via: 'reporter';
  credentialId: string;
  policyVersionId: string | null;
  context?: RequestContext;
}

export type Actor = UserActor | AgentActor;

/** Whoever holds a share link's token: may watch that link's artifact, and nothing else, while the link is valid. */
export interface ShareViewer {
  type: 'share';
  shareId: string;
  orgId: string;
  artifactId: string;
  /** Null: the link follows the live artifact. */
  revision: number | null;
  expiresAt: Date | null;
}

/** Whoever a credential names: an actor, or a share link's viewer. */
export type Principal = Actor | ShareViewer;

export interface RequestWithActor extends Request {
  actor?: Actor;
}
