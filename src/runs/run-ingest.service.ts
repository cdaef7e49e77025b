import { Inject, Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import { DomainEvents } from '../common/domain-events.js';
import { NotFoundError } from '../common/problem.js';
import { pgJsonArray } from '../database/pg-array.js';
import { queryRows } from '../database/query-rows.js';
import type { Actor } from '../identity/actor.js';
import { RunState, TERMINAL_RUN, type NewEvent, type NodeState } from './run-state.js';
import type { RunStatus } from './run.entity.js';
import type { IncomingEvent, IngestResult, RunEventView } from './runs.schemas.js';

/** How long a run's reporter token keeps working after the run ends (late retries, final artifact updates). */
export const REPORTER_GRACE_SECONDS = 3600;

type Job =
  | { kind: 'events'; events: IncomingEvent[]; resolve(result: IngestResult): void; reject(error: unknown): void }
  | { kind: 'cancel'; actor: Actor; resolve(result: IngestResult): void; reject(error: unknown): void }
  | { kind: 'stall'; keys: string[]; resolve(result: IngestResult): void; reject(error: unknown): void };

interface Pending {
  orgId: string;
  jobs: Job[];
}

/** Runs one transaction takes at most. */
const MAX_RUNS_PER_TRANSACTION = 64;
/** Nodes (over all runs) whose state an instance keeps between writes: about 100 MB at most. */
const MAX_CACHED_NODES = 200_000;

/** A run as this instance last wrote it. Only a hint: the write statement checks it under the run's lock. */
interface CachedRun {
  orgId: string;
  status: RunStatus;
  lastSeq: number;
  staleAfterSeconds: number;
  nodes: Map<string, NodeState>;
}

/** The runs this instance wrote last, bounded by their nodes; the least recently written run is dropped first. */
export class RunCache {
  private readonly runs = new Map<string, CachedRun>();
  private nodes = 0;

  constructor(private readonly maxNodes = MAX_CACHED_NODES) {}

  get(runId: string): CachedRun | undefined {
    return this.runs.get(runId);
  }

  delete(runId: string): void {
    const run = this.runs.get(runId);
    if (!run) return;
    this.runs.delete(runId);
    this.nodes -= run.nodes.size;
  }

  set(runId: string, run: CachedRun): void {
    this.delete(runId);
    if (run.nodes.size > this.maxNodes) return;
    while (this.nodes + run.nodes.size > this.maxNodes) this.delete(this.runs.keys().next().value!);
    this.runs.set(runId, run);
    this.nodes += run.nodes.size;
  }
}

type Outcome = { ok: true; accepted: number; duplicates: number; lastIndex: number } | { ok: false; error: unknown };

/** One run's waiting jobs, and once applied, each job's outcome. */
interface RunWork {
  runId: string;
  orgId: string;
  jobs: Job[];
  outcomes: Outcome[];
}

/** A run whose jobs were applied under its lock: the new state and where its events start. */
interface Applied {
  work: RunWork;
  state: RunState;
  previous: RunStatus;
  staleAfterSeconds: number;
  firstSeq: number;
  lastSeq: number;
}

export function eventView(seq: number, event: NewEvent): RunEventView {
  return { seq, id: event.id, at: event.at, node: event.node, type: event.type, ...event.data };
}

/**
 * The one writer of run state. Requests that arrive while a write is running
 * wait, then go together in the next one (a group commit), for one run or
 * many. When this instance wrote all of the batch's runs last, the events are
 * applied to its cached state and committed by one statement that checks the
 * cache under the runs' row locks (commitFromCache); otherwise, or if that
 * check fails, a transaction locks the runs (in id order, so instances never
 * deadlock), reads their state and writes with the same statement
 * (commitLocked). Each request is still all or nothing, and seqs stay
 * contiguous across instances because the row lock orders writers.
 */
@Injectable()
export class RunIngestService {
  private readonly pending = new Map<string, Pending>();
  private readonly cache = new RunCache();
  /** Whether a transaction is running: an instance runs one at a time (see pump). */
  private running = false;

  constructor(
    @Inject(DataSource) private readonly db: DataSource,
    @Inject(DomainEvents) private readonly domainEvents: DomainEvents,
    @Inject(AuditService) private readonly audit: AuditService,
  ) {}

  ingest(orgId: string, runId: string, events: IncomingEvent[]): Promise<IngestResult> {
    return new Promise((resolve, reject) => this.enqueue(orgId, runId, { kind: 'events', events, resolve, reject }));
  }

  cancel(actor: Actor, runId: string): Promise<IngestResult> {
    return new Promise((resolve, reject) => this.enqueue(actor.orgId, runId, { kind: 'cancel', actor, resolve, reject }));
  }

  /** Marks nodes stalled if, under the run's lock, they are still running and silent past the run's limit. */
  stall(orgId: string, runId: string, keys: string[]): Promise<IngestResult> {
    return new Promise((resolve, reject) => this.enqueue(orgId, runId, { kind: 'stall', keys, resolve, reject }));
  }

  private enqueue(orgId: string, runId: string, job: Job): void {
    const waiting = this.pending.get(runId);
    if (waiting && waiting.orgId !== orgId) return job.reject(new NotFoundError('Run', runId));
    if (waiting) waiting.jobs.push(job);
    else this.pending.set(runId, { orgId, jobs: [job] });
    this.pump();
  }

  /**
   * Starts a transaction with the waiting runs unless one is running; what
   * arrives meanwhile waits and goes together in the next. One at a time: a
   * transaction costs about as much for one event as for twenty, so waiting
   * to share the next commit beats starting a second (bench:ingest, 32
   * reporters: single events 4.9k → 5.4k/s with half the commits; 100-event
   * batches unchanged within the noise). Below saturation too: with up to
   * two at once (on different runs), 2,600 single events/s from 32 reporters
   * took 83-87% of the service's thread instead of 69-72%, and answered in
   * p50 2.3-2.6 ms instead of 1.7-1.9 (bench:profile, three interleaved
   * pairs; p99 within the noise). It also keeps a run out of two
   * transactions at once.
   */
  private pump(): void {
    if (this.running) return;
    const batch: RunWork[] = [];
    for (const [runId, waiting] of this.pending) {
      batch.push({ runId, orgId: waiting.orgId, jobs: waiting.jobs, outcomes: [] });
      if (batch.length === MAX_RUNS_PER_TRANSACTION) break;
    }
    if (batch.length === 0) return;
    for (const work of batch) this.pending.delete(work.runId);
    this.running = true;
    void this.commit(batch)
      .catch((error: unknown) => {
        for (const work of batch) for (const job of work.jobs) job.reject(error);
      })
      .finally(() => {
        this.running = false;
        this.pump();
      });
  }

  private async commit(batch: RunWork[]): Promise<void> {
    batch.sort((a, b) => (a.runId < b.runId ? -1 : 1));
    let applied: Applied[];
    try {
      applied = (await this.commitFromCache(batch)) ?? (await this.commitLocked(batch));
    } catch (error) {
      // Whether it committed is unknown: the next write reads the runs again.
      for (const work of batch) this.cache.delete(work.runId);
      throw error;
    }
    for (const run of applied) this.remember(run);
    for (const { work, state, previous, firstSeq, lastSeq } of applied) {
      const status = state.runStatus;
      if (state.events.length) this.domainEvents.publish('run.events', { orgId: work.orgId, runId: work.runId, events: state.events.map((e, i) => eventView(firstSeq + i, e)) });
      if (status !== previous) this.domainEvents.publish('run.updated', { orgId: work.orgId, runId: work.runId, status, lastSeq });
    }
    const runs = new Map(applied.map((a) => [a.work, a]));
    for (const work of batch) {
      work.jobs.forEach((job, i) => {
        const outcome = work.outcomes[i]!;
        if (!outcome.ok) return job.reject(outcome.error);
        const { firstSeq, lastSeq } = runs.get(work)!;
        job.resolve({ accepted: outcome.accepted, duplicates: outcome.duplicates, lastSeq: outcome.lastIndex >= 0 ? firstSeq + outcome.lastIndex : lastSeq });
      });
    }
  }

  /**
   * The common case in one round trip: every run of the batch is cached and
   * only reporters' events wait. The events are applied to the cached state,
   * and the write statement itself checks under the runs' locks that the
   * cache was current and no event id is a retry; if not, it writes nothing
   * and this answers null, for the locked path to redo the batch.
   */
  private async commitFromCache(batch: RunWork[]): Promise<Applied[] | null> {
    const cached = batch.map((work) => this.cache.get(work.runId));
    if (cached.some((run, i) => !run || run.orgId !== batch[i]!.orgId) || batch.some((work) => work.jobs.some((job) => job.kind !== 'events'))) return null;
    const now = new Date().toISOString();
    // Applied to the cached nodes in place, not a copy of them (a run may have 2,000): the
    // run is in flight, so no other write reads them, and a write that does not commit drops it.
    const applied = batch.map((work, i) => {
      const run = cached[i]!;
      return this.apply(work, run.status, run.nodes, { seen: new Set(), stale: new Set(), staleAfterSeconds: run.staleAfterSeconds }, run.lastSeq, now);
    });
    if (await this.write(this.db.manager, applied)) return applied;
    for (const work of batch) {
      this.cache.delete(work.runId);
      work.outcomes = [];
    }
    return null;
  }

  /** Locks the runs, reads their state and writes, in one transaction: for cancels, stall marks, retries and runs not cached. */
  private async commitLocked(batch: RunWork[]): Promise<Applied[]> {
    const applied: Applied[] = [];
    await this.db.transaction(async (manager) => {
      // Lock first; what follows reads with a snapshot taken after the lock, so it sees the previous writer's commit.
      const locked: { id: string; org_id: string; status: RunStatus; last_seq: string; stale_after_seconds: number }[] = await queryRows(
        manager,
        `SELECT id, org_id, status, last_seq, stale_after_seconds FROM runs WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE`,
        [batch.map((w) => w.runId)],
        'vitrine_runs_lock',
      );
      const runs = new Map(locked.map((r) => [r.id, r]));
      const live = batch.filter((work) => {
        const run = runs.get(work.runId);
        if (run && run.org_id === work.orgId) return true;
        work.outcomes = work.jobs.map(() => ({ ok: false, error: new NotFoundError('Run', work.runId) }));
        return false;
      });
      if (live.length === 0) return;
      const states = await this.readState(manager, live);
      const now = new Date().toISOString();
      for (const work of live) {
        const run = runs.get(work.runId)!;
        const { nodes, seen, stale } = states.get(work.runId)!;
        applied.push(this.apply(work, run.status, nodes, { seen, stale, staleAfterSeconds: run.stale_after_seconds }, Number(run.last_seq), now));
      }
      const changes = applied.some((a) => a.state.events.length > 0 || a.state.changed.size > 0);
      if (changes && !(await this.write(manager, applied))) throw new Error('vitrine_ingest_write refused a batch written under its own locks');
      for (const { work, lastSeq } of applied) {
        for (const [i, job] of work.jobs.entries()) {
          if (job.kind === 'cancel' && work.outcomes[i]!.ok) {
            await this.audit.record(manager, { orgId: work.orgId, actor: job.actor, action: 'run.cancel', resource: { type: 'Run', id: work.runId }, details: { lastSeq } });
          }
        }
      }
    });
    return applied;
  }

  /** Tries each of the run's jobs in order on its state; a job that breaks a rule fails alone and leaves no trace. */
  private apply(work: RunWork, status: RunStatus, nodes: Map<string, NodeState>, run: { seen: Set<string>; stale: Set<string>; staleAfterSeconds: number }, lastSeq: number, now: string): Applied {
    const state = new RunState(status, nodes);
    for (const job of work.jobs) {
      try {
        const before = state.events.length;
        let result = { accepted: 0, duplicates: 0 };
        if (job.kind === 'events') result = state.apply(job.events, run.seen, now);
        else if (job.kind === 'cancel') state.cancel(now);
        else result.accepted = state.stall(job.keys.filter((k) => run.stale.has(k)), run.staleAfterSeconds, now);
        work.outcomes.push({ ok: true, ...result, lastIndex: state.events.length > before ? state.events.length - 1 : -1 });
      } catch (error) {
        work.outcomes.push({ ok: false, error });
      }
    }
    return { work, state, previous: status, staleAfterSeconds: run.staleAfterSeconds, firstSeq: lastSeq + 1, lastSeq: lastSeq + state.events.length };
  }

  /** Keeps the run's committed state for its next write; a run that ended takes no more events, so it is dropped. */
  private remember({ work, state, lastSeq, staleAfterSeconds }: Applied): void {
    if (TERMINAL_RUN.has(state.runStatus)) return this.cache.delete(work.runId);
    const { nodes } = state;
    // As a fresh read has them: output and error are only ever read back from the database, and the touch was this write's.
    for (const key of state.changed) nodes.set(key, { ...nodes.get(key)!, output: undefined, error: null, touched: undefined });
    this.cache.set(work.runId, { orgId: work.orgId, status: state.runStatus, lastSeq, staleAfterSeconds, nodes });
  }

  /**
   * Per run: its nodes, which of its requests' event ids it has stored already,
   * and which of its stall candidates are silent past the run's limit (by the database's clock).
   */
  private async readState(manager: EntityManager, runs: RunWork[]) {
    const idPairs = runs.flatMap((w) => w.jobs.flatMap((job) => (job.kind === 'events' ? job.events.flatMap((e) => (e.id ? [[w.runId, e.id] as const] : [])) : [])));
    const keyPairs = runs.flatMap((w) => w.jobs.flatMap((job) => (job.kind === 'stall' ? job.keys.map((key) => [w.runId, key] as const) : [])));
    const rows: {
      id: string;
      nodes: [string, string[], NodeState['status'], string | null, number | null, string | null, boolean, string | null, string | null][];
      seen: string[];
      stale: string[];
    }[] = await queryRows(
      manager,
      `SELECT r.id,
         (SELECT COALESCE(json_agg(json_build_array(n.key, n.depends_on, n.status, n.reason, n.percent, n.message, n.stalled,
                   to_char(n.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                   to_char(n.ended_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))), '[]'::json)
            FROM run_nodes n WHERE n.run_id = r.id) AS nodes,
         ARRAY(SELECT e.id::text FROM unnest($2::uuid[], $3::uuid[]) AS s(run_id, id)
                 JOIN run_events e ON e.run_id = s.run_id AND e.id = s.id
                WHERE s.run_id = r.id) AS seen,
         ARRAY(SELECT n.key FROM unnest($4::uuid[], $5::text[]) AS k(run_id, key)
                 JOIN run_nodes n ON n.run_id = k.run_id AND n.key = k.key
                 JOIN runs rr ON rr.id = n.run_id
                WHERE k.run_id = r.id AND n.status = 'running' AND NOT n.stalled
                  AND n.last_event_at < now() - make_interval(secs => rr.stale_after_seconds)) AS stale
       FROM unnest($1::uuid[]) AS r(id)`,
      [runs.map((w) => w.runId), idPairs.map((p) => p[0]), idPairs.map((p) => p[1]), keyPairs.map((p) => p[0]), keyPairs.map((p) => p[1])],
      'vitrine_runs_state',
    );
    return new Map(
      rows.map((row) => [
        row.id,
        {
          nodes: new Map<string, NodeState>(
            row.nodes.map(([key, dependsOn, status, reason, percent, message, stalled, startedAt, endedAt]) => [
              key,
              { key, dependsOn, status, reason, percent, message, stalled, startedAt, endedAt, output: undefined, error: null },
            ]),
          ),
          seen: new Set(row.seen),
          stale: new Set(row.stale),
        },
      ]),
    );
  }

  /**
   * Every run's events, touched nodes and the runs themselves in one
   * statement, vitrine_ingest_write (see its migration): one round trip,
   * whatever the batch. False when a run was not at the seq and status it was
   * applied to, or an event id is stored already; then nothing was written.
   */
  private async write(manager: EntityManager, runs: Applied[]): Promise<boolean> {
    const changedRuns = runs.filter((r) => r.state.events.length || r.state.changed.size);
    const events = changedRuns.flatMap((r) => r.state.events.map((e, i) => ({ runId: r.work.runId, seq: r.firstSeq + i, e })));
    const changed = changedRuns.flatMap((r) => [...r.state.changed].map((key) => ({ runId: r.work.runId, n: r.state.node(key)! })));
    // Prepared: the call itself plans the same every time (the function keeps its own statements' plans per connection).
    const [{ ok }] = await queryRows<{ ok: boolean }>(
      manager,
      `SELECT vitrine_ingest_write($1::uuid[], $2::uuid[], $3::bigint[], $4::text[],
         $5::uuid[], $6::bigint[], $7::uuid[], $8::timestamptz[], $9::text[], $10::text[], $11::jsonb[],
         $12::uuid[], $13::text[], $14::text[], $15::text[], $16::float8[], $17::text[], $18::bool[], $19::timestamptz[], $20::timestamptz[], $21::bool[], $22::bool[], $23::jsonb[], $24::jsonb[],
         $25::uuid[], $26::bigint[], $27::text[], $28::bool[], $29::integer) AS ok`,
      [
        runs.map((r) => r.work.runId),
        runs.map((r) => r.work.orgId),
        runs.map((r) => r.firstSeq - 1),
        runs.map((r) => r.previous),
        events.map((x) => x.runId),
        events.map((x) => x.seq),
        events.map((x) => x.e.id),
        events.map((x) => x.e.at),
        events.map((x) => x.e.node),
        events.map((x) => x.e.type),
        pgJsonArray(events.map((x) => x.e.data)),
        changed.map((x) => x.runId),
        changed.map((x) => x.n.key),
        changed.map((x) => x.n.status),
        changed.map((x) => x.n.reason),
        changed.map((x) => x.n.percent),
        changed.map((x) => x.n.message),
        changed.map((x) => x.n.stalled),
        changed.map((x) => x.n.startedAt),
        changed.map((x) => x.n.endedAt),
        changed.map((x) => x.n.touched === true),
        changed.map((x) => x.n.output !== undefined),
        pgJsonArray(changed.map((x) => x.n.output)),
        pgJsonArray(changed.map((x) => x.n.error ?? undefined)),
        changedRuns.map((r) => r.work.runId),
        changedRuns.map((r) => r.lastSeq),
        changedRuns.map((r) => r.state.runStatus),
        changedRuns.map((r) => TERMINAL_RUN.has(r.state.runStatus) && !TERMINAL_RUN.has(r.previous)),
        REPORTER_GRACE_SECONDS,
      ],
      'vitrine_ingest_write',
    );
    return ok!;
  }
}
