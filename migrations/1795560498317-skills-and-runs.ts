import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Tools, versioned skills, DAG runs with their nodes, and the runs' event log. */
export class SkillsAndRuns1795560498317 implements MigrationInterface {
  name = 'SkillsAndRuns1795560498317';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE TABLE "runs" ("id" uuid NOT NULL, "org_id" uuid NOT NULL, "title" text NOT NULL, "team_id" uuid, "labels" jsonb NOT NULL DEFAULT '{}', "status" text NOT NULL, "stale_after_seconds" integer NOT NULL, "last_seq" bigint NOT NULL DEFAULT '0', "reporter_token_hash" bytea NOT NULL, "reporter_expires_at" TIMESTAMP WITH TIME ZONE, "created_by" uuid NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "ended_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_46d6a1e257c38ba58f1a3c30836" PRIMARY KEY ("id"))`);
    await queryRunner.query(`CREATE UNIQUE INDEX "uq_runs_reporter_token" ON "runs"  ("reporter_token_hash") `);
    await queryRunner.query(`CREATE INDEX "ix_runs_org_team" ON "runs"  ("org_id", "team_id", "id") `);
    await queryRunner.query(`CREATE INDEX "ix_runs_org_status" ON "runs"  ("org_id", "status", "id") `);
    await queryRunner.query(`CREATE INDEX "ix_runs_org" ON "runs"  ("org_id", "id") `);
    await queryRunner.query(`CREATE TABLE "run_nodes" ("run_id" uuid NOT NULL, "key" text NOT NULL, "position" integer NOT NULL, "title" text NOT NULL, "skill_id" uuid NOT NULL, "skill" text NOT NULL, "depends_on" text array NOT NULL, "status" text NOT NULL, "reason" text, "percent" double precision, "message" text, "stalled" boolean NOT NULL DEFAULT false, "started_at" TIMESTAMP WITH TIME ZONE, "ended_at" TIMESTAMP WITH TIME ZONE, "last_event_at" TIMESTAMP WITH TIME ZONE, "output" jsonb, "error" jsonb, CONSTRAINT "PK_46af9435650013ffb393bb3b9c4" PRIMARY KEY ("run_id", "key"))`);
    await queryRunner.query(`CREATE INDEX "ix_run_nodes_stall_sweep" ON "run_nodes"  ("last_event_at") WHERE "status" = 'running' AND NOT "stalled"`);
    await queryRunner.query(`CREATE TABLE "tools" ("id" uuid NOT NULL, "org_id" uuid NOT NULL, "name" text NOT NULL, "description" text NOT NULL, "risk" text NOT NULL, "created_by" uuid NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_e23d56734caad471277bad8bf85" PRIMARY KEY ("id"))`);
    await queryRunner.query(`CREATE UNIQUE INDEX "uq_tools_org_name" ON "tools"  ("org_id", "name") `);
    await queryRunner.query(`CREATE TABLE "skills" ("id" uuid NOT NULL, "org_id" uuid NOT NULL, "name" text NOT NULL, "version" text NOT NULL, "description" text NOT NULL, "input_schema" jsonb, "created_by" uuid NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_0d3212120f4ecedf90864d7e298" PRIMARY KEY ("id"))`);
    await queryRunner.query(`CREATE UNIQUE INDEX "uq_skills_org_name_version" ON "skills"  ("org_id", "name", "version") `);
    await queryRunner.query(`CREATE TABLE "skill_tools" ("skill_id" uuid NOT NULL, "tool_id" uuid NOT NULL, CONSTRAINT "PK_d9f5f99e74ed2f23a312d6eb19c" PRIMARY KEY ("skill_id", "tool_id"))`);
    await queryRunner.query(`CREATE INDEX "IDX_1aee064946a97ab8cd199efc17" ON "skill_tools"  ("skill_id") `);
    await queryRunner.query(`CREATE INDEX "IDX_cfbec4ce9e0f7764235d2035c2" ON "skill_tools"  ("tool_id") `);
    await queryRunner.query(`ALTER TABLE "runs" ADD CONSTRAINT "fk_runs_org" FOREIGN KEY ("org_id") REFERENCES "orgs"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    await queryRunner.query(`ALTER TABLE "runs" ADD CONSTRAINT "fk_runs_team" FOREIGN KEY ("team_id") REFERENCES "teams"("id") ON DELETE SET NULL ON UPDATE NO ACTION`);
    await queryRunner.query(`ALTER TABLE "run_nodes" ADD CONSTRAINT "fk_run_nodes_run" FOREIGN KEY ("run_id") REFERENCES "runs"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    await queryRunner.query(`ALTER TABLE "tools" ADD CONSTRAINT "fk_tools_org" FOREIGN KEY ("org_id") REFERENCES "orgs"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    await queryRunner.query(`ALTER TABLE "skills" ADD CONSTRAINT "fk_skills_org" FOREIGN KEY ("org_id") REFERENCES "orgs"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    await queryRunner.query(`ALTER TABLE "skill_tools" ADD CONSTRAINT "fk_skill_tools_skill" FOREIGN KEY ("skill_id") REFERENCES "skills"("id") ON DELETE CASCADE ON UPDATE CASCADE`);
    await queryRunner.query(`ALTER TABLE "skill_tools" ADD CONSTRAINT "fk_skill_tools_tool" FOREIGN KEY ("tool_id") REFERENCES "tools"("id") ON DELETE CASCADE ON UPDATE CASCADE`);
    // Written only by the ingest path in raw SQL (multi-row inserts), so it has
    // no entity. No foreign key to runs: the ingest holds the run's row lock
    // already, and a per-row key check would cost every event a lookup.
    await queryRunner.query(`CREATE TABLE "run_events" (
  "run_id" uuid NOT NULL,
  "seq" bigint NOT NULL,
  "id" uuid NOT NULL,
  "at" TIMESTAMP WITH TIME ZONE NOT NULL,
  "node" text NOT NULL,
  "type" text NOT NULL,
  "data" jsonb NOT NULL,
  CONSTRAINT "pk_run_events" PRIMARY KEY ("run_id", "seq")
)`);
    await queryRunner.query(`CREATE UNIQUE INDEX "uq_run_events_run_event_id" ON "run_events" ("run_id", "id")`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "run_events"`);
    await queryRunner.query(`ALTER TABLE "skill_tools" DROP CONSTRAINT "fk_skill_tools_tool"`);
    await queryRunner.query(`ALTER TABLE "skill_tools" DROP CONSTRAINT "fk_skill_tools_skill"`);
    await queryRunner.query(`ALTER TABLE "skills" DROP CONSTRAINT "fk_skills_org"`);
    await queryRunner.query(`ALTER TABLE "tools" DROP CONSTRAINT "fk_tools_org"`);
    await queryRunner.query(`ALTER TABLE "run_nodes" DROP CONSTRAINT "fk_run_nodes_run"`);
    await queryRunner.query(`ALTER TABLE "runs" DROP CONSTRAINT "fk_runs_team"`);
    await queryRunner.query(`ALTER TABLE "runs" DROP CONSTRAINT "fk_runs_org"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_cfbec4ce9e0f7764235d2035c2"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_1aee064946a97ab8cd199efc17"`);
    await queryRunner.query(`DROP TABLE "skill_tools"`);
    await queryRunner.query(`DROP INDEX "public"."uq_skills_org_name_version"`);
    await queryRunner.query(`DROP TABLE "skills"`);
    await queryRunner.query(`DROP INDEX "public"."uq_tools_org_name"`);
    await queryRunner.query(`DROP TABLE "tools"`);
    await queryRunner.query(`DROP INDEX "public"."ix_run_nodes_stall_sweep"`);
    await queryRunner.query(`DROP TABLE "run_nodes"`);
    await queryRunner.query(`DROP INDEX "public"."ix_runs_org"`);
    await queryRunner.query(`DROP INDEX "public"."ix_runs_org_status"`);
    await queryRunner.query(`DROP INDEX "public"."ix_runs_org_team"`);
    await queryRunner.query(`DROP INDEX "public"."uq_runs_reporter_token"`);
    await queryRunner.query(`DROP TABLE "runs"`);
  }
}
