import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ArtifactsAndShares1795566057534 implements MigrationInterface {
  name = 'ArtifactsAndShares1795566057534';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE TABLE "artifacts" ("id" uuid NOT NULL, "org_id" uuid NOT NULL, "title" text NOT NULL, "kind" text NOT NULL, "run_id" uuid, "team_id" uuid, "classification" text NOT NULL, "labels" text array NOT NULL DEFAULT '{}', "owner_id" uuid NOT NULL, "private" boolean NOT NULL DEFAULT false, "revision" integer NOT NULL, "contains_secrets" boolean NOT NULL DEFAULT false, "remixed_from_id" uuid, "remixed_from_revision" integer, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_6516bbed3c129918e05c5012edb" PRIMARY KEY ("id"))`);
    await queryRunner.query(`CREATE INDEX "ix_artifacts_remixed_from" ON "artifacts"  ("remixed_from_id") WHERE "remixed_from_id" IS NOT NULL`);
    await queryRunner.query(`CREATE INDEX "ix_artifacts_org_team" ON "artifacts"  ("org_id", "team_id", "id") `);
    await queryRunner.query(`CREATE INDEX "ix_artifacts_org_run" ON "artifacts"  ("org_id", "run_id") `);
    await queryRunner.query(`CREATE INDEX "ix_artifacts_org" ON "artifacts"  ("org_id", "id") `);
    await queryRunner.query(`CREATE TABLE "artifact_revisions" ("artifact_id" uuid NOT NULL, "revision" integer NOT NULL, "format" text NOT NULL, "body" text NOT NULL, "message" text, "contains_secrets" boolean NOT NULL, "secrets" jsonb NOT NULL DEFAULT '[]', "created_by" uuid NOT NULL, "created_by_type" text NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_2fb72f10bafd3f6b1b138868e19" PRIMARY KEY ("artifact_id", "revision"))`);
    await queryRunner.query(`CREATE TABLE "shares" ("id" uuid NOT NULL, "org_id" uuid NOT NULL, "artifact_id" uuid NOT NULL, "audience" text NOT NULL, "team_id" uuid, "revision" integer, "expires_in_seconds" integer, "expires_at" TIMESTAMP WITH TIME ZONE, "token_hash" bytea NOT NULL, "created_by" uuid NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "revoked_at" TIMESTAMP WITH TIME ZONE, "revoked_by" uuid, CONSTRAINT "PK_b88473409066c43c2ccb1894a82" PRIMARY KEY ("id"))`);
    await queryRunner.query(`CREATE INDEX "ix_shares_artifact_unrevoked" ON "shares"  ("artifact_id") WHERE "revoked_at" IS NULL`);
    await queryRunner.query(`CREATE UNIQUE INDEX "uq_shares_token" ON "shares"  ("token_hash") `);
    await queryRunner.query(`CREATE INDEX "ix_shares_org_artifact" ON "shares"  ("org_id", "artifact_id", "id") `);
    await queryRunner.query(`ALTER TABLE "artifacts" ADD CONSTRAINT "fk_artifacts_org" FOREIGN KEY ("org_id") REFERENCES "orgs"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    await queryRunner.query(`ALTER TABLE "artifacts" ADD CONSTRAINT "fk_artifacts_run" FOREIGN KEY ("run_id") REFERENCES "runs"("id") ON DELETE SET NULL ON UPDATE NO ACTION`);
    await queryRunner.query(`ALTER TABLE "artifacts" ADD CONSTRAINT "fk_artifacts_team" FOREIGN KEY ("team_id") REFERENCES "teams"("id") ON DELETE SET NULL ON UPDATE NO ACTION`);
    await queryRunner.query(`ALTER TABLE "artifact_revisions" ADD CONSTRAINT "fk_artifact_revisions_artifact" FOREIGN KEY ("artifact_id") REFERENCES "artifacts"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    await queryRunner.query(`ALTER TABLE "shares" ADD CONSTRAINT "fk_shares_org" FOREIGN KEY ("org_id") REFERENCES "orgs"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    await queryRunner.query(`ALTER TABLE "shares" ADD CONSTRAINT "fk_shares_artifact" FOREIGN KEY ("artifact_id") REFERENCES "artifacts"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "shares" DROP CONSTRAINT "fk_shares_artifact"`);
    await queryRunner.query(`ALTER TABLE "shares" DROP CONSTRAINT "fk_shares_org"`);
    await queryRunner.query(`ALTER TABLE "artifact_revisions" DROP CONSTRAINT "fk_artifact_revisions_artifact"`);
    await queryRunner.query(`ALTER TABLE "artifacts" DROP CONSTRAINT "fk_artifacts_team"`);
    await queryRunner.query(`ALTER TABLE "artifacts" DROP CONSTRAINT "fk_artifacts_run"`);
    await queryRunner.query(`ALTER TABLE "artifacts" DROP CONSTRAINT "fk_artifacts_org"`);
    await queryRunner.query(`DROP INDEX "public"."ix_shares_org_artifact"`);
    await queryRunner.query(`DROP INDEX "public"."uq_shares_token"`);
    await queryRunner.query(`DROP INDEX "public"."ix_shares_artifact_unrevoked"`);
    await queryRunner.query(`DROP TABLE "shares"`);
    await queryRunner.query(`DROP TABLE "artifact_revisions"`);
    await queryRunner.query(`DROP INDEX "public"."ix_artifacts_org"`);
    await queryRunner.query(`DROP INDEX "public"."ix_artifacts_org_run"`);
    await queryRunner.query(`DROP INDEX "public"."ix_artifacts_org_team"`);
    await queryRunner.query(`DROP INDEX "public"."ix_artifacts_remixed_from"`);
    await queryRunner.query(`DROP TABLE "artifacts"`);
  }
}
