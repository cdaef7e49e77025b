import { AsyncLocalStorage } from 'node:async_hooks';
import type { DataSource, EntityManager } from 'typeorm';

/**
 * Records every pooled connection taken while the same call chain holds a
 * transaction's: such a request needs two connections at once, and a burst
 * of them larger than the pool waits forever for each other.
 */
export function watchSecondConnections(db: DataSource): string[] {
  const inTransaction = new AsyncLocalStorage<{ open: boolean }>();
  const found: string[] = [];
  const manager = db.manager as EntityManager & { transaction: (...args: unknown[]) => Promise<unknown> };
  const transaction = manager.transaction.bind(manager);
  manager.transaction = (...args: unknown[]) => {
    // transaction(work) or transaction(isolation, work); DataSource passes both, the second undefined.
    const at = typeof args[0] === 'function' ? 0 : 1;
    const work = args[at] as (m: EntityManager) => Promise<unknown>;
    args[at] = (m: EntityManager) => {
      const store = { open: true };
      return inTransaction.run(store, () => work(m)).finally(() => (store.open = false));
    };
    return transaction(...args);
  };
  const pool = (db.driver as unknown as { master: { connect: (...args: unknown[]) => unknown } }).master;
  const connect = pool.connect.bind(pool);
  pool.connect = (...args: unknown[]) => {
    if (inTransaction.getStore()?.open) found.push(new Error('a second connection taken inside a transaction').stack ?? '');
    return connect(...args);
  };
  return found;
}
