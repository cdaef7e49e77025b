import { parentPort, workerData } from 'node:worker_threads';
import pg from 'pg';
import { hashVerifyRows } from './audit-verify-rows.js';

/**
 * Verify's reading and hashing, off the API's thread: each worker reads its
 * chunks of VERIFY_ROW texts on its own connection to the database at
 * `workerData.url`, so the rows are decoded where they are hashed and the
 * database works on the next chunk meanwhile.
 */
export interface RecomputeRequest {
  id: number;
  text: string;
  values: unknown[];
}

const { url } = workerData as { url: string };
let connection: Promise<pg.Client> | undefined;

/** The open connection, or a new one when there is none or the last one broke. */
function client(): Promise<pg.Client> {
  if (!connection) {
    const opened = (async () => {
      const c = new pg.Client({ connectionString: url, application_name: 'vitrine-verify' });
      c.on('error', () => {
        if (connection === opened) connection = undefined;
      });
      await c.connect();
      return c;
    })();
    opened.catch(() => {
      if (connection === opened) connection = undefined;
    });
    connection = opened;
  }
  return connection;
}

// One query at a time on the connection; a chunk's rows are hashed on the next
// turn of the loop, after the following chunk's query has gone out, so the
// database reads it meanwhile.
let queue: Promise<unknown> = Promise.resolve();

parentPort!.on('message', (message: RecomputeRequest | 'close') => {
  if (message === 'close') {
    void queue.then(async () => {
      await connection?.then((c) => c.end()).catch(() => undefined);
      parentPort!.close();
    });
    return;
  }
  const { id, text, values } = message;
  // A chunk that cannot be read or hashed fails its own call only. The error's code (a SQLSTATE or a
  // socket's) goes with its message, so a database outage is told from a fault (isDatabaseUnavailable).
  const fail = (error: unknown) => {
    const code = (error as { code?: unknown } | null)?.code;
    parentPort!.postMessage({ id, error: error instanceof Error ? error.message : String(error), code: typeof code === 'string' ? code : undefined });
  };
  const read = queue.then(async () => (await client()).query<string[]>({ text, values, rowMode: 'array' }));
  queue = read.catch(() => undefined);
  read.then(
    ({ rows }) =>
      setImmediate(() => {
        try {
          parentPort!.postMessage({ id, ...hashVerifyRows(rows.map((row) => row[0]!)) });
        } catch (error) {
          fail(error);
        }
      }),
    fail,
  );
});
