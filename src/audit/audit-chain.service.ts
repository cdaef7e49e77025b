import { createPublicKey, type KeyObject } from 'node:crypto';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../config/config.schema.js';
import { decodeCursor, toPage } from '../common/pagination.js';
import { OutageWarnings } from '../database/unavailable.js';
import { z } from 'zod';
import { AuditSigningKey } from './audit-signing-key.js';
import { checkBlockEvents, checkpointMessage, checkSeal, sealHash, type ChainProblem, type Seal } from './audit-seal.js';
import { VERIFY_ROW } from './audit-verify-rows.js';
import { VerifyWorkers } from './verify-worker-client.js';
import type { VerifyView } from './audit.schemas.js';

interface Snapshot {
  xmax: string;
  xip: string[];
}

/** A block without its event lists (those can be large): what sealing, export and checkpoints need. */
type SealHead = Omit<Seal, 'seqs' | 'hashes'>;

interface HeadRow {
  org_id: string;
  block_no: string;
  seq: string;
  count: number;
  xmax: string;
  xip: string[];
  seq_high: string;
  xid_bound: string;
  prev_hash: Buffer | null;
  hash: Buffer;
  at: Date;
  key_id: string;
  signature: Buffer;
}

interface BlockRow extends HeadRow {
  seqs: string;
  hashes: string;
}

const HEAD_COLUMNS = `b.org_id, b.block_no, b.seq, b.count, b.snap_xmax::text AS xmax, b.snap_xip::text[] AS xip,
  b.seq_high, b.xid_bound::text AS xid_bound, b.prev_hash, b.hash, b.at, b.key_id, b.signature`;
// The seq list as one text (parsing a 100k-element array literal costs more
// than splitting it) and the hashes in base64, a third shorter than bytea's hex.
const BLOCK_COLUMNS = `${HEAD_COLUMNS}, array_to_string(b.seqs, ',') AS seqs, encode(b.hashes, 'base64') AS hashes`;

function headFromRow(row: HeadRow): SealHead {
  return {
    orgId: row.org_id,
    blockNo: Number(row.block_no),
    seq: Number(row.seq),
    count: row.count,
    xmax: row.xmax,
    xip: row.xip,
    seqHigh: Number(row.seq_high),
    xidBound: row.xid_bound,
    prevHash: row.prev_hash?.toString('hex') ?? null,
    hash: row.hash.toString('hex'),
    at: row.at.toISOString(),
    keyId: row.key_id,
    signature: row.signature.toString('base64'),
  };
}

function sealFromRow(row: BlockRow): Seal {
  const hex = Buffer.from(row.hashes, 'base64').toString('hex');
  const hashes: string[] = [];
  for (let i = 0; i < hex.length; i += 64) hashes.push(hex.slice(i, i + 64));
  return { ...headFromRow(row), seqs: row.seqs === '' ? [] : row.seqs.split(',').map(Number), hashes };
}

/** The events a block covers: finished after the previous block's snapshot and by this one's. */
function coveredBy(previous: Snapshot | null, current: Snapshot, first: number): { where: string; params: unknown[] } {
  return {
    where: `((e.xid >= $${first}::xid8 AND e.xid < $${first + 2}::xid8) OR e.xid = ANY($${first + 1}::xid8[])) AND e.xid <> ALL($${first + 3}::xid8[])`,
    params: [previous?.xmax ?? '0', previous?.xip ?? [], current.xmax, current.xip],
  };
}

/** Events no block holds yet: not finished at the last block's snapshot. */
export function notYetSealed(last: Snapshot | null, first = 1): { where: string; params: unknown[] } {
  return { where: `(e.xid >= $${first}::xid8 OR e.xid = ANY($${first + 1}::xid8[]))`, params: [last?.xmax ?? '0', last?.xip ?? []] };
}

const SEAL_LOCK = `hashtextextended('vitrine:audit-seal', 0)`;

/**
 * Seals the log into signed, chained blocks, in the background and before
 * every verify and export; one instance at a time seals (advisory lock).
 */
@Injectable()
export class AuditChainService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Audit');
  private readonly outage = new OutageWarnings(this.logger, 'the database does not answer: the audit log is not sealed meanwhile');
  readonly key: AuditSigningKey;
  private readonly publicKeys: Map<string, KeyObject>;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();
  private readonly workers: VerifyWorkers;

  constructor(
    @Inject(DataSource) private readonly db: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.key = AuditSigningKey.loadOrCreate(config.auditSigningKeyFile);
    this.workers = new VerifyWorkers((db.options as { url: string }).url);
    this.publicKeys = new Map([[this.key.keyId, createPublicKey(this.key.publicKeyPem)]]);
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      this.running = this.seal(false).catch((error: unknown) => this.outage.failed(error, 'sealing the audit log'));
    }, this.config.auditSealIntervalMs);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
    await this.workers.close();
  }

  /**
   * Seals every org's finished, unsealed events into a new block each.
   * `wait`: wait for another instance's sealing instead of skipping.
   * Returns the snapshot it sealed up to (null when it skipped).
   */
  async seal(wait: boolean): Promise<Snapshot | null> {
    return this.db.transaction(async (manager) => {
      if (wait) await manager.query(`SELECT pg_advisory_xact_lock(${SEAL_LOCK})`);
      else {
        const [{ locked }] = await manager.query(`SELECT pg_try_advisory_xact_lock(${SEAL_LOCK}) AS locked`);
        if (!locked) return null;
      }
      // The seq high-water mark first, then this transaction's own id: any seq
      // at or below the mark was drawn by a transaction that had its id already
      // (audit_next_seq takes the id first), so an id below ours.
      const [{ high }] = await manager.query(`SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS high FROM audit_events_seq`);
      const [{ bound }] = await manager.query(`SELECT pg_current_xact_id()::text AS bound`);
      const [snapshot]: Snapshot[] = await manager.query(
        `SELECT pg_snapshot_xmax(s)::text AS xmax, ARRAY(SELECT pg_snapshot_xip(s)::text) AS xip FROM pg_current_snapshot() s`,
      );
      // Only the last block's snapshot is needed here; its event lists can be large.
      const rows: { org_id: string; seq: string; hash: Buffer; xid: string; genuine: boolean }[] = await manager.query(
        `WITH last AS MATERIALIZED (
           SELECT o.id AS org_id, b.snap_xmax, b.snap_xip
             FROM orgs o
             LEFT JOIN LATERAL (SELECT snap_xmax, snap_xip FROM audit_blocks b WHERE b.org_id = o.id ORDER BY b.block_no DESC LIMIT 1) b ON true
         )
         SELECT l.org_id, e.seq, e.hash, e.xid::text AS xid, xid(e.xid) = e.xmin AS genuine
           FROM last l
           JOIN LATERAL (
             SELECT e.seq, e.hash, e.xid, e.xmin FROM audit_events e
              WHERE e.org_id = l.org_id
                AND ((e.xid >= COALESCE(l.snap_xmax, '0'::xid8) AND e.xid < $1::xid8) OR e.xid = ANY(COALESCE(l.snap_xip, '{}')))
                AND e.xid <> ALL($2::xid8[])
              -- Keeps the lateral a per-org index probe: pulled up into a join, it was
              -- planned as a sort of the whole table on every seal (95 ms at 200k rows).
              OFFSET 0
           ) e ON true
          ORDER BY l.org_id, e.seq`,
        [snapshot!.xmax, snapshot!.xip],
      );
      const byOrg = new Map<string, typeof rows>();
      for (const row of rows) {
        const events = byOrg.get(row.org_id);
        if (events) events.push(row);
        else byOrg.set(row.org_id, [row]);
      }
      if (byOrg.size === 0) return snapshot!;
      // The newest block of every org with something to seal, in one query.
      const heads: HeadRow[] = await manager.query(
        `SELECT DISTINCT ON (b.org_id) ${HEAD_COLUMNS} FROM audit_blocks b WHERE b.org_id = ANY($1::uuid[]) ORDER BY b.org_id, b.block_no DESC`,
        [[...byOrg.keys()]],
      );
      const lastOf = new Map(heads.map((row) => [row.org_id, headFromRow(row)]));
      for (const [orgId, events] of byOrg) {
        await this.sealOrg(manager, orgId, lastOf.get(orgId) ?? null, events, snapshot!, { seqHigh: Number(high), xidBound: bound });
      }
      return snapshot!;
    });
  }

  private async sealOrg(
    manager: EntityManager,
    orgId: string,
    last: SealHead | null,
    candidates: { seq: string; hash: Buffer; xid: string; genuine: boolean }[],
    snapshot: Snapshot,
    marks: { seqHigh: number; xidBound: string },
  ): Promise<void> {
    const accepted = candidates.filter((event) => {
      const seq = Number(event.seq);
      // A row whose xid column is not its inserting transaction, or a seq drawn
      // before the last seal by a transaction that began after it, was put
      // there behind the seal's back: leave it out, and verify reports it.
      const legitimate = event.genuine && (last === null || seq > last.seqHigh || BigInt(event.xid) < BigInt(last.xidBound));
      if (!legitimate) this.logger.warn(`audit: refusing to seal event seq ${seq} of org ${orgId}: it was inserted behind the seal`);
      return legitimate;
    });
    if (accepted.length === 0) return;
    const seqs = accepted.map((e) => Number(e.seq));
    const body = {
      orgId,
      blockNo: (last?.blockNo ?? 0) + 1,
      seq: seqs.reduce((max, seq) => Math.max(max, seq), last?.seq ?? 0),
      count: seqs.length,
      seqs,
      hashes: accepted.map((e) => e.hash.toString('hex')),
      xmax: snapshot.xmax,
      xip: snapshot.xip,
      ...marks,
      prevHash: last?.hash ?? null,
      at: new Date().toISOString(),
    };
    const hash = sealHash(body);
    const signature = this.key.sign(checkpointMessage({ orgId, seq: body.seq, hash, at: body.at }));
    await manager.query(
      `INSERT INTO audit_blocks (org_id, block_no, seq, count, seqs, hashes, snap_xmax, snap_xip, seq_high, xid_bound, prev_hash, hash, at, key_id, signature)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
      [
        orgId,
        body.blockNo,
        body.seq,
        body.count,
        seqs,
        Buffer.concat(accepted.map((e) => e.hash)),
        body.xmax,
        body.xip,
        marks.seqHigh,
        marks.xidBound,
        body.prevHash === null ? null : Buffer.from(body.prevHash, 'hex'),
        Buffer.from(hash, 'hex'),
        body.at,
        this.key.keyId,
        signature,
      ],
    );
  }

  /** The org's sealed blocks, oldest first, a page at a time. */
  async *seals(orgId: string, throughBlock = Number.MAX_SAFE_INTEGER, pageSize = 100): AsyncGenerator<Seal> {
    let after = 0;
    for (;;) {
      const rows: BlockRow[] = await this.db.query(
        `SELECT ${BLOCK_COLUMNS} FROM audit_blocks b WHERE b.org_id = $1 AND b.block_no > $2 AND b.block_no <= $3 ORDER BY b.block_no LIMIT $4`,
        [orgId, after, throughBlock, pageSize],
      );
      for (const row of rows) yield sealFromRow(row);
      if (rows.length < pageSize) return;
      after = Number(rows[rows.length - 1]!.block_no);
    }
  }

  /** The org's newest block, without its event lists. */
  async lastHead(orgId: string): Promise<SealHead | null> {
    const [row]: HeadRow[] = await this.db.query(`SELECT ${HEAD_COLUMNS} FROM audit_blocks b WHERE b.org_id = $1 ORDER BY b.block_no DESC LIMIT 1`, [orgId]);
    return row ? headFromRow(row) : null;
  }

  /**
   * Seals what is pending, then recomputes the org's whole chain: every block's
   * hash, link and signature, and every event against the block that sealed it.
   */
  async verify(orgId: string): Promise<VerifyView> {
    const sealedAt = (await this.seal(true))!;
    let checked = 0;
    let blocks = 0;
    let previous: Seal | null = null;
    const fail = (problem: ChainProblem): VerifyView => ({
      ok: false,
      checked,
      blocks,
      head: previous ? { seq: previous.seq, hash: previous.hash } : null,
      firstInvalid: problem,
    });
    for await (const seal of this.seals(orgId)) {
      const problem = checkSeal(seal, previous, this.publicKeys);
      if (problem) return fail(problem);
      const found = await this.recomputeBlock(orgId, previous, seal);
      const eventProblem = checkBlockEvents(seal, found);
      if (eventProblem) return fail(eventProblem);
      checked += found.length;
      blocks++;
      previous = seal;
    }
    // Whatever had finished by the seal above and is still unsealed was refused by the sealer.
    const pending = notYetSealed(previous, 2);
    const [refused] = await this.db.query(
      `SELECT e.seq FROM audit_events e WHERE e.org_id = $1 AND ${pending.where}
          AND e.xid < $4::xid8 AND e.xid <> ALL($5::xid8[]) ORDER BY e.seq LIMIT 1`,
      [orgId, ...pending.params, sealedAt.xmax, sealedAt.xip],
    );
    if (refused) return fail({ seq: Number(refused.seq), reason: 'inserted: written behind the seal, so no block holds it' });
    return { ok: true, checked, blocks, head: previous ? { seq: previous.seq, hash: previous.hash } : null };
  }

  /**
   * The events a block covers, in seq order, each with its stored hash and
   * the hash recomputed from its contents. Rows come as text in chunks, and
   * the next chunk is already on its way while this one is hashed, so the
   * database and Node work at the same time.
   */
  private async recomputeBlock(orgId: string, previous: Seal | null, seal: Seal): Promise<{ seq: number; hash: string; computed: string }[]> {
    const covered = coveredBy(previous, seal, 2);
    // Chunks are seq ranges cut from the block's own sorted seq list, read
    // along the primary key; the first and last are open-ended so a row
    // slipped in below or above every sealed seq is read too.
    const chunk = 20_000;
    const ranges: [string, string][] = [];
    for (let i = 0; i < Math.max(seal.seqs.length, 1); i += chunk) {
      const lo = i === 0 ? '0' : String(seal.seqs[i]);
      const hi = i + chunk >= seal.seqs.length ? String(Number.MAX_SAFE_INTEGER) : String(seal.seqs[i + chunk - 1]);
      ranges.push([lo, hi]);
    }
    // The seq range drives the scan (along the primary key): the fence keeps the
    // planner from reading the whole block through the xid index for every chunk.
    const text = `SELECT ${VERIFY_ROW} FROM (SELECT * FROM audit_events e WHERE e.seq BETWEEN $6 AND $7 OFFSET 0) e
                   WHERE e.org_id = $1 AND ${covered.where} ORDER BY e.seq`;
    // Worker threads read and hash the chunks on their own connections: a verify of a
    // long log never blocks this thread's event loop (the API stays responsive).
    const parts = await Promise.all(ranges.map(([lo, hi]) => this.workers.recompute(text, [orgId, ...covered.params, lo, hi])));
    const found: { seq: number; hash: string; computed: string }[] = [];
    for (const part of parts) part.seqs.forEach((seq, i) => found.push({ seq, hash: part.stored[i]!, computed: part.computed[i]! }));
    return found;
  }

  async checkpoints(orgId: string, limit: number, cursor?: string) {
    const before = decodeCursor(cursor, z.number().int());
    const rows: HeadRow[] = await this.db.query(
      `SELECT ${HEAD_COLUMNS} FROM audit_blocks b WHERE b.org_id = $1 AND ($2::bigint IS NULL OR b.block_no < $2) ORDER BY b.block_no DESC LIMIT $3`,
      [orgId, before ?? null, limit + 1],
    );
    return toPage(
      rows.map(headFromRow),
      limit,
      (s) => ({ orgId: s.orgId, seq: s.seq, hash: s.hash, at: s.at, signature: s.signature, blockNo: s.blockNo, keyId: s.keyId }),
      (s) => s.blockNo,
    );
  }
}
