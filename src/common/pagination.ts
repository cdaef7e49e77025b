import type { ObjectLiteral, Repository, SelectQueryBuilder } from 'typeorm';
import { z } from 'zod';
import { ValidationFailedError } from './problem.js';

export const ListQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(200).optional(),
});
export type ListQuery = z.infer<typeof ListQuerySchema>;

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Opaque keyset cursors: the sort key of the last item, base64url-encoded. */
export function encodeCursor(key: unknown): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

export function decodeCursor<T>(cursor: string | undefined, schema: z.ZodType<T>): T | undefined {
  if (cursor === undefined) return undefined;
  try {
    return schema.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
  } catch {
    throw new ValidationFailedError([{ path: 'cursor', message: 'is not a cursor this list issued' }]);
  }
}

/** Rows fetched with `limit + 1` tell whether a next page exists without a count. */
export function toPage<R, T>(rows: R[], limit: number, view: (row: R) => T, key: (row: R) => unknown): Page<T> {
  const more = rows.length > limit;
  const pageRows = more ? rows.slice(0, limit) : rows;
  return { items: pageRows.map(view), nextCursor: more ? encodeCursor(key(pageRows[pageRows.length - 1]!)) : null };
}

export const PageSchema = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), nextCursor: z.string().nullable() });

/**
 * One page of an org's rows in id order (UUIDv7 ids: creation order), keyset
 * on the id: for the plain lists of an org's things (teams, tools). `narrow`
 * adds conditions (the caller's visibility) to the query over alias `r`.
 */
export async function orgPageById<E extends ObjectLiteral & { id: string }, T>(
  repository: Repository<E>,
  orgId: string,
  limit: number,
  cursor: string | undefined,
  view: (row: E) => T,
  narrow?: (qb: SelectQueryBuilder<E>) => Promise<void>,
): Promise<Page<T>> {
  const after = decodeCursor(cursor, z.uuid());
  const qb = repository.createQueryBuilder('r').where('r.org_id = :orgId', { orgId }).orderBy('r.id').limit(limit + 1);
  if (after) qb.andWhere('r.id > :after', { after });
  await narrow?.(qb);
  return toPage(await qb.getMany(), limit, view, (row) => row.id);
}
