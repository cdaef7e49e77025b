import type { AuditEventBody } from '../../src/audit/audit-event.js';
import type { TestApp } from './test-app.js';

/** A plain event the system wrote, for specs that hash, seal or verify events; `fields` replaces any of its fields. */
export function sampleEvent(seq: number, fields: Partial<AuditEventBody> = {}): AuditEventBody {
  return {
    seq,
    id: `0195f0a0-7b7e-7000-8000-0000000000${String(seq).padStart(2, '0')}`,
    orgId: '0195f0a0-7b7e-7000-8000-000000000001',
    at: '2026-11-24T10:00:00.000Z',
    actor: { type: 'system', id: null, name: 'Vitrine' },
    action: 'team.create',
    resource: { type: 'Team', id: null },
    outcome: 'allowed',
    reason: null,
    policy: null,
    context: { ip: null, userAgent: null, requestId: null },
    details: { n: seq },
    ...fields,
  };
}

export interface AuditRow {
  seq: number;
  action: string;
  outcome: string;
  actor_type: string;
  actor_id: string | null;
  resource_type: string;
  resource_id: string | null;
  policy_version: string | null;
  policy_rule_id: string | null;
  reason: string | null;
  request_id: string | null;
  details: Record<string, unknown>;
}

/** The org's audit events after `afterSeq`, in seq order, read straight from the table. */
export async function auditRows(t: TestApp, orgId: string, afterSeq = 0): Promise<AuditRow[]> {
  const rows: (AuditRow & { seq: string })[] = await t.db.query(
    `SELECT seq, action, outcome, actor_type, actor_id, resource_type, resource_id, policy_version, policy_rule_id, reason, request_id, details
       FROM audit_events WHERE org_id = $1 AND seq > $2 ORDER BY seq`,
    [orgId, afterSeq],
  );
  return rows.map((r) => ({ ...r, seq: Number(r.seq) }));
}

export async function lastSeq(t: TestApp): Promise<number> {
  const [{ max }] = await t.db.query('SELECT COALESCE(max(seq), 0)::bigint AS max FROM audit_events');
  return Number(max);
}

/** Runs SQL as a superuser would to tamper: with the append-only triggers switched off. */
export async function tamper(t: TestApp, sql: string, params: unknown[] = []): Promise<void> {
  await t.db.transaction(async (manager) => {
    await manager.query('ALTER TABLE audit_events DISABLE TRIGGER USER');
    await manager.query('ALTER TABLE audit_blocks DISABLE TRIGGER USER');
    await manager.query(sql, params);
    await manager.query('ALTER TABLE audit_events ENABLE TRIGGER USER');
    await manager.query('ALTER TABLE audit_blocks ENABLE TRIGGER USER');
  });
}
