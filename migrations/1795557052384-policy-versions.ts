import type { MigrationInterface, QueryRunner } from 'typeorm';

export class PolicyVersions1795557052384 implements MigrationInterface {
  name = 'PolicyVersions1795557052384';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE TABLE "policy_versions" ("id" uuid NOT NULL, "org_id" uuid NOT NULL, "version" integer NOT NULL, "hash" text NOT NULL, "source" text NOT NULL, "parent_version" integer, "created_by" uuid, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_125d2970fc66a316f84af16812e" PRIMARY KEY ("id"))`);
    await queryRunner.query(`CREATE UNIQUE INDEX "uq_policy_versions_org_version" ON "policy_versions"  ("org_id", "version") `);
    await queryRunner.query(`CREATE TABLE "active_policies" ("org_id" uuid NOT NULL, "version_id" uuid NOT NULL, "activated_at" TIMESTAMP WITH TIME ZONE NOT NULL, "activated_by" uuid, CONSTRAINT "PK_f3a65f3b3f186cf737050de2bdb" PRIMARY KEY ("org_id"))`);
    await queryRunner.query(`ALTER TABLE "policy_versions" ADD CONSTRAINT "fk_policy_versions_org" FOREIGN KEY ("org_id") REFERENCES "orgs"("id") ON DELETE CASCADE ON UPDATE NO ACTION`);
    await queryRunner.query(`ALTER TABLE "active_policies" ADD CONSTRAINT "fk_active_policies_version" FOREIGN KEY ("version_id") REFERENCES "policy_versions"("id") ON DELETE RESTRICT ON UPDATE NO ACTION`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "active_policies" DROP CONSTRAINT "fk_active_policies_version"`);
    await queryRunner.query(`ALTER TABLE "policy_versions" DROP CONSTRAINT "fk_policy_versions_org"`);
    await queryRunner.query(`DROP TABLE "active_policies"`);
    await queryRunner.query(`DROP INDEX "public"."uq_policy_versions_org_version"`);
    await queryRunner.query(`DROP TABLE "policy_versions"`);
  }
}
