import type { MigrationInterface, QueryRunner } from 'typeorm';
import { IngestWrite1795570000000 } from './1795570000000-ingest-write.js';
import { IngestWriteGenericPlan1795580000000 } from './1795580000000-ingest-write-generic-plan.js';

/**
 * vitrine_ingest_write takes its rows as four JSON arrays of objects (runs to
 * check, events, nodes, runs to update) instead of 28 PostgreSQL arrays.
 *
 * The service builds each JSON document with one JSON.stringify. node-postgres
 * builds an array literal by concatenating and escaping every element, and the
 * events' data (JSON inside a text array) needed every quote escaped: for a
 * 100-event request that was about 240 KB of garbage on the service's one
 * thread, 42% of all it allocated per request (sampling heap profile, 2,038
 * requests), and garbage collection pauses on that thread are a share of the
 * commit tail. The function reads each document with json_to_recordset; what
 * it checks and writes is unchanged, as are its settings (one generic plan per
 * connection, index lookups in nested loops only; see 1795580000000).
 *
 * Node outputs and errors come as JSON text inside the document, as before, so
 * that an output of JSON null stays the jsonb value null, not SQL NULL.
 */
export class IngestWriteJson1795600000000 implements MigrationInterface {
  name = 'IngestWriteJson1795600000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await new IngestWrite1795570000000().down(queryRunner);
    await queryRunner.query(`CREATE FUNCTION vitrine_ingest_write(p_runs json, p_events json, p_nodes json, p_updates json, p_grace_seconds integer)
RETURNS boolean LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan SET enable_hashjoin = off SET enable_mergejoin = off SET enable_seqscan = off AS $fn$
BEGIN
  PERFORM 1 FROM runs WHERE id IN (SELECT x.id FROM json_to_recordset(p_runs) AS x(id uuid)) ORDER BY id FOR UPDATE;
  IF (SELECT count(*) FROM runs r JOIN json_to_recordset(p_runs) AS x(id uuid, org_id uuid, seq bigint, status text)
        ON r.id = x.id AND r.org_id = x.org_id AND r.last_seq = x.seq AND r.status = x.status) <> json_array_length(p_runs) THEN
    RETURN false;
  END IF;
  IF EXISTS (SELECT 1 FROM json_to_recordset(p_events) AS x(run_id uuid, id uuid) JOIN run_events e ON e.run_id = x.run_id AND e.id = x.id) THEN
    RETURN false;
  END IF;
  INSERT INTO run_events (run_id, seq, id, at, node, type, data)
    SELECT x.run_id, x.seq, x.id, x.at, x.node, x.type, x.data
      FROM json_to_recordset(p_events) AS x(run_id uuid, seq bigint, id uuid, at timestamptz, node text, type text, data jsonb);
  UPDATE run_nodes n SET status = u.status, reason = u.reason, percent = u.percent, message = u.message, stalled = u.stalled,
         started_at = u.started_at, ended_at = u.ended_at,
         last_event_at = CASE WHEN u.touched THEN now() ELSE n.last_event_at END,
         output = CASE WHEN u.set_output THEN u.output::jsonb ELSE n.output END,
         error = COALESCE(u.error::jsonb, n.error)
    FROM json_to_recordset(p_nodes) AS u(run_id uuid, key text, status text, reason text, percent float8, message text, stalled bool,
                                         started_at timestamptz, ended_at timestamptz, touched bool, set_output bool, output text, error text)
   WHERE n.run_id = u.run_id AND n.key = u.key;
  UPDATE runs r SET last_seq = u.last_seq, status = u.status, updated_at = now(),
         ended_at = CASE WHEN u.ended THEN now() ELSE r.ended_at END,
         reporter_expires_at = CASE WHEN u.ended THEN now() + make_interval(secs => p_grace_seconds) ELSE r.reporter_expires_at END
    FROM json_to_recordset(p_updates) AS u(id uuid, last_seq bigint, status text, ended bool)
   WHERE r.id = u.id;
  RETURN true;
END
$fn$`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP FUNCTION vitrine_ingest_write(json, json, json, json, integer)`);
    await new IngestWrite1795570000000().up(queryRunner);
    await new IngestWriteGenericPlan1795580000000().up(queryRunner);
  }
}
