import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Progress events update a node in place (a HOT update: no new index
 * entries) instead of writing a new row version into every index of
 * run_nodes.
 *
 * Every event sets its node's last_event_at, which the stall sweep's partial
 * index held as its key, so no update of run_nodes could be HOT: each event
 * added an entry to that index and to the primary key. The sweep's
 * condition compares last_event_at with each run's own limit, so it cannot
 * seek that index by time anyway: it reads every running node that is not
 * stalled. The new index keeps that set by run_id, which no event changes;
 * only a change of status or stalled touches it.
 *
 * A HOT update needs room on the row's page; fillfactor 70 leaves that room
 * on the pages written from now on (a node's row is rewritten by every event
 * while the node runs).
 */
export class RunNodesHotUpdates1795590000000 implements MigrationInterface {
  name = 'RunNodesHotUpdates1795590000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "ix_run_nodes_stall_sweep"`);
    await queryRunner.query(`CREATE INDEX "ix_run_nodes_running" ON "run_nodes" ("run_id") WHERE "status" = 'running' AND NOT "stalled"`);
    await queryRunner.query(`ALTER TABLE "run_nodes" SET (fillfactor = 70)`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "run_nodes" RESET (fillfactor)`);
    await queryRunner.query(`DROP INDEX "ix_run_nodes_running"`);
    await queryRunner.query(`CREATE INDEX "ix_run_nodes_stall_sweep" ON "run_nodes" ("last_event_at") WHERE "status" = 'running' AND NOT "stalled"`);
  }
}
