import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../config/config.schema.js';
import { OutageWarnings } from '../database/unavailable.js';
import { RunIngestService } from './run-ingest.service.js';

/** Running nodes silent past their run's limit, by run (at most 500 runs a sweep); read through ix_run_nodes_running. */
export const STALL_CANDIDATES = `SELECT n.run_id, r.org_id, array_agg(n.key) AS keys
   FROM run_nodes n JOIN runs r ON r.id = n.run_id
  WHERE n.status = 'running' AND NOT n.stalled AND n.last_event_at < now() - make_interval(secs => r.stale_after_seconds)
  GROUP BY n.run_id, r.org_id
  LIMIT 500`;

/**
 * Finds running nodes silent past their run's `staleAfterSeconds` and has the
 * run's writer mark them stalled. Several instances may sweep: one at a time
 * looks (advisory lock), and the mark is re-checked under the run's row lock,
 * so a node is never marked twice and a late event wins.
 */
@Injectable()
export class StallSweeperService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Runs');
  private readonly outage = new OutageWarnings(this.logger, 'the database does not answer: stall sweeps are skipped');
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();

  constructor(
    @Inject(DataSource) private readonly db: DataSource,
    @Inject(RunIngestService) private readonly ingest: RunIngestService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      this.running = this.sweep().catch((error: unknown) => this.outage.failed(error, 'stall sweep'));
    }, this.config.stallSweepIntervalMs);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** Returns how many nodes it marked. */
  async sweep(): Promise<number> {
    const candidates = await this.db.transaction(async (manager) => {
      const [{ locked }] = await manager.query(`SELECT pg_try_advisory_xact_lock(hashtextextended('vitrine:stall-sweep', 0)) AS locked`);
      if (!locked) return [];
      return (await manager.query(STALL_CANDIDATES)) as { run_id: string; org_id: string; keys: string[] }[];
    });
    const results = await Promise.all(candidates.map((c) => this.ingest.stall(c.org_id, c.run_id, c.keys).catch(() => ({ accepted: 0 }))));
    return results.reduce((sum, r) => sum + r.accepted, 0);
  }
}
