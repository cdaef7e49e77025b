import { parentPort, workerData } from 'node:worker_threads';
import { httpLoad, type HttpLoad } from './http-load.js';

parentPort!.postMessage(await httpLoad(workerData as HttpLoad));
