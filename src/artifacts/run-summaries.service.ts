import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { DomainEvents } from '../common/domain-events.js';
import { OutageWarnings } from '../database/unavailable.js';
import { ArtifactsService } from './artifacts.service.js';

/** At most one `artifact.revised` per run-summary this often: a run at 500 events/s would otherwise re-render its viewers 500 times a second. */
export const RUN_SUMMARY_INTERVAL_MS = 250;
/** How long a lookup that failed (the database away) waits before the next try. */
const RETRY_MS = 1_000;

/**
 * A run-summary artifact is rendered from its run on read, so it has no
 * revisions of its own: when its run changes (events, a status), its viewers
 * are told by `artifact.revised` (its revision, and the run's last seq). The
 * runs that changed are gathered and looked up together, at most once per
 * RUN_SUMMARY_INTERVAL_MS, and always once after a run's last change.
 */
@Injectable()
export class RunSummariesService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('Artifacts');
  private readonly outage = new OutageWarnings(this.logger, 'the database does not answer: run summaries are announced once it is back');
  /** Runs changed since the last lookup, with the last seq committed. */
  private changed = new Map<string, { orgId: string; lastSeq: number }>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  /** When the next lookup may start. */
  private nextAt = 0;
  private readonly stops: (() => void)[] = [];

  constructor(
    @Inject(DomainEvents) private readonly events: DomainEvents,
    @Inject(ArtifactsService) private readonly artifacts: ArtifactsService,
  ) {}

  onModuleInit(): void {
    this.stops.push(
      this.events.subscribe('run.events', ({ orgId, runId, events }) => this.runChanged(orgId, runId, events[events.length - 1]!.seq)),
      this.events.subscribe('run.updated', ({ orgId, runId, lastSeq }) => this.runChanged(orgId, runId, lastSeq)),
    );
  }

  async onModuleDestroy(): Promise<void> {
    for (const stop of this.stops.splice(0)) stop();
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.flushing;
  }

  private runChanged(orgId: string, runId: string, lastSeq: number): void {
    const known = this.changed.get(runId);
    this.changed.set(runId, { orgId, lastSeq: Math.max(known?.lastSeq ?? 0, lastSeq) });
    this.schedule();
  }

  private schedule(): void {
    if (this.timer || this.flushing || !this.changed.size || !this.stops.length) return;
    this.timer = setTimeout(() => (this.flushing = this.flush()), Math.max(0, this.nextAt - Date.now()));
    this.timer.unref();
  }

  private async flush(): Promise<void> {
    this.timer = undefined;
    this.nextAt = Date.now() + RUN_SUMMARY_INTERVAL_MS;
    const runs = this.changed;
    this.changed = new Map();
    try {
      const summaries = await this.artifacts.runSummaries([...runs].map(([runId, { orgId }]) => ({ orgId, runId })));
      for (const summary of summaries) {
        this.events.publish('artifact.revised', { orgId: summary.orgId, artifactId: summary.id, revision: summary.revision, lastSeq: runs.get(summary.runId)!.lastSeq });
      }
    } catch (error) {
      // Not lost: tried again with what changed meanwhile.
      for (const [runId, change] of runs) {
        const later = this.changed.get(runId);
        this.changed.set(runId, { orgId: change.orgId, lastSeq: Math.max(change.lastSeq, later?.lastSeq ?? 0) });
      }
      this.nextAt = Date.now() + RETRY_MS;
      this.outage.failed(error, 'announcing run summaries');
    } finally {
      this.flushing = undefined;
      this.schedule();
    }
  }
}
