import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';

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

/** This thread's timer lateness (watchLateness) and its longest GC pause (ms), from now until stop(). */
export function watchThisThread(): { stop(): Lateness & { gcMax: number } } {
  let gcMax = 0;
  const gc = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcMax = Math.max(gcMax, entry.duration);
  });
  gc.observe({ entryTypes: ['gc'] });
  const loop = watchLateness();
  return {
    stop() {
      const late = loop.stop();
      gc.disconnect();
      return { ...late, gcMax };
    },
  };
}

/**
 * A thread that does nothing but keep a 1 ms timer: how late it runs is how
 * long this machine's scheduler keeps a thread that wants the CPU waiting,
 * whatever that thread's own work. Beside the service's event loop lateness,
 * it tells the CPU contention of a 2-core machine running load, service and
 * database together from the service's own pauses.
 */
export class IdleProbe {
  private readonly worker = new Worker(new URL('./idle-probe-worker.js', import.meta.url));

  constructor() {
    // A bench that fails mid-cell exits instead of waiting on the probe forever.
    this.worker.unref();
  }

  async during<T>(run: () => Promise<T>): Promise<[T, Lateness]> {
    const started = new Promise((resolve) => this.worker.once('message', resolve));
    this.worker.postMessage('start');
    await started;
    const result = await run();
    const stopped = new Promise<Lateness>((resolve) => this.worker.once('message', resolve));
    this.worker.postMessage('stop');
    return [result, await stopped];
  }

  close(): Promise<number> {
    return this.worker.terminate();
  }
}
