import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import type { Writeback } from './writeback.js';

/** How late a 1 ms timer ran, in ms: p99 and worst. */
export interface Lateness {
  p99: number;
  max: number;
}

/** A 1 ms timer's lateness on the calling thread, from now until stop(). */
export function watchLateness(): { stop(): Lateness } {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  return {
    stop() {
      histogram.disable();
      // The histogram counts in ns, from the 1 ms the timer was set for.
      return { p99: Math.max(0, histogram.percentile(99) / 1e6 - 1), max: Math.max(0, histogram.max / 1e6 - 1) };
    },
  };
}

/** The calling thread's time on a core and time runnable but waiting for one, in ms since it started (Linux's schedstat; NaN elsewhere). */
function schedstat(): { ran: number; waited: number } {
  try {
    const [ran, waited] = readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ').map(Number);
    return { ran: ran! / 1e6, waited: waited! / 1e6 };
  } catch {
    return { ran: NaN, waited: NaN };
  }
}

/**
 * This thread's timer lateness (watchLateness), its longest GC pause (ms), and
 * how long it waited for a core while it had work (ms; its run-queue wait), from now until stop().
 */
export function watchThisThread(): { stop(): Lateness & { gcMax: number; ranMs: number; waitedMs: number } } {
  let gcMax = 0;
  const gc = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcMax = Math.max(gcMax, entry.duration);
  });
  gc.observe({ entryTypes: ['gc'] });
  const loop = watchLateness();
  const sched0 = schedstat();
  return {
    stop() {
      const late = loop.stop();
      const sched = schedstat();
      gc.disconnect();
      return { ...late, gcMax, ranMs: sched.ran - sched0.ran, waitedMs: sched.waited - sched0.waited };
    },
  };
}

/**
 * A thread that does nothing but keep a 1 ms timer: how late it runs is how
 * long this machine's scheduler keeps a thread that wants the CPU waiting,
 * whatever that thread's own work. Beside the service's event loop lateness,
 * it tells the CPU contention of a 2-core machine running load, service and
 * database together from the service's own pauses. The same thread samples
 * the disks and the page cache (watchWriteback, every 100 ms), off the
 * service's thread.
 */
export class IdleProbe {
  private readonly worker = new Worker(new URL('./idle-probe-worker.js', import.meta.url));

  constructor() {
    // A bench that fails mid-cell exits instead of waiting on the probe forever.
    this.worker.unref();
  }

  async during<T>(run: () => Promise<T>): Promise<[T, Lateness & { writeback: Writeback }]> {
    const started = new Promise((resolve) => this.worker.once('message', resolve));
    this.worker.postMessage('start');
    await started;
    const result = await run();
    const stopped = new Promise<Lateness & { writeback: Writeback }>((resolve) => this.worker.once('message', resolve));
    this.worker.postMessage('stop');
    return [result, await stopped];
  }

  close(): Promise<number> {
    return this.worker.terminate();
  }
}
