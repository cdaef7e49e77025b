import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Why a share was revoked when policy, not a person, revoked it: the rule that now denies it. */
export class ShareRevokedReason1795600000000 implements MigrationInterface {
  name = 'ShareRevokedReason1795600000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "shares" ADD "revoked_reason" text`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "shares" DROP COLUMN "revoked_reason"`);
  }
}
