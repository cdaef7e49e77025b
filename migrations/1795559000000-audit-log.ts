import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The audit log: append-only events, sealed into signed, hash-chained blocks.
 * Both tables refuse UPDATE, DELETE and TRUNCATE through triggers; deployments
 * that separate roles also grant the application only INSERT and SELECT (README).
 */
export class AuditLog1795559000000 implements MigrationInterface {
  name = 'AuditLog1795559000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE SEQUENCE "audit_events_seq" AS bigint`);
    // The transaction takes its id before its seq: the sealer relies on it to tell
    // a late commit (legitimate) from a row inserted behind the seal (tampering).
    await queryRunner.query(`CREATE FUNCTION "audit_next_seq"() RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM pg_current_xact_id();
  RETURN nextval('audit_events_seq');
END $$`);
    // No foreign key to orgs: orgs are never deleted, and the check would lock
    // the org's row on every append (measured: it costs throughput).
    await queryRunner.query(`CREATE TABLE "audit_events" (
  "seq" bigint NOT NULL,
  "id" uuid NOT NULL,
  "org_id" uuid NOT NULL,
  "at" TIMESTAMP WITH TIME ZONE NOT NULL,
  "actor_type" text NOT NULL,
  "actor_id" text,
  "actor_name" text,
  "action" text NOT NULL,
  "resource_type" text NOT NULL,
  "resource_id" text,
  "outcome" text NOT NULL,
  "reason" text,
  "policy_version" text,
  "policy_rule_id" text,
  "ip" text,
  "user_agent" text,
  "request_id" text,
  "details" jsonb NOT NULL,
  "hash" bytea NOT NULL,
  "xid" xid8 NOT NULL DEFAULT pg_current_xact_id(),
  CONSTRAINT "pk_audit_events" PRIMARY KEY ("seq"),
  CONSTRAINT "ck_audit_events_actor_type" CHECK ("actor_type" IN ('user', 'agent', 'public', 'system')),
  CONSTRAINT "ck_audit_events_outcome" CHECK ("outcome" IN ('allowed', 'denied', 'error')),
  CONSTRAINT "ck_audit_events_hash" CHECK (octet_length("hash") = 32)
)`);
    // Newest first within an org, for every documented filter: (org, filter, at, seq).
    await queryRunner.query(`CREATE INDEX "ix_audit_events_org_at" ON "audit_events" ("org_id", "at", "seq")`);
    await queryRunner.query(`CREATE INDEX "ix_audit_events_org_actor" ON "audit_events" ("org_id", "actor_id", "at", "seq")`);
    await queryRunner.query(`CREATE INDEX "ix_audit_events_org_action" ON "audit_events" ("org_id", "action", "at", "seq")`);
    await queryRunner.query(`CREATE INDEX "ix_audit_events_org_resource_type" ON "audit_events" ("org_id", "resource_type", "at", "seq")`);
    await queryRunner.query(`CREATE INDEX "ix_audit_events_org_resource_id" ON "audit_events" ("org_id", "resource_id", "at", "seq")`);
    // Denials and errors are the rare outcomes worth an index; "allowed" reads the (org, at) index.
    await queryRunner.query(`CREATE INDEX "ix_audit_events_org_outcome" ON "audit_events" ("org_id", "outcome", "at", "seq") WHERE "outcome" <> 'allowed'`);
    // The sealer finds unsealed events by transaction id.
    await queryRunner.query(`CREATE INDEX "ix_audit_events_org_xid" ON "audit_events" ("org_id", "xid")`);

    await queryRunner.query(`CREATE TABLE "audit_blocks" (
  "org_id" uuid NOT NULL,
  "block_no" bigint NOT NULL,
  "seq" bigint NOT NULL,
  "count" integer NOT NULL,
  "seqs" bigint[] NOT NULL,
  "hashes" bytea NOT NULL,
  "snap_xmax" xid8 NOT NULL,
  "snap_xip" xid8[] NOT NULL,
  "seq_high" bigint NOT NULL,
  "xid_bound" xid8 NOT NULL,
  "prev_hash" bytea,
  "hash" bytea NOT NULL,
  "at" TIMESTAMP WITH TIME ZONE NOT NULL,
  "key_id" text NOT NULL,
  "signature" bytea NOT NULL,
  CONSTRAINT "pk_audit_blocks" PRIMARY KEY ("org_id", "block_no"),
  CONSTRAINT "fk_audit_blocks_org" FOREIGN KEY ("org_id") REFERENCES "orgs"("id") ON DELETE RESTRICT
)`);

    await queryRunner.query(`CREATE FUNCTION "audit_reject_change"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the audit log is append-only: % on % is not allowed', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END $$`);
    for (const table of ['audit_events', 'audit_blocks']) {
      await queryRunner.query(
        `CREATE TRIGGER "tr_${table}_append_only" BEFORE UPDATE OR DELETE ON "${table}" FOR EACH ROW EXECUTE FUNCTION "audit_reject_change"()`,
      );
      await queryRunner.query(
        `CREATE TRIGGER "tr_${table}_no_truncate" BEFORE TRUNCATE ON "${table}" FOR EACH STATEMENT EXECUTE FUNCTION "audit_reject_change"()`,
      );
    }
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "audit_blocks"`);
    await queryRunner.query(`DROP TABLE "audit_events"`);
    await queryRunner.query(`DROP FUNCTION "audit_reject_change"()`);
    await queryRunner.query(`DROP FUNCTION "audit_next_seq"()`);
    await queryRunner.query(`DROP SEQUENCE "audit_events_seq"`);
  }
}
