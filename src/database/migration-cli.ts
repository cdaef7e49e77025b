/**
 * `npm run migration:{generate,run,revert,check}`.
 *
 * With DATABASE_URL set they work on that server. Without it, `run` and
 * `revert` work on the embedded PostgreSQL under VITRINE_DATA_DIR (the one
 * `npm start` uses), while `generate` and `check` migrate a throwaway embedded
 * cluster from scratch and diff it against the entities, so their answer never
 * depends on the state of a developer's database.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../config/config.schema.js';
import { createDataSource } from './data-source.js';
import { EmbeddedPostgresError, startEmbeddedPostgres, type EmbeddedDatabase } from './embedded-postgres.js';

type Command = 'generate' | 'run' | 'revert' | 'check';

async function withDatabase<T>(fresh: boolean, work: (url: string) => Promise<T>): Promise<T> {
  const config = loadConfig();
  if (config.databaseUrl) return work(config.databaseUrl);
  const dataDir = fresh ? await mkdtemp(path.join(os.tmpdir(), 'vitrine-migrate-')) : config.dataDir;
  let db: EmbeddedDatabase | undefined;
  try {
    process.stdout.write(`starting embedded PostgreSQL in ${dataDir} ...\n`);
    db = await startEmbeddedPostgres({ dataDir, database: 'vitrine', fallbackDir: config.postgresFallbackDir });
    return await work(db.url);
  } finally {
    await db?.stop();
    if (fresh) await rm(dataDir, { recursive: true, force: true });
  }
}

function template(className: string, up: string[], down: string[]): string {
  const lines = (queries: string[]) => queries.map((q) => `    await queryRunner.query(\`${q.replace(/[`\\]/g, '\\$&').replace(/\$\{/g, '\\${')}\`);`).join('\n');
  return `import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ${className} implements MigrationInterface {
  name = '${className}';

  public async up(queryRunner: QueryRunner): Promise<void> {
${lines(up)}
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
${lines(down)}
  }
}
`;
}

async function pendingSchemaDiff(url: string): Promise<{ up: string[]; down: string[] }> {
  const ds = createDataSource(url, { poolSize: 2, applicationName: 'vitrine-migrate' });
  await ds.initialize();
  try {
    await ds.runMigrations({ transaction: 'each' });
    const sql = await ds.driver.createSchemaBuilder().log();
    return { up: sql.upQueries.map((q) => q.query), down: sql.downQueries.map((q) => q.query).reverse() };
  } finally {
    await ds.destroy();
  }
}

async function main(command: Command, args: string[]): Promise<number> {
  switch (command) {
    case 'check': {
      const diff = await withDatabase(true, pendingSchemaDiff);
      if (diff.up.length === 0) {
        console.log('migrations match the entities: no schema drift');
        return 0;
      }
      console.error('schema drift: the entities need these changes that no migration makes:\n' + diff.up.map((q) => `  ${q};`).join('\n'));
      return 1;
    }
    case 'generate': {
      const name = args[0];
      if (!name || !/^[a-z0-9][a-z0-9-]*$/.test(name)) {
        console.error('usage: npm run migration:generate -- <kebab-case-name>');
        return 2;
      }
      const diff = await withDatabase(true, pendingSchemaDiff);
      if (diff.up.length === 0) {
        console.log('no schema changes: nothing to generate');
        return 1;
      }
      const timestamp = Date.now();
      const className = name.replace(/(^|-)([a-z0-9])/g, (_m, _d, c: string) => c.toUpperCase()) + timestamp;
      const file = path.resolve('migrations', `${timestamp}-${name}.ts`);
      await writeFile(file, template(className, diff.up, diff.down));
      console.log(`wrote ${path.relative(process.cwd(), file)}: review it, then add ${className} to src/database/migrations.ts`);
      return 0;
    }
    case 'run':
    case 'revert':
      return withDatabase(false, async (url) => {
        const ds = createDataSource(url, { poolSize: 2, applicationName: 'vitrine-migrate' });
        await ds.initialize();
        try {
          if (command === 'run') {
            const applied = await ds.runMigrations({ transaction: 'each' });
            console.log(applied.length ? `applied ${applied.map((m) => m.name).join(', ')}` : 'no pending migrations');
          } else {
            await ds.undoLastMigration({ transaction: 'each' });
            console.log('reverted the last migration');
          }
          return 0;
        } finally {
          await ds.destroy();
        }
      });
    default:
      console.error('usage: migration-cli generate <name> | run | revert | check');
      return 2;
  }
}

main(process.argv[2] as Command, process.argv.slice(3)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof EmbeddedPostgresError ? `migration: ${error.message}` : error);
    process.exit(1);
  },
);
