import { parentPort } from 'node:worker_threads';
import { hashVerifyRows } from './audit-verify-rows.js';

// Verify's hashing, off the thread that reads the rows.
parentPort!.on('message', ({ id, rows }: { id: number; rows: string[] }) => parentPort!.postMessage({ id, ...hashVerifyRows(rows) }));
