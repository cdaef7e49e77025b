import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Init1795556137902 implements MigrationInterface {
  name = 'Init1795556137902';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE TABLE "orgs" ("id" uuid NOT NULL, "name" text NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_9eed8bfad4c9e0dc8648e090efe" PRIMARY KEY ("id"))`);
    await queryRunner.query(`CREATE UNIQUE INDEX "uq_orgs_name" ON "orgs" ("name") `);
    await queryRunner.query(`CREATE TABLE "teams" ("id" uuid NOT NULL, "org_id" uuid NOT NULL, "name" text NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_7e5523774a38b08a6236d322403" PRIMARY KEY ("id"))`);
    await queryRunner.query(`CREATE UNIQUE INDEX "uq_teams_org_name" ON "teams"  ("org_id", "name") `);
    await queryRunner.query(`CREATE TABLE "members" ("id" uuid NOT NULL, "org_id" uuid NOT NULL, "email" text NOT NULL, "name" text NOT NULL, "role" text NOT NULL, "password_hash" text NOT NULL, "installation_admin" boolean NOT NULL DEFAULT false, "deactivated_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_28b53062261b996d9c99fa12404" PRIMARY KEY ("id"))`);
    await queryRunner.query(`CREATE INDEX "ix_members_org" ON "members"  ("org_id", "id") `);
    await queryRunner.query(`CREATE UNIQUE INDEX "uq_members_email_active" ON "members"  ("email") WHERE deactivated_at IS NULL`);
    await queryRunner.query(`CREATE TABLE "access_tokens" ("id" uuid NOT NULL, "org_id" uuid NOT NULL, "member_id" uuid NOT NULL, "name" text NOT NULL, "token_hash" bytea NOT NULL, "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, "revoked_at" TIMESTAMP WITH TIME ZONE, "last_used_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_65140f59763ff994a0252488166" PRIMARY KEY ("id"))`);
    await queryRunner.query(`CREATE UNIQUE INDEX "uq_access_tokens_hash" ON "access_tokens"  ("token_hash") `);
    await queryRunner.query(`CREATE INDEX "ix_access_tokens_member" ON "access_tokens"  ("member_id", "created_at") `);
    await queryRunner.query(`CREATE TABLE "sessions" ("id" uuid NOT NULL, "member_id" uuid NOT NULL, "token_hash" bytea NOT NULL, "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_3238ef96f18b355b671619111bc" PRIMARY KEY ("id"))`);
    await queryRunner.query(`CREATE INDEX "ix_sessions_member" ON "sessions"  ("member_id") `);
    await queryRunner.query(`CREATE UNIQUE INDEX "uq_sessions_hash" ON "sessions"  ("token_hash") `);
    await queryRunner.query(`CREATE TABLE "member_teams" ("member_id" uuid NOT NULL, "team_id" uuid NOT NULL, CONSTRAINT "PK_06d5f2cd0dbc8e5cde97a6ac248" PRIMARY KEY ("member_id", "team_id"))`);
    await queryRunner.query(`CREATE INDEX "IDX_efedd3dd196df032f7afe47638" ON "member_teams"  ("member_id") `);
    await queryRunner.query(`CREATE INDEX "IDX_7a121348af73f30a634c872ce1" ON "member_teams"  ("team_id") `);
    await queryRunner.query(`ALTER TABLE "teams" ADD CONSTRAINT "fk_teams_org" FOREIGN KEY ("org_id") REFERENCES "orgs"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    await queryRunner.query(`ALTER TABLE "members" ADD CONSTRAINT "fk_members_org" FOREIGN KEY ("org_id") REFERENCES "orgs"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    await queryRunner.query(`ALTER TABLE "access_tokens" ADD CONSTRAINT "fk_access_tokens_member" FOREIGN KEY ("member_id") REFERENCES "members"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    await queryRunner.query(`ALTER TABLE "sessions" ADD CONSTRAINT "fk_sessions_member" FOREIGN KEY ("member_id") REFERENCES "members"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    await queryRunner.query(`ALTER TABLE "member_teams" ADD CONSTRAINT "fk_member_teams_member" FOREIGN KEY ("member_id") REFERENCES "members"("id") ON DELETE CASCADE ON UPDATE CASCADE`);
    await queryRunner.query(`ALTER TABLE "member_teams" ADD CONSTRAINT "fk_member_teams_team" FOREIGN KEY ("team_id") REFERENCES "teams"("id") ON DELETE CASCADE ON UPDATE CASCADE`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "member_teams" DROP CONSTRAINT "fk_member_teams_team"`);
    await queryRunner.query(`ALTER TABLE "member_teams" DROP CONSTRAINT "fk_member_teams_member"`);
    await queryRunner.query(`ALTER TABLE "sessions" DROP CONSTRAINT "fk_sessions_member"`);
    await queryRunner.query(`ALTER TABLE "access_tokens" DROP CONSTRAINT "fk_access_tokens_member"`);
    await queryRunner.query(`ALTER TABLE "members" DROP CONSTRAINT "fk_members_org"`);
    await queryRunner.query(`ALTER TABLE "teams" DROP CONSTRAINT "fk_teams_org"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_7a121348af73f30a634c872ce1"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_efedd3dd196df032f7afe47638"`);
    await queryRunner.query(`DROP TABLE "member_teams"`);
    await queryRunner.query(`DROP INDEX "public"."uq_sessions_hash"`);
    await queryRunner.query(`DROP INDEX "public"."ix_sessions_member"`);
    await queryRunner.query(`DROP TABLE "sessions"`);
    await queryRunner.query(`DROP INDEX "public"."ix_access_tokens_member"`);
    await queryRunner.query(`DROP INDEX "public"."uq_access_tokens_hash"`);
    await queryRunner.query(`DROP TABLE "access_tokens"`);
    await queryRunner.query(`DROP INDEX "public"."uq_members_email_active"`);
    await queryRunner.query(`DROP INDEX "public"."ix_members_org"`);
    await queryRunner.query(`DROP TABLE "members"`);
    await queryRunner.query(`DROP INDEX "public"."uq_teams_org_name"`);
    await queryRunner.query(`DROP TABLE "teams"`);
    await queryRunner.query(`DROP INDEX "public"."uq_orgs_name"`);
    await queryRunner.query(`DROP TABLE "orgs"`);
  }
}
