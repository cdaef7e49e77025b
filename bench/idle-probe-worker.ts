import { parentPort } from 'node:worker_threads';
import { watchLateness } from './idle-probe.js';

let watch: ReturnType<typeof watchLateness> | undefined;
parentPort!.on('message', (message: 'start' | 'stop') => {
  if (message === 'start') {
    watch = watchLateness();
    parentPort!.postMessage('started');
  } else {
    parentPort!.postMessage(watch!.stop());
  }
});
