import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { httpLoad, LOAD_NICE, type HttpLoad, type LoadResult } from './http-load.js';

// On Linux the nice value belongs to the thread, so this raises the load's thread only.
let raised = true;
try {
  setPriority(LOAD_NICE);
} catch {
  raised = false;
}
parentPort!.postMessage({ ...(await httpLoad(workerData as HttpLoad)), raised } satisfies LoadResult);
