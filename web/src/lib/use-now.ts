import { useEffect, useState, useSyncExternalStore } from 'react';

// One timer for every live duration on a page (2,000 node cards must not each run an interval).
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

/** The time, ticking each second while `active` (live durations), on the page's one shared timer; the last tick otherwise. */
export function useClock(active: boolean): number {
  return useSyncExternalStore(active ? subscribe : still, () => now);
}

/** The current time, ticking every `everyMs` while `active`: for slower ticks than useClock's (a poll's schedule); frozen otherwise. */
export function useNow(active: boolean, everyMs: number): number {
  const [time, setTime] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    setTime(Date.now());
    const interval = setInterval(() => setTime(Date.now()), everyMs);
    return () => clearInterval(interval);
  }, [active, everyMs]);
  return time;
}
