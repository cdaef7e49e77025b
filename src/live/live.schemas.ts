import { z } from 'zod';
import type { RunFacts } from '../common/domain-events.js';
import type { UserActor } from '../identity/actor.js';
import { IdSchema } from '../identity/identity.schemas.js';
import type { RunEventView, RunStatus } from '../runs/runs.schemas.js';

/** The org's runs, as a list watches them: `{}` for every run the caller may read. */
const RunsTargetSchema = z.strictObject({});

/** `subscribe`: exactly one of a run (with the last seq the client saw), an artifact, a share link's token, or the org's runs. */
export const SubscribeSchema = z
  .strictObject({
    run: IdSchema.optional(),
    after: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
    artifact: IdSchema.optional(),
    share: z.string().min(1).max(200).optional(),
    runs: RunsTargetSchema.optional(),
  })
  .superRefine((value, ctx) => {
    const named = (['run', 'artifact', 'share', 'runs'] as const).filter((key) => value[key] !== undefined);
    if (named.length !== 1) ctx.addIssue({ code: 'custom', path: ['run'], message: 'name exactly one of run, artifact, share or runs' });
    if (value.after !== undefined && value.run === undefined) ctx.addIssue({ code: 'custom', path: ['after'], message: 'goes only with run' });
  });

/** `unsubscribe`: what was subscribed to. */
export const UnsubscribeSchema = z
  .strictObject({ run: IdSchema.optional(), artifact: IdSchema.optional(), share: z.string().min(1).max(200).optional(), runs: RunsTargetSchema.optional() })
  .refine((value) => [value.run, value.artifact, value.share, value.runs].filter((v) => v !== undefined).length === 1, {
    path: ['run'],
    message: 'name exactly one of run, artifact, share or runs',
  });

export interface LiveError {
  code: string;
  message: string;
  errors?: { path: string; message: string }[];
}

export type SubscribeAck = { ok: true; snapshot: unknown; replayed: number } | { ok: false; error: LiveError };
export type UnsubscribeAck = { ok: true } | { ok: false; error: LiveError };

/** What the server emits on `/live`. */
export interface LiveServerEvents {
  'run.event': (event: RunEventView & { runId: string }) => void;
  'run.updated': (update: { runId: string; status: RunStatus; lastSeq: number }) => void;
  /** To a `subscribe {runs}`: a run the subscriber may read was created (read it with `GET /runs/{id}`; `subscribe {run}` follows it). */
  'run.created': (created: { runId: string }) => void;
  /** A new revision; for a `run-summary` (always revision 0, rendered from its run), its run changed, and `lastSeq` is the run's last seq its render now shows. */
  'artifact.revised': (revised: { artifactId: string; revision: number; lastSeq?: number }) => void;
  'share.revoked': (revoked: { shareId: string; reason: 'revoked' | 'expired' }) => void;
  /**
   * Sent last before the server disconnects a socket of its own accord: `too_slow`, it fell too far
   * behind (resume with `after`); `credential_expired`, the session or token it connected with expired.
   */
  closing: (reason: { code: 'too_slow' | 'credential_expired'; message: string }) => void;
  /** A subscription the server dropped, its principal no longer allowed to read it (a role or team change), with why, as a refused subscribe's ack says it; the socket stays open. */
  unsubscribed: (notice: ({ run: string } | { artifact: string } | { share: string }) & { error: LiveError }) => void;
}

/** A member's role and teams as they changed, as one instance tells the others. */
export interface MemberChange {
  memberId: string;
  role: UserActor['role'];
  teamIds: string[];
}

/** A run's committed batch as one instance relays it to the others: its events, or only its seq range when they are too large for a NOTIFY. */
export interface RelayedRunEvents {
  runId: string;
  first: number;
  last: number;
  events?: RunEventView[];
}

/** One thing an instance published, as it tells the others. */
export type LiveRelay =
  | ({ kind: 'run.events' } & RelayedRunEvents)
  | { kind: 'run.updated'; runId: string; status: RunStatus; lastSeq: number }
  | { kind: 'run.created'; orgId: string; run: RunFacts }
  | { kind: 'artifact.revised'; artifactId: string; revision: number; lastSeq?: number }
  | { kind: 'share.revoked'; shareId: string };

/** What one `/live` instance tells the others through the adapter: what it published, in order, several to a message. */
export interface LiveInstanceEvents {
  relay: (relays: LiveRelay[]) => void;
  /** A member's role or teams changed: every instance re-checks that member's sockets. */
  'member.changed': (change: MemberChange) => void;
  /** Another policy bundle became active in this org: every instance re-checks the org's sockets. */
  'policy.activated': (orgId: string) => void;
}

/** What a client emits on `/live`, each with an ack. */
export interface LiveClientEvents {
  subscribe: (body: unknown, ack: (answer: SubscribeAck) => void) => void;
  unsubscribe: (body: unknown, ack: (answer: UnsubscribeAck) => void) => void;
}
