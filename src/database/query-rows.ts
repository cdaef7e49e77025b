import type pg from 'pg';
import type { EntityManager } from 'typeorm';
import { pgArray } from './pg-array.js';

/**
 * Runs a statement on the manager's connection (its transaction's, when it
 * has one) and answers its rows, whatever the command: TypeORM's
 * `manager.query` answers `[rows, count]` for UPDATE and DELETE ... RETURNING.
 * With a `name`, the statement is prepared: PostgreSQL plans it once per
 * connection instead of on every call, which matters on the hottest paths.
 * Array parameters go as literals made by pgArray where it can encode them:
 * node-postgres's own encoding makes several times the garbage.
 */
export async function queryRows<R>(manager: EntityManager, text: string, values: unknown[], name?: string): Promise<R[]> {
  const runner = manager.queryRunner ?? manager.connection.createQueryRunner();
  try {
    const client = (await runner.connect()) as pg.PoolClient;
    const params = values.map((v) => (Array.isArray(v) ? (pgArray(v) ?? v) : v));
    return (await client.query(name === undefined ? { text, values: params } : { name, text, values: params })).rows as R[];
  } finally {
    if (!manager.queryRunner) await runner.release();
  }
}
