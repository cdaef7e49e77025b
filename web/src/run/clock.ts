import { useSyncExternalStore } from 'react';

// One timer for every live duration on the page (2,000 node cards must not each run an interval).
const listeners = new Set<() => void>();
let timer: ReturnType<typeof setInterval> | undefined;
let now = Date.now();

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  // A newcomer reads the time now, not the last tick (up to a second old): React re-reads it after subscribing.
  now = Date.now();
  if (!timer) {
    timer = setInterval(() => {
      now = Date.now();
      for (const l of listeners) l();
    }, 1000);
  }
  return () => {
    listeners.delete(listener);
    if (listeners.size === 0 && timer) {
      clearInterval(timer);
      timer = undefined;
    }
  };
}

const still = () => () => undefined;

/** The time, ticking each second while `active` (a running node's duration); the last tick otherwise. */
export function useClock(active: boolean): number {
  return useSyncExternalStore(active ? subscribe : still, () => now);
}
