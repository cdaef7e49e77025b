import { parentPort } from 'node:worker_threads';
import { watchLateness } from './idle-probe.js';
import { watchWriteback } from './writeback.js';

let watch: { lateness: ReturnType<typeof watchLateness>; writeback: ReturnType<typeof watchWriteback> } | undefined;
parentPort!.on('message', (message: 'start' | 'stop') => {
  if (message === 'start') {
    watch = { lateness: watchLateness(), writeback: watchWriteback() };
    parentPort!.postMessage('started');
  } else {
    parentPort!.postMessage({ ...watch!.lateness.stop(), writeback: watch!.writeback.stop() });
  }
});
