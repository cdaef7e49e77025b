import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Failed sign-ins per account and per client address, counted in PostgreSQL
 * so that every instance sees the same count (SignInLimitsService, through
 * rate-limiter-flexible's RateLimiterPostgres, which is told the table exists
 * and never creates it). Its columns and their order are the library's: it
 * inserts `VALUES (key, points, expire)`, expire in epoch milliseconds. The
 * index serves the sweep of expired rows.
 *
 * UNLOGGED: a failed sign-in's count is not worth a WAL flush (every guess
 * writes, and concurrent guesses at one key queue on its row until each
 * commits); a crash empties the table, which only opens fresh windows.
 */
export class SignInFailures1795604112000 implements MigrationInterface {
  name = 'SignInFailures1795604112000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE UNLOGGED TABLE "sign_in_failures" ("key" text NOT NULL, "points" integer NOT NULL DEFAULT 0, "expire" bigint, CONSTRAINT "pk_sign_in_failures" PRIMARY KEY ("key"))`);
    await queryRunner.query(`CREATE INDEX "ix_sign_in_failures_expire" ON "sign_in_failures" ("expire")`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "sign_in_failures"`);
  }
}
