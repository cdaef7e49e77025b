import { setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import { httpLoad, LOAD_NICE, type HttpLoad, type LoadMessage } from './http-load.js';

// On Linux the nice value belongs to the thread, so this raises the load's thread only.
let raised = true;
try {
  setPriority(LOAD_NICE);
} catch {
  raised = false;
}
// One cell per message, one at a time (see LoadWorker).
parentPort!.on('message', (spec: HttpLoad) => {
  httpLoad(spec, (counting) => parentPort!.postMessage({ counting } satisfies LoadMessage)).then(
    (result) => parentPort!.postMessage({ ...result, raised } satisfies LoadMessage),
    (error: unknown) => parentPort!.postMessage({ error: error instanceof Error ? error.message : String(error) } satisfies LoadMessage),
  );
});
