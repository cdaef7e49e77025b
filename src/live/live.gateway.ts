import type { IncomingMessage } from 'node:http';
import { Inject, Logger, type OnModuleDestroy } from '@nestjs/common';
import { Ack, ConnectedSocket, MessageBody, SubscribeMessage, WebSocketGateway, WebSocketServer, type OnGatewayConnection, type OnGatewayDisconnect, type OnGatewayInit } from '@nestjs/websockets';
import cookieParser from 'cookie-parser';
import type { Request, Response } from 'express';
import type { Namespace, Socket } from 'socket.io';
import { RUN_SUMMARY } from '../artifacts/artifacts.schemas.js';
import { artifactView, ArtifactsService } from '../artifacts/artifacts.service.js';
import { DomainEvents, type DomainEventMap, type RunFacts } from '../common/domain-events.js';
import { AppError, NotFoundError, UnauthenticatedError, ValidationFailedError } from '../common/problem.js';
import { issuesToProblems } from '../common/validation.pipe.js';
import { APP_CONFIG, type AppConfig } from '../config/config.schema.js';
import { isDatabaseUnavailable, OutageWarnings } from '../database/unavailable.js';
import type { Actor, Principal, ShareViewer } from '../identity/actor.js';
import { AuthService, SESSION_COOKIE } from '../identity/auth.service.js';
import { isSameOrigin } from '../identity/same-origin.js';
import { MetricsService } from '../ops/metrics.service.js';
import type { CompiledPolicy } from '../policy/policy-engine.js';
import { PolicyService } from '../policy/policy.service.js';
import type { RunEventView } from '../runs/runs.schemas.js';
import { runAttributes, RunsService, runView } from '../runs/runs.service.js';
import { SharingService } from '../sharing/sharing.service.js';
import { isListening } from './live-io.adapter.js';
import {
  SubscribeSchema,
  UnsubscribeSchema,
  type LiveClientEvents,
  type LiveError,
  type LiveInstanceEvents,
  type LiveRelay,
  type LiveServerEvents,
  type MemberChange,
  type RelayedRunEvents,
  type SubscribeAck,
  type UnsubscribeAck,
} from './live.schemas.js';

/** Rows a replay or gap fill reads from the database at a time. */
const REPLAY_PAGE = 1_000;
/** setTimeout's longest delay; a later expiry re-arms. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/**
 * A batch whose events encode to more than this is relayed to the other
 * instances as its seq range, which they read from the database: a NOTIFY
 * payload holds 8000 bytes, and a larger message would cost the adapter an
 * INSERT and every instance a SELECT, subscribers or not.
 */
const RELAY_INLINE_BYTES = 6_000;
/** What one relay message may hold, encoded, with room for the adapter's envelope within a NOTIFY's 8000 bytes. */
const RELAY_MESSAGE_BYTES = 7_000;
/** How often whether the adapter LISTENs is looked at: its connection lost, it reconnects after 1-3 s. */
const LISTEN_CHECK_MS = 500;
/** How long a socket cut as too slow may take to read what it was already sent before its connection is dropped. */
const SLOW_CLOSE_GRACE_MS = 5_000;

type RunItem = { kind: 'events'; events: RunEventView[] } | { kind: 'updated'; update: Omit<DomainEventMap['run.updated'], 'orgId'> };

/** One socket's subscription to one run: what it was last sent, and what waits while the database is read. */
interface RunSubscription {
  socket: LiveSocket;
  runId: string;
  /** The last seq this socket was sent (or said it had seen). */
  last: number;
  queue: RunItem[];
  /** A replay or gap fill is reading: live items wait in `queue` behind it. */
  busy: boolean;
  closed: boolean;
}

/** One socket watching one share link, until it is revoked or expires. */
interface ShareSubscription {
  socket: LiveSocket;
  viewer: ShareViewer;
  /** The token it was subscribed with, if any, for `unsubscribe {share: token}`. */
  token: string | undefined;
  timer: NodeJS.Timeout | undefined;
}

interface SocketState {
  principal: Principal;
  runs: Map<string, RunSubscription>;
  /** Artifact rooms this socket is in, with how many of its subscriptions (the artifact's own, its links') hold each. */
  artifacts: Map<string, number>;
  /** Artifacts subscribed to as such (by a member or reporter). */
  watched: Set<string>;
  shares: Map<string, ShareSubscription>;
  /** Why the server is closing it, when it is one of ours (counted by that reason, not Socket.IO's). */
  closing?: 'too_slow' | 'credential_expired';
  /** Closes it when the session or token it connected with expires. */
  expiry?: NodeJS.Timeout;
  /** The re-check of its subscriptions under way (one at a time, each with the principal as it is then). */
  rechecking?: Promise<void>;
  /** How many changes of its member's role or teams, or of the org's bundle, it has heard of: a subscribe decided across one is decided again. */
  changes: number;
}

type LiveSocket = Socket<LiveClientEvents, LiveServerEvents, LiveInstanceEvents, SocketState>;
type LiveNamespace = Namespace<LiveClientEvents, LiveServerEvents, LiveInstanceEvents, SocketState>;

/** Packets queued for the socket's connection and not yet handed to it: engine.io's own buffer, which grows while the client does not read. */
function waiting(socket: LiveSocket): number {
  return (socket.conn as unknown as { writeBuffer: unknown[] }).writeBuffer.length;
}

/** This instance's sockets watching an org's runs (`subscribe {runs}`). */
const runsRoom = (orgId: string) => `runs:${orgId}`;

const parseCookies = cookieParser();

function sessionCookie(request: IncomingMessage): string | undefined {
  if (!request.headers.cookie) return undefined;
  const holder = request as IncomingMessage & { cookies?: Record<string, string> };
  parseCookies(holder as Request, {} as Response, () => undefined);
  return holder.cookies?.[SESSION_COOKIE];
}

/** A Socket.IO connect error the client reads as `err.message` and `err.data.code` (`unavailable` while the database is away, as HTTP's 503). */
function connectError(error: unknown): Error {
  if (error instanceof AppError) return Object.assign(new Error(error.message), { data: { code: error.code } });
  if (isDatabaseUnavailable(error)) return Object.assign(new Error('The database does not answer; connect again in a moment'), { data: { code: 'unavailable' } });
  return Object.assign(new Error('The connection could not be authenticated'), { data: { code: 'internal_error' } });
}

/**
 * The principal as it decides now: with the org's active bundle read afresh
 * (the actor carries the version read with its credentials, which a socket
 * would otherwise keep for as long as it stays open), as each HTTP request does.
 */
function deciding(actor: Actor): Actor {
  return { ...actor, policyVersionId: null };
}

/** A socket that closed while its subscribe was reading must not be registered: nothing would ever drop it. */
function assertConnected(socket: LiveSocket): void {
  if (!socket.connected) throw new AppError(409, 'disconnected', 'Disconnected', 'The socket closed before the subscription was made');
}

/**
 * The live stream on `/live`. A connection is authenticated once, by the
 * same verifier as HTTP; `subscribe` loads the run, artifact or link and
 * checks `read` through policy before the socket hears anything of it.
 * Run events reach each socket in seq order with no gap and no duplicate:
 * the gateway tracks the last seq it sent each socket and reads any gap from
 * the database, so it never rests on the order in which events reach it.
 *
 * With several instances (the Postgres adapter on), each relays what it
 * publishes to the others as a server-side message, and every instance
 * handles every run batch, status, revision and revoke the same way for its
 * own sockets: order and completeness come from the per-socket last seq and
 * the database, not from the adapter's delivery order.
 *
 * A socket whose connection has `liveSocketBuffer` packets waiting is cut:
 * it is sent `closing` `{code: 'too_slow'}` after what it was already sent,
 * then disconnected; it resumes with `after`, and the others never wait.
 */
@WebSocketGateway({ namespace: '/live', serveClient: false })
export class LiveGateway implements OnGatewayInit, OnGatewayConnection, OnGatewayDisconnect, OnModuleDestroy {
  @WebSocketServer() private readonly nsp!: LiveNamespace;
  private readonly logger = new Logger('Live');
  private readonly outage = new OutageWarnings(this.logger, 'the database does not answer: /live subscriptions are refused unavailable');
  /** Run id → the sockets subscribed to it. */
  private readonly runs = new Map<string, Set<RunSubscription>>();
  /** Share id → the sockets watching it. */
  private readonly shares = new Map<string, Set<ShareSubscription>>();
  private readonly unsubscribe: (() => void)[] = [];
  /** What this instance published since the relay last went out, with each item's encoded size. */
  private relayQueue: { relay: LiveRelay; bytes: number }[] = [];
  private relayTimer: NodeJS.Immediate | undefined;
  /** Watches whether the adapter LISTENs; `deaf` once it was seen not to, until the catch-up after it does again has read the database. */
  private listenTimer: NodeJS.Timeout | undefined;
  private deaf = false;
  private catchingUp: Promise<void> | undefined;
  /**
   * Artifact id → what its watchers here were last told of or subscribed at: its revision, and for a
   * run-summary its run's last seq. The catch-up announces only what is newer. Kept while the artifact's room is.
   */
  private readonly announced = new Map<string, { revision: number; lastSeq: number | undefined }>();

  constructor(
    @Inject(AuthService) private readonly auth: AuthService,
    @Inject(RunsService) private readonly runsService: RunsService,
    @Inject(ArtifactsService) private readonly artifacts: ArtifactsService,
    @Inject(SharingService) private readonly sharing: SharingService,
    @Inject(PolicyService) private readonly policy: PolicyService,
    @Inject(DomainEvents) private readonly events: DomainEvents,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(MetricsService) private readonly metrics: MetricsService,
  ) {}

  /** Whether other instances share this one's sockets' events (the Postgres adapter). */
  private get relays(): boolean {
    return this.config.liveAdapter !== 'none';
  }

  afterInit(nsp: LiveNamespace): void {
    // Authenticated before the connection is accepted, so no message arrives from a socket without a principal.
    nsp.use((socket, next) => {
      this.authenticate(socket).then(
        () => next(),
        (error: unknown) => next(connectError(error)),
      );
    });
    // What this instance publishes is handled here and relayed; what another relays is handled the same way.
    this.unsubscribe.push(
      this.events.subscribe('run.events', (batch) => {
        this.onRunEvents(batch);
        if (this.relays) this.relay(...this.relayOf(batch));
      }),
      this.events.subscribe('run.created', ({ orgId, run }) => {
        void this.onRunCreated(orgId, run);
        this.relay({ kind: 'run.created', orgId, run });
      }),
      this.events.subscribe('run.updated', ({ runId, status, lastSeq }) => {
        this.onRunUpdated({ runId, status, lastSeq });
        this.relay({ kind: 'run.updated', runId, status, lastSeq });
      }),
      this.events.subscribe('artifact.revised', ({ artifactId, revision, lastSeq }) => {
        this.onArtifactRevised({ artifactId, revision, lastSeq });
        this.relay({ kind: 'artifact.revised', artifactId, revision, lastSeq });
      }),
      this.events.subscribe('share.revoked', ({ shareId }) => {
        this.cutShare(shareId, 'revoked');
        this.relay({ kind: 'share.revoked', shareId });
      }),
      // Through the adapter, these reach the credential's sockets on every instance.
      this.events.subscribe('member.deactivated', ({ memberId }) => nsp.in(`member:${memberId}`).disconnectSockets(true)),
      this.events.subscribe('token.revoked', ({ tokenId }) => nsp.in(`token:${tokenId}`).disconnectSockets(true)),
      this.events.subscribe('session.ended', ({ sessionId }) => nsp.in(`session:${sessionId}`).disconnectSockets(true)),
      this.events.subscribe('member.changed', ({ memberId, role, teamIds }) => {
        this.onMemberChanged({ memberId, role, teamIds });
        if (this.relays) nsp.serverSideEmit('member.changed', { memberId, role, teamIds });
      }),
      this.events.subscribe('policy.activated', ({ orgId }) => {
        this.onPolicyActivated(orgId);
        if (this.relays) nsp.serverSideEmit('policy.activated', orgId);
      }),
    );
    if (this.relays) {
      nsp.on('relay', (relays) => this.onRelays(relays));
      nsp.on('member.changed', (change) => this.onMemberChanged(change));
      nsp.on('policy.activated', (orgId) => this.onPolicyActivated(orgId));
      this.listenTimer = setInterval(() => this.watchListening(), LISTEN_CHECK_MS);
      this.listenTimer.unref();
      nsp.adapter.on('delete-room', (room: string) => {
        if (room.startsWith('artifact:')) this.announced.delete(room.slice('artifact:'.length));
      });
    }
    this.metrics.countLive(() => {
      let runs = 0;
      let artifacts = 0;
      let shares = 0;
      let lists = 0;
      for (const socket of nsp.sockets.values()) {
        if (!socket.data?.principal) continue;
        runs += socket.data.runs.size;
        artifacts += socket.data.watched.size;
        shares += socket.data.shares.size;
        if (socket.data.principal.type !== 'share' && socket.rooms.has(runsRoom(socket.data.principal.orgId))) lists++;
      }
      return { sockets: nsp.sockets.size, subscriptions: { run: runs, artifact: artifacts, share: shares, runs: lists } };
    });
  }

  onModuleDestroy(): void {
    for (const stop of this.unsubscribe.splice(0)) stop();
    clearImmediate(this.relayTimer);
    clearInterval(this.listenTimer);
    for (const subscriptions of this.shares.values()) for (const sub of subscriptions) clearTimeout(sub.timer);
  }

  private async authenticate(socket: LiveSocket): Promise<void> {
    const auth = socket.handshake.auth as { token?: unknown } | undefined;
    const token = typeof auth?.token === 'string' ? auth.token : undefined;
    const session = token === undefined ? sessionCookie(socket.request) : undefined;
    // A handshake is never a plain read: a cookie must come from this origin, or any site could watch as the member.
    const cookieAllowed = session === undefined || isSameOrigin(socket.request.headers, socket.handshake.secure ? 'https' : 'http', this.config.publicUrl);
    const principal = await this.auth.verify({ token, session, cookieAllowed });
    if (!principal) throw new UnauthenticatedError('Connect with auth: {token} (a personal, reporter or share token) or the session cookie');
    socket.data = { principal, runs: new Map(), artifacts: new Map(), watched: new Set(), shares: new Map(), changes: 0 };
    // Rooms by credential, so ending one closes its sockets.
    if (principal.type === 'user') void socket.join([`member:${principal.id}`, `${principal.via}:${principal.credentialId}`]);
    if (principal.type === 'share') void socket.join(`viewer:${principal.shareId}`);
  }

  handleConnection(socket: LiveSocket): void {
    this.armCredentialExpiry(socket);
  }

  handleDisconnect(socket: LiveSocket, reason?: string): void {
    const state = socket.data as SocketState | undefined;
    this.metrics.live.disconnects.inc({ reason: state?.closing ?? reason ?? 'unknown' });
    if (!state?.principal) return;
    clearTimeout(state.expiry);
    for (const sub of state.runs.values()) this.dropRun(sub);
    for (const sub of state.shares.values()) this.dropShare(sub);
  }

  @SubscribeMessage('subscribe')
  async subscribe(@ConnectedSocket() socket: LiveSocket, @MessageBody() body: unknown, @Ack() ack: ((answer: SubscribeAck) => void) | undefined): Promise<void> {
    const changes = socket.data.changes;
    const reply = (answer: SubscribeAck) => {
      if (typeof ack === 'function') ack(answer);
      // Decided while the member's role or teams, or the bundle, changed: decided again.
      if (answer.ok && socket.data.changes !== changes) this.recheckLater(socket);
    };
    try {
      const parsed = SubscribeSchema.safeParse(body ?? {});
      if (!parsed.success) throw new ValidationFailedError(issuesToProblems(parsed.error.issues, 'body'));
      const { run, after, artifact, share, runs } = parsed.data;
      if (run !== undefined) return await this.subscribeRun(socket, run, after ?? 0, reply);
      if (runs !== undefined) {
        await this.subscribeRuns(socket);
        return reply({ ok: true, snapshot: null, replayed: 0 });
      }
      const snapshot = artifact !== undefined ? await this.subscribeArtifact(socket, artifact) : await this.subscribeShare(socket, share!);
      reply({ ok: true, snapshot, replayed: 0 });
    } catch (error) {
      reply({ ok: false, error: await this.liveError(error) });
    }
  }

  @SubscribeMessage('unsubscribe')
  unsubscribeFrom(@ConnectedSocket() socket: LiveSocket, @MessageBody() body: unknown, @Ack() ack: ((answer: UnsubscribeAck) => void) | undefined): void {
    const reply = typeof ack === 'function' ? ack : () => undefined;
    const parsed = UnsubscribeSchema.safeParse(body ?? {});
    if (!parsed.success) return reply({ ok: false, error: { code: 'validation_failed', message: 'The payload failed validation', errors: issuesToProblems(parsed.error.issues, 'body') } });
    const { run, artifact, share, runs } = parsed.data;
    const state = socket.data;
    if (run !== undefined) {
      const sub = state.runs.get(run);
      if (sub) this.dropRun(sub);
    } else if (runs !== undefined) {
      if (state.principal.type !== 'share') void socket.leave(runsRoom(state.principal.orgId));
    } else if (artifact !== undefined) {
      if (state.watched.delete(artifact)) this.leaveArtifact(socket, artifact);
      for (const sub of [...state.shares.values()]) if (sub.viewer.artifactId === artifact && state.principal.type === 'share') this.dropShare(sub);
    } else {
      for (const sub of [...state.shares.values()]) if (sub.viewer.shareId === share || sub.token === share) this.dropShare(sub);
    }
    reply({ ok: true });
  }

  /** What an ack says of a failure; a policy denial is audited as HTTP's are, and the database away is `unavailable`, as HTTP's 503. */
  private async liveError(error: unknown): Promise<LiveError> {
    await this.policy.recordDenial(error)?.catch((failure: unknown) => this.logger.error(failure, 'could not audit a live denial'));
    if (error instanceof AppError) return { code: error.code, message: error.message, ...(error.errors?.length ? { errors: error.errors } : {}) };
    if (isDatabaseUnavailable(error)) {
      this.outage.note(error);
      return { code: 'unavailable', message: 'The database does not answer; subscribe again in a moment' };
    }
    this.logger.error(error, 'live subscribe failed');
    return { code: 'internal_error', message: 'The subscription failed; try again' };
  }

  /** Runs and member-visible artifacts need an actor; a link's token watches its own link only. */
  private actorOf(socket: LiveSocket, resource: string, id: string): Actor {
    const { principal } = socket.data;
    if (principal.type === 'share') throw new NotFoundError(resource, id);
    return deciding(principal);
  }

  // --- Access while connected ----------------------------------------------------

  /** Closes the socket when the session or token it connected with expires, not at its next request. */
  private armCredentialExpiry(socket: LiveSocket): void {
    const { principal } = socket.data;
    if (principal.type !== 'user') return;
    const wait = principal.expiresAt.getTime() - Date.now();
    const expire = () => {
      if (!socket.connected || socket.data.closing) return;
      socket.data.closing = 'credential_expired';
      socket.emit('closing', { code: 'credential_expired', message: `The ${principal.via === 'session' ? 'session' : 'token'} this socket connected with has expired; connect again with a valid one` });
      socket.disconnect(true);
    };
    socket.data.expiry = setTimeout(() => (wait > MAX_TIMER_MS ? this.armCredentialExpiry(socket) : expire()), Math.max(0, Math.min(wait, MAX_TIMER_MS)));
    socket.data.expiry.unref();
  }

  /** A member's role or teams changed: their sockets here act with the new ones, and what they watch is decided again. */
  private onMemberChanged({ memberId, role, teamIds }: MemberChange): void {
    for (const id of [...(this.nsp.adapter.rooms.get(`member:${memberId}`) ?? [])]) {
      const socket = this.nsp.sockets.get(id);
      const principal = socket?.data.principal;
      if (!socket || principal?.type !== 'user') continue;
      socket.data.principal = { ...principal, role, teamIds };
      socket.data.changes += 1;
      this.recheckLater(socket);
    }
  }

  /** Another bundle is active in the org: what its sockets here watch is decided again (each decision reads the active bundle). */
  private onPolicyActivated(orgId: string): void {
    for (const socket of this.nsp.sockets.values()) {
      const principal = socket.data?.principal;
      if (!principal || principal.type === 'share' || principal.orgId !== orgId) continue;
      socket.data.changes += 1;
      this.recheckLater(socket);
    }
  }

  private recheckLater(socket: LiveSocket): void {
    const state = socket.data;
    state.rechecking = (state.rechecking ?? Promise.resolve()).then(() => this.recheck(socket)).catch((error: unknown) => this.logger.error(error, 'live re-check failed'));
  }

  /**
   * Decides `read` again on each of the socket's subscriptions for its
   * principal as it is now. What it may no longer read is dropped and the
   * client told by `unsubscribed` with the reason, as a refused subscribe's
   * ack would give it; the socket stays open for the rest. A check the
   * database cannot answer drops the subscription too (`unavailable`):
   * access is not kept on a decision that could not be made.
   */
  private async recheck(socket: LiveSocket): Promise<void> {
    const state = socket.data;
    if (!socket.connected || state.principal.type === 'share') return;
    const actor = deciding(state.principal);
    const refusal = async (check: () => Promise<unknown>): Promise<LiveError | undefined> => {
      try {
        await check();
        return undefined;
      } catch (error) {
        return this.liveError(error);
      }
    };
    for (const sub of [...state.runs.values()]) {
      const error = await refusal(() => this.runsService.load(actor, sub.runId, 'read'));
      if (!error || state.runs.get(sub.runId) !== sub) continue;
      this.dropRun(sub);
      socket.emit('unsubscribed', { run: sub.runId, error });
    }
    for (const artifactId of [...state.watched]) {
      const error = await refusal(() => this.artifacts.load(actor, artifactId, 'read'));
      if (!error || !state.watched.delete(artifactId)) continue;
      this.leaveArtifact(socket, artifactId);
      socket.emit('unsubscribed', { artifact: artifactId, error });
    }
    for (const sub of [...state.shares.values()]) {
      // A member watches a link through its token (an org or team link serves only that org's or team's members).
      const error = sub.token === undefined ? undefined : await refusal(() => this.sharing.viewer(sub.token!, actor));
      if (!error || state.shares.get(sub.viewer.shareId) !== sub) continue;
      this.dropShare(sub);
      socket.emit('unsubscribed', { share: sub.viewer.shareId, error });
    }
  }

  // --- Catching up after the adapter could not hear -------------------------------

  /**
   * While the adapter's LISTEN connection is down (the database away, or
   * that connection lost), what other instances relay never reaches this one,
   * and nothing else would tell its sockets until the next relay of the same
   * run, artifact or link. Once it listens again, what they watch is read
   * from the database.
   */
  private watchListening(): void {
    const listening = isListening(this.nsp.adapter);
    if (listening === false) this.deaf = true;
    if (!listening || !this.deaf || this.catchingUp) return;
    this.deaf = false;
    this.catchingUp = this.catchUp()
      .catch((error: unknown) => {
        // Tried again at the next look.
        this.deaf = true;
        this.outage.failed(error, 'live catch-up');
      })
      .finally(() => (this.catchingUp = undefined));
  }

  /**
   * Links that stopped serving cut their viewers first (a revoked link's
   * viewer never hears of a revision); a run's subscribers behind its last
   * seq get what they missed, from the database, then its status as
   * `run.updated`; an artifact whose revision (or a run-summary whose run's
   * last seq) is newer than what its watchers here were told is announced.
   */
  private async catchUp(): Promise<void> {
    const rooms = [...this.nsp.adapter.rooms.keys()];
    const artifactIds = rooms.filter((room) => room.startsWith('artifact:')).map((room) => room.slice('artifact:'.length));
    const shareIds = new Set([...this.shares.keys(), ...rooms.filter((room) => room.startsWith('viewer:')).map((room) => room.slice('viewer:'.length))]);
    const [stopped, artifacts] = await Promise.all([this.sharing.stopped([...shareIds]), this.artifacts.revisionsOf(artifactIds)]);
    const summarized = artifacts.flatMap((a) => (a.summaryOf ? [a.summaryOf] : []));
    const runs = new Map((await this.runsService.states([...new Set([...this.runs.keys(), ...summarized])])).map((run) => [run.id, run]));
    for (const { id, reason } of stopped) this.cutShare(id, reason);
    for (const [runId, subscribers] of this.runs) {
      const run = runs.get(runId);
      if (run && [...subscribers].some((sub) => sub.last < run.lastSeq)) this.onRunUpdated({ runId, status: run.status, lastSeq: run.lastSeq });
    }
    for (const { id, revision, summaryOf } of artifacts) {
      const lastSeq = summaryOf ? runs.get(summaryOf)?.lastSeq : undefined;
      const known = this.announced.get(id);
      if (!known || revision > known.revision || (lastSeq ?? 0) > (known.lastSeq ?? 0)) this.onArtifactRevised({ artifactId: id, revision, lastSeq });
    }
  }

  /** Notes what an artifact's watchers here know of it (see `announced`); only while it has a room here. */
  private noteAnnounced(artifactId: string, revision: number, lastSeq: number | undefined): void {
    if (!this.relays || !this.nsp.adapter.rooms.has(`artifact:${artifactId}`)) return;
    const known = this.announced.get(artifactId);
    const seq = Math.max(known?.lastSeq ?? 0, lastSeq ?? 0);
    this.announced.set(artifactId, { revision: Math.max(known?.revision ?? 0, revision), lastSeq: seq || undefined });
  }

  /** What a watcher subscribing to an artifact now knows of it: its revision, and a run-summary's run's last seq. */
  private async noteSubscribed(artifact: { id: string; kind: string; runId: string | null; revision: number }): Promise<void> {
    if (!this.relays) return;
    // Not worth failing the subscribe over: unknown, the catch-up announces the summary once more than needed.
    const lastSeq = artifact.kind === RUN_SUMMARY && artifact.runId ? await this.runsService.states([artifact.runId]).then(([run]) => run?.lastSeq, () => undefined) : undefined;
    this.noteAnnounced(artifact.id, artifact.revision, lastSeq);
  }

  // --- Runs -------------------------------------------------------------------

  /**
   * Registered before the run is read, so whatever commits from then on is
   * queued; the ack counts the events after `after` up to the run's lastSeq
   * as read, which are sent next from the database, then what was queued,
   * each seq at most once.
   */
  private async subscribeRun(socket: LiveSocket, runId: string, after: number, reply: (answer: SubscribeAck) => void): Promise<void> {
    const actor = this.actorOf(socket, 'Run', runId);
    const previous = socket.data.runs.get(runId);
    if (previous) this.dropRun(previous);
    const sub: RunSubscription = { socket, runId, last: after, queue: [], busy: true, closed: false };
    socket.data.runs.set(runId, sub);
    let subscribers = this.runs.get(runId);
    if (!subscribers) this.runs.set(runId, (subscribers = new Set()));
    subscribers.add(sub);
    let through: number;
    try {
      const run = await this.runsService.load(actor, runId, 'read');
      through = Number(run.lastSeq);
      reply({ ok: true, snapshot: runView(run), replayed: Math.max(0, through - after) });
    } catch (error) {
      this.dropRun(sub);
      throw error;
    }
    await this.fill(sub, through, 'replay');
  }

  /** Sends the run's events after `sub.last` up to `through` from the database, then what waited behind them. */
  private async fill(sub: RunSubscription, through: number, source: 'replay' | 'gap' = 'gap'): Promise<void> {
    sub.busy = true;
    try {
      while (sub.last < through && !sub.closed) {
        const rows = await this.runsService.eventsBetween(sub.runId, sub.last, through, REPLAY_PAGE);
        if (!rows.length) throw new Error(`run ${sub.runId} has no events after seq ${sub.last} up to ${through}`);
        // Read from the database, a replay waits for the client rather than cutting it: it holds nothing while it waits.
        if (!(await this.drained(sub.socket)) || sub.closed) return;
        for (const event of rows) sub.socket.emit('run.event', { runId: sub.runId, ...event });
        sub.last = rows[rows.length - 1]!.seq;
        this.metrics.live.replayed.inc({ source }, rows.length);
        this.metrics.live.deliveries.inc({ event: 'run.event' }, rows.length);
      }
    } catch (error) {
      // A socket that cannot be sent every event is closed; it resumes with `after`.
      this.logger.error(error, 'live replay failed');
      sub.socket.disconnect(true);
      return;
    }
    sub.busy = false;
    this.drain(sub);
  }

  /** Sends what is queued in order; a batch beyond the next seq first has the gap read from the database. */
  private drain(sub: RunSubscription): void {
    while (!sub.busy && !sub.closed && sub.queue.length) {
      if (this.tooSlow(sub.socket)) return;
      const item = sub.queue[0]!;
      if (item.kind === 'updated') {
        // A status relayed from another instance may overtake the events it follows: those are read first.
        if (item.update.lastSeq > sub.last) {
          void this.fill(sub, item.update.lastSeq);
          return;
        }
        sub.queue.shift();
        sub.socket.emit('run.updated', { runId: item.update.runId, status: item.update.status, lastSeq: item.update.lastSeq });
        this.metrics.live.deliveries.inc({ event: 'run.updated' });
        continue;
      }
      const first = item.events[0]!.seq;
      if (first > sub.last + 1) {
        void this.fill(sub, first - 1);
        return;
      }
      sub.queue.shift();
      for (const event of item.events) {
        if (event.seq <= sub.last) continue;
        sub.socket.emit('run.event', { runId: sub.runId, ...event });
        sub.last = event.seq;
        this.metrics.live.deliveries.inc({ event: 'run.event' });
      }
    }
  }

  /**
   * Sockets that are caught up (nothing queued, the batch starts right after
   * what they were sent) get the batch by one broadcast, encoded once; the
   * others queue it and catch up through drain.
   */
  private onRunEvents(batch: Pick<DomainEventMap['run.events'], 'runId' | 'events'>): void {
    const subscribers = this.runs.get(batch.runId);
    if (!subscribers) return;
    const first = batch.events[0]!.seq;
    const last = batch.events[batch.events.length - 1]!.seq;
    const caughtUp: string[] = [];
    const item: RunItem = { kind: 'events', events: batch.events };
    for (const sub of subscribers) {
      if (!sub.busy && !sub.queue.length && sub.last === first - 1) {
        // A socket cut as too slow leaves `subscribers` here (deleting from a Set being iterated is safe).
        if (this.tooSlow(sub.socket)) continue;
        caughtUp.push(sub.socket.id);
        sub.last = last;
      } else {
        // What waits behind a replay is bounded as the connection's buffer is.
        if (sub.queue.length >= this.config.liveSocketBuffer) {
          this.cutSlow(sub.socket);
          continue;
        }
        sub.queue.push(item);
        this.drain(sub);
      }
    }
    if (!caughtUp.length) return;
    // Local: the other instances hear of the batch by the relay, and send it to their own sockets.
    const room = this.nsp.local.to(caughtUp);
    for (const event of batch.events) room.emit('run.event', { runId: batch.runId, ...event });
    this.metrics.live.deliveries.inc({ event: 'run.event' }, caughtUp.length * batch.events.length);
  }

  /** A batch as relayed to the other instances: its events when they fit a NOTIFY, else its seq range. */
  private relayOf(batch: DomainEventMap['run.events']): [LiveRelay, number] {
    const first = batch.events[0]!.seq;
    const last = batch.events[batch.events.length - 1]!.seq;
    const eventBytes = Buffer.byteLength(JSON.stringify(batch.events));
    const range = { kind: 'run.events' as const, runId: batch.runId, first, last };
    // The range's own fields: a uuid and two numbers, within 150 bytes.
    return eventBytes <= RELAY_INLINE_BYTES ? [{ ...range, events: batch.events }, eventBytes + 150] : [range, 150];
  }

  /**
   * Queues what this instance published for the others. What is published in
   * one turn of the event loop goes out together, in order, as few NOTIFYs as
   * fit it: under load, concurrent commits share one, not one each.
   */
  private relay(relay: LiveRelay, bytes?: number): void {
    if (!this.relays) return;
    this.relayQueue.push({ relay, bytes: bytes ?? Buffer.byteLength(JSON.stringify(relay)) });
    this.relayTimer ??= setImmediate(() => this.flushRelays());
  }

  private flushRelays(): void {
    this.relayTimer = undefined;
    const queued = this.relayQueue;
    this.relayQueue = [];
    let message: LiveRelay[] = [];
    let bytes = 0;
    for (const item of queued) {
      if (message.length && bytes + item.bytes > RELAY_MESSAGE_BYTES) {
        this.nsp.serverSideEmit('relay', message);
        message = [];
        bytes = 0;
      }
      message.push(item.relay);
      bytes += item.bytes + 1;
    }
    if (message.length) this.nsp.serverSideEmit('relay', message);
  }

  /** What another instance published, handled here as if published here, in the order it came. */
  private onRelays(relays: LiveRelay[]): void {
    for (const relay of relays) {
      if (relay.kind === 'run.events') void this.onRelayedRunEvents(relay);
      else if (relay.kind === 'run.updated') this.onRunUpdated({ runId: relay.runId, status: relay.status, lastSeq: relay.lastSeq });
      else if (relay.kind === 'artifact.revised') this.onArtifactRevised(relay);
      else if (relay.kind === 'run.created') void this.onRunCreated(relay.orgId, relay.run);
      else this.cutShare(relay.shareId, 'revoked');
    }
  }

  /** Another instance's batch: as it came, or read once from the database for every subscriber here when only its range came. */
  private async onRelayedRunEvents(relayed: RelayedRunEvents): Promise<void> {
    if (relayed.events) return this.onRunEvents({ runId: relayed.runId, events: relayed.events });
    try {
      let after = relayed.first - 1;
      while (after < relayed.last && this.runs.has(relayed.runId)) {
        const events = await this.runsService.eventsBetween(relayed.runId, after, relayed.last, REPLAY_PAGE);
        if (!events.length) throw new Error(`run ${relayed.runId} has no events after seq ${after} up to ${relayed.last}`);
        this.onRunEvents({ runId: relayed.runId, events });
        after = events[events.length - 1]!.seq;
      }
    } catch (error) {
      // Each subscriber reads the gap itself when the run's next batch or status arrives.
      this.logger.error(error, 'live relay read failed');
    }
  }

  /**
   * A new run, to this instance's sockets watching the org's runs that may read it, each decided
   * as `GET /runs/{id}` would decide it now (their role and teams as they are, the org's bundle read once).
   */
  private async onRunCreated(orgId: string, run: RunFacts): Promise<void> {
    const watchers = this.nsp.adapter.rooms.get(runsRoom(orgId));
    if (!watchers?.size) return;
    try {
      const attributes = runAttributes({ ...run, orgId });
      let policy: CompiledPolicy | undefined;
      for (const id of [...watchers]) {
        const socket = this.nsp.sockets.get(id);
        const principal = socket?.data.principal;
        if (!socket || !principal || principal.type === 'share' || socket.data.closing) continue;
        const actor = deciding(principal);
        policy ??= await this.policy.policyFor(actor);
        if (!(await this.policy.decide(actor, 'read', 'Run', attributes, policy)).allowed) continue;
        socket.emit('run.created', { runId: run.id });
        this.metrics.live.deliveries.inc({ event: 'run.created' });
      }
    } catch (error) {
      // The list's watchers miss this one run; a list reads its first page again when it reconnects.
      this.logger.error(error, 'live run.created failed');
    }
  }

  private onRunUpdated(update: Omit<DomainEventMap['run.updated'], 'orgId'>): void {
    const subscribers = this.runs.get(update.runId);
    if (!subscribers) return;
    const item: RunItem = { kind: 'updated', update };
    for (const sub of subscribers) {
      if (sub.queue.length >= this.config.liveSocketBuffer) {
        this.cutSlow(sub.socket);
        continue;
      }
      sub.queue.push(item);
      this.drain(sub);
    }
  }

  private dropRun(sub: RunSubscription): void {
    sub.closed = true;
    sub.queue.length = 0;
    if (sub.socket.data.runs.get(sub.runId) === sub) sub.socket.data.runs.delete(sub.runId);
    const subscribers = this.runs.get(sub.runId);
    subscribers?.delete(sub);
    if (subscribers?.size === 0) this.runs.delete(sub.runId);
  }

  // --- Slow sockets -------------------------------------------------------------

  /**
   * Whether the socket has fallen too far behind to be sent more; if so it is
   * cut: told why after what it was already sent, then disconnected. Its
   * connection gets a grace to read that, then is dropped with whatever it
   * still holds, so a client that never reads holds no memory for long.
   */
  private tooSlow(socket: LiveSocket): boolean {
    if (socket.data.closing) return true;
    if (waiting(socket) < this.config.liveSocketBuffer) return false;
    this.cutSlow(socket);
    return true;
  }

  private cutSlow(socket: LiveSocket): void {
    if (socket.data.closing) return;
    socket.data.closing = 'too_slow';
    for (const sub of [...socket.data.runs.values()]) this.dropRun(sub);
    socket.emit('closing', { code: 'too_slow', message: 'This socket fell too far behind and was disconnected; subscribe again with after: the last seq received' });
    const conn = socket.conn;
    socket.disconnect(true);
    setTimeout(() => {
      if (conn.readyState !== 'closed') conn.close(true);
    }, SLOW_CLOSE_GRACE_MS).unref();
  }

  /**
   * Resolves true once the socket's connection has taken what it was sent
   * (at once when it is within its bound); false, and the socket cut as too
   * slow, when it has not within SLOW_CLOSE_GRACE_MS or it closed.
   */
  private async drained(socket: LiveSocket): Promise<boolean> {
    if (socket.data.closing) return false;
    if (waiting(socket) < this.config.liveSocketBuffer) return true;
    const conn = socket.conn;
    const taken = await new Promise<boolean>((resolve) => {
      const done = (value: boolean) => {
        clearTimeout(timer);
        conn.off('drain', onDrain);
        conn.off('close', onClose);
        resolve(value);
      };
      const onDrain = () => done(true);
      const onClose = () => done(false);
      const timer = setTimeout(() => done(false), SLOW_CLOSE_GRACE_MS);
      conn.on('drain', onDrain);
      conn.on('close', onClose);
    });
    if (!taken && socket.connected) this.cutSlow(socket);
    return taken && socket.connected;
  }

  // --- Artifacts and links ----------------------------------------------------

  private onArtifactRevised({ artifactId, revision, lastSeq }: Omit<DomainEventMap['artifact.revised'], 'orgId'>): void {
    const room = `artifact:${artifactId}`;
    const members = this.nsp.adapter.rooms.get(room);
    if (!members?.size) return;
    // A socket too far behind is cut (and so leaves the room) rather than sent more.
    for (const id of [...members]) {
      const socket = this.nsp.sockets.get(id);
      if (socket) this.tooSlow(socket);
    }
    const watchers = members.size;
    if (!watchers) return;
    this.noteAnnounced(artifactId, revision, lastSeq);
    this.nsp.local.to(room).emit('artifact.revised', lastSeq === undefined ? { artifactId, revision } : { artifactId, revision, lastSeq });
    this.metrics.live.deliveries.inc({ event: 'artifact.revised' }, watchers);
  }

  private async subscribeArtifact(socket: LiveSocket, artifactId: string): Promise<unknown> {
    const { principal } = socket.data;
    // A link's viewer may watch its link's artifact, as that link.
    if (principal.type === 'share') {
      if (principal.artifactId !== artifactId) throw new NotFoundError('Artifact', artifactId);
      return this.watchShare(socket, principal, undefined);
    }
    const { artifact } = await this.artifacts.load(this.actorOf(socket, 'Artifact', artifactId), artifactId, 'read');
    assertConnected(socket);
    if (!socket.data.watched.has(artifactId)) {
      socket.data.watched.add(artifactId);
      this.joinArtifact(socket, artifactId);
    }
    await this.noteSubscribed(artifact);
    return artifactView(artifact);
  }

  /** The org's runs as a list watches them: `run.created` for each new one the principal may read. */
  private async subscribeRuns(socket: LiveSocket): Promise<void> {
    const { principal } = socket.data;
    if (principal.type === 'share') throw new AppError(403, 'forbidden', 'Forbidden', "A share link's token watches its own artifact only");
    // The list route's check, on the type; each new run is decided as it comes.
    await this.policy.assert(deciding(principal), 'read', 'Run');
    assertConnected(socket);
    await socket.join(runsRoom(principal.orgId));
  }

  private async subscribeShare(socket: LiveSocket, token: string): Promise<unknown> {
    const { principal } = socket.data;
    const viewer = await this.sharing.viewer(token, principal.type === 'share' ? undefined : principal);
    return this.watchShare(socket, viewer, token);
  }

  private async watchShare(socket: LiveSocket, viewer: ShareViewer, token: string | undefined): Promise<unknown> {
    assertConnected(socket);
    const existing = socket.data.shares.get(viewer.shareId);
    if (existing) this.dropShare(existing);
    const sub: ShareSubscription = { socket, viewer, token, timer: undefined };
    socket.data.shares.set(viewer.shareId, sub);
    let watchers = this.shares.get(viewer.shareId);
    if (!watchers) this.shares.set(viewer.shareId, (watchers = new Set()));
    watchers.add(sub);
    // A pinned link never changes; one that follows the artifact hears of its revisions.
    if (viewer.revision === null) this.joinArtifact(socket, viewer.artifactId);
    this.armExpiry(sub);
    let artifact;
    try {
      // Registered first, then checked again: a revoke or expiry from now on reaches this socket, and one before it is seen here.
      await this.sharing.assertServing(viewer.shareId);
      artifact = await this.artifacts.ofShare(viewer.artifactId);
      if (viewer.revision === null) await this.noteSubscribed(artifact);
    } catch (error) {
      this.dropShare(sub);
      throw error;
    }
    return {
      share: { id: viewer.shareId, artifactId: viewer.artifactId, revision: viewer.revision, expiresAt: viewer.expiresAt?.toISOString() ?? null },
      artifact: { id: artifact.id, title: artifact.title, kind: artifact.kind, revision: viewer.revision ?? artifact.revision },
    };
  }

  /** Cut at the expiry itself, not at the viewer's next request. */
  private armExpiry(sub: ShareSubscription): void {
    const expiresAt = sub.viewer.expiresAt?.getTime();
    if (expiresAt === undefined) return;
    const wait = expiresAt - Date.now();
    sub.timer = setTimeout(() => (wait > MAX_TIMER_MS ? this.armExpiry(sub) : this.cut(sub, 'expired')), Math.max(0, Math.min(wait, MAX_TIMER_MS)));
    sub.timer.unref();
  }

  private cutShare(shareId: string, reason: 'revoked' | 'expired'): void {
    for (const sub of [...(this.shares.get(shareId) ?? [])]) this.cut(sub, reason);
    // Sockets that connected with the link's token and watch nothing yet; those on other instances hear of the revoke by the relay.
    this.nsp.local.in(`viewer:${shareId}`).disconnectSockets(true);
  }

  /** Tells the viewer, takes it out of the link's rooms, and closes a socket left watching nothing. */
  private cut(sub: ShareSubscription, reason: 'revoked' | 'expired'): void {
    sub.socket.emit('share.revoked', { shareId: sub.viewer.shareId, reason });
    this.metrics.live.deliveries.inc({ event: 'share.revoked' });
    this.dropShare(sub);
    const state = sub.socket.data;
    if (state.principal.type === 'share' || (!state.runs.size && !state.artifacts.size && !state.shares.size)) sub.socket.disconnect(true);
  }

  private dropShare(sub: ShareSubscription): void {
    clearTimeout(sub.timer);
    const { socket, viewer } = sub;
    if (socket.data.shares.get(viewer.shareId) === sub) socket.data.shares.delete(viewer.shareId);
    const watchers = this.shares.get(viewer.shareId);
    watchers?.delete(sub);
    if (watchers?.size === 0) this.shares.delete(viewer.shareId);
    if (viewer.revision === null) this.leaveArtifact(socket, viewer.artifactId);
  }

  private joinArtifact(socket: LiveSocket, artifactId: string): void {
    const held = socket.data.artifacts.get(artifactId) ?? 0;
    socket.data.artifacts.set(artifactId, held + 1);
    if (!held) void socket.join(`artifact:${artifactId}`);
  }

  private leaveArtifact(socket: LiveSocket, artifactId: string): void {
    const held = socket.data.artifacts.get(artifactId) ?? 0;
    if (held > 1) return void socket.data.artifacts.set(artifactId, held - 1);
    socket.data.artifacts.delete(artifactId);
    void socket.leave(`artifact:${artifactId}`);
  }
}
