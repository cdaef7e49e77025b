import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { createDataSource } from '../../src/database/data-source.js';
import { MIGRATIONS } from '../../src/database/migrations.js';
import { createTestDatabase } from '../setup/test-database.js';

// `npm run migration:revert` is how an operator backs a release out: each
// migration's down must undo exactly what its up did, or the next up fails
// (an object left behind) or the schema drifts from what the code expects.

/**
 * The public schema as text, one line per object, sorted: columns, indexes,
 * constraints, functions (their whole definitions), triggers, storage options,
 * sequences and enum types.
 */
async function schema(ds: DataSource): Promise<string[]> {
  const rows: { line: string }[] = await ds.query(`
    SELECT 'column ' || table_name || '.' || column_name || ' ' || udt_name || ' ' || is_nullable || ' ' || COALESCE(column_default, '') AS line
      FROM information_schema.columns WHERE table_schema = 'public'
    UNION ALL SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
    UNION ALL SELECT 'constraint ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
      FROM pg_constraint WHERE connamespace = 'public'::regnamespace
    UNION ALL SELECT 'function ' || pg_get_functiondef(oid) FROM pg_proc WHERE pronamespace = 'public'::regnamespace
    UNION ALL SELECT 'trigger ' || pg_get_triggerdef(t.oid)
      FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal AND c.relnamespace = 'public'::regnamespace
    UNION ALL SELECT 'options ' || relname || ' ' || array_to_string(reloptions, ',')
      FROM pg_class WHERE relnamespace = 'public'::regnamespace AND reloptions IS NOT NULL
    UNION ALL SELECT 'sequence ' || sequence_name FROM information_schema.sequences WHERE sequence_schema = 'public'
    UNION ALL SELECT 'enum ' || t.typname || ' ' || string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
      FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid WHERE t.typnamespace = 'public'::regnamespace GROUP BY t.typname
    ORDER BY 1`);
  return rows.map((r) => r.line);
}

const applied = async (ds: DataSource) => ((await ds.query(`SELECT name FROM migrations ORDER BY id`)) as { name: string }[]).map((r) => r.name);

describe('migrations, down and up again', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let ds: DataSource;

  beforeAll(async () => {
    db = await createTestDatabase();
    ds = createDataSource(db.url, { poolSize: 2, applicationName: 'vitrine-migrations-test' });
    await ds.initialize();
  });

  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  it('reverts every migration, newest first, each to the schema the one before left; up again, one at a time, gives back each level', async () => {
    expect(await applied(ds)).toEqual(MIGRATIONS.map((m) => m.name));
    // levels[k]: the schema with the first k migrations applied.
    const levels: string[][] = [];
    levels[MIGRATIONS.length] = await schema(ds);
    expect(levels[MIGRATIONS.length]!.some((line) => line.startsWith('trigger '))).toBe(true);
    for (let k = MIGRATIONS.length; k > 0; k--) {
      await ds.undoLastMigration({ transaction: 'each' });
      expect(await applied(ds)).toEqual(MIGRATIONS.slice(0, k - 1).map((m) => m.name));
      levels[k - 1] = await schema(ds);
      // The down undid something.
      expect(levels[k - 1]).not.toEqual(levels[k]);
    }
    // All the way down, only TypeORM's own bookkeeping table is left.
    expect(levels[0]!.length).toBeGreaterThan(0);
    expect(levels[0]!.filter((line) => !/^(column|constraint|index|sequence) .*migrations/.test(line))).toEqual([]);

    // Up again one migration at a time, as releases apply them: each gives back its level exactly.
    for (let k = 1; k <= MIGRATIONS.length; k++) {
      const upTo = new DataSource({ ...ds.options, migrations: MIGRATIONS.slice(0, k), poolSize: 1 } as DataSourceOptions);
      await upTo.initialize();
      try {
        const ran = await upTo.runMigrations({ transaction: 'each' });
        expect(ran.map((m) => m.name)).toEqual([MIGRATIONS[k - 1]!.name]);
      } finally {
        await upTo.destroy();
      }
      expect(await schema(ds)).toEqual(levels[k]);
    }
    expect(await applied(ds)).toEqual(MIGRATIONS.map((m) => m.name));
  });
});
