import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import type { DataSource } from 'typeorm';
import { createTestDatabase } from '../../test/setup/test-database.js';
import { createDataSource } from './data-source.js';
import { pgArray, pgJsonArray } from './pg-array.js';
import { queryRows } from './query-rows.js';

// The literal is only right if PostgreSQL reads back exactly the array it was made from.
describe('pgArray, read back by PostgreSQL', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let client: pg.Client;
  let ds: DataSource;

  beforeAll(async () => {
    db = await createTestDatabase();
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
    ds = createDataSource(db.url, { poolSize: 1, applicationName: 'vitrine-pg-array-test' });
    await ds.initialize();
  });

  afterAll(async () => {
    await client?.end();
    await ds?.destroy();
    await db?.drop();
  });

  const readBack = async (values: unknown[], type: string) => (await client.query(`SELECT $1::${type}[] AS a`, [pgArray(values)])).rows[0].a;

  it('keeps text as it was: quotes, backslashes, braces, commas, spaces, NULL as a word, empty, control characters, emoji', async () => {
    const texts = ['plain', 'he said "hi"', 'C:\\path\\', '\\"', '{a,b}', ' padded ', 'NULL', 'null', '', 'tab\there\nnewline\r', '😀 é \u2028', '"', '\\', ','];
    expect(await readBack(texts, 'text')).toEqual(texts);
  });

  it('sends null and undefined as NULL among text', async () => {
    expect(await readBack(['a', null, 'NULL', undefined, ''], 'text')).toEqual(['a', null, 'NULL', null, '']);
  });

  it('sends numbers, booleans and JSON text in the types they are cast to', async () => {
    expect(await readBack([1, 2, 9007199254740991], 'bigint')).toEqual(['1', '2', '9007199254740991']);
    expect(await readBack([12.5, 0, -3.25, null], 'float8')).toEqual([12.5, 0, -3.25, null]);
    expect(await readBack([true, false, null], 'bool')).toEqual([true, false, null]);
    const data = [{ message: 'a "quoted" \\ word', nested: { list: [1, '{x}'] } }, {}, null];
    expect(await readBack(data.map((d) => JSON.stringify(d)), 'jsonb')).toEqual(data);
  });

  it('sends an empty array', async () => {
    expect(await readBack([], 'uuid')).toEqual([]);
  });

  it('leaves arrays of anything else to node-postgres, and queryRows sends both kinds', async () => {
    for (const values of [[new Date(0)], [{ a: 1 }], [['nested']], [Buffer.from('x')], [1n], ['text', new Date(0)]]) expect(pgArray(values)).toBeUndefined();
    const [row] = await queryRows<{ texts: string[]; times: Date[] }>(ds.manager, `SELECT $1::text[] AS texts, $2::timestamptz[] AS times`, [['a "b"', null], [new Date(0)]]);
    expect(row).toEqual({ texts: ['a "b"', null], times: [new Date(0)] });
  });

  it('pgJsonArray sends each value as its JSON, whatever its text holds, and undefined as NULL', async () => {
    const values = [
      { message: 'a "quoted" \\ word', path: 'C:\\dir\\', nested: { list: [1, '{x}', 'a,b'] } },
      { text: 'tab\there\nnewline\r\u0001 bell', emoji: '😀 é \u2028', braces: '}{', quote: '"', backslash: '\\' },
      'a string',
      '',
      42,
      -0.5,
      true,
      null,
      [],
      {},
      ['NULL', null],
    ];
    const literal = pgJsonArray([...values, undefined]);
    expect((await client.query(`SELECT $1::jsonb[] AS a`, [literal])).rows[0].a).toEqual([...values, null]);
    // JSON null is a jsonb value, not SQL NULL; undefined is SQL NULL.
    expect((await client.query(`SELECT (($1::jsonb[])[1]) IS NULL AS sql_null, ($1::jsonb[])[1] = 'null'::jsonb AS json_null, (($1::jsonb[])[2]) IS NULL AS missing`, [pgJsonArray([null, undefined])])).rows[0]).toEqual({ sql_null: false, json_null: true, missing: true });
    expect(pgJsonArray([])).toBe('{}');
  });
});
