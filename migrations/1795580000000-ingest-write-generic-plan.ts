import type { MigrationInterface, QueryRunner } from 'typeorm';

const SIGNATURE = `vitrine_ingest_write(uuid[], uuid[], bigint[], text[], uuid[], bigint[], uuid[], timestamptz[], text[], text[], jsonb[],
  uuid[], text[], text[], text[], float8[], text[], bool[], timestamptz[], timestamptz[], bool[], bool[], jsonb[], jsonb[],
  uuid[], bigint[], text[], bool[], integer)`;

/**
 * vitrine_ingest_write plans its six statements once per connection instead
 * of on every call. Planning them was most of its cost: a single-event call
 * took about 500 µs of the database's CPU, 190 µs with the plans kept (and a
 * 100-event call 2.7 ms against 1.9 ms), measured in one session on 64k nodes
 * and 138k events.
 *
 * A generic plan cannot see how many rows the arrays hold, and when
 * run_nodes was small as the plan was made it could join it by hash over a
 * sequential scan, and keep that plan as the table grows. Every table access
 * in the function is by primary key, driven by the arrays, so hash and merge
 * joins and sequential scans are turned off inside it: the only plans left
 * are index lookups in nested loops, whatever the statistics say.
 */
export class IngestWriteGenericPlan1795580000000 implements MigrationInterface {
  name = 'IngestWriteGenericPlan1795580000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER FUNCTION ${SIGNATURE} SET plan_cache_mode = force_generic_plan SET enable_hashjoin = off SET enable_mergejoin = off SET enable_seqscan = off`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER FUNCTION ${SIGNATURE} RESET enable_hashjoin RESET enable_mergejoin RESET enable_seqscan SET plan_cache_mode = force_custom_plan`);
  }
}
