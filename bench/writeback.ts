import { existsSync, readFileSync } from 'node:fs';

/**
 * What the kernel's page cache did to the disks while a cell ran (Linux; NaN
 * elsewhere): the fastest the whole disks were written over any 100 ms, in
 * MB/s, and the most dirty page cache waiting to be written back, in MB.
 *
 * Why: PostgreSQL writes table and index pages into the page cache (a new page
 * when it extends a file, an evicted buffer later) and leaves them for the
 * kernel to write back. The kernel writes an inode's dirty pages all at once
 * when its oldest is older than vm.dirty_expire_centisecs (30 s), so a
 * server that ingests all day sends 100-200 MB to the disk in a few hundred
 * ms about every 30 s, while WAL's own writes, at half the peak, stay under
 * 20 MB/s. Measured on 2026-12-06 (2-core machine):
 * - bench:profile at 331 batches/s of 100 events, three runs of ten 5 s cells
 *   on the host's defaults: each of the seven bursts that fell in a service
 *   cell gave it a p99 of 44-90 ms. Of the other cells, most stayed at 7-23 ms,
 *   but two in the third run reached 39 and 42 ms with no burst. With
 *   vm.dirty_background_bytes at 32 MB (writeback in steps of about 30 MB),
 *   two runs: all ten cells at 6-14 ms in one, 6-26 ms in the other.
 * - But bench:ingest --repeat 3 had bursts of 500-1,100 MB/s in batch cells
 *   with a p99 of 7-9 ms, and with the same 32 MB setting one batch round
 *   still had 81 ms (inside the service 58 ms, its event loop once 36 ms late).
 * So a burst can stall commits and often does, but it is one cause of the
 * tail among others; this figure tells whether a given cell had one.
 */
export interface Writeback {
  peakMBps: number;
  dirtyMaxMB: number;
}

const SAMPLE_MS = 100;

/** Whole disks (not partitions, which would count their writes twice): the names /sys/block lists. */
let wholeDisks: Set<string> | undefined;

/** Sectors (512 bytes, whatever the disk's own) written to whole disks since boot, from /proc/diskstats. */
function sectorsWritten(): number {
  const lines = readFileSync('/proc/diskstats', 'utf8').trim().split('\n');
  const rows = lines.map((line) => line.trim().split(/\s+/));
  wholeDisks ??= new Set(rows.map((f) => f[2]!).filter((name) => existsSync(`/sys/block/${name.replaceAll('/', '!')}`)));
  // Without /sys (some containers) no disk is known whole: say so rather than report 0 MB/s.
  if (wholeDisks.size === 0) throw new Error('no whole disk in /sys/block');
  return rows.filter((f) => wholeDisks!.has(f[2]!)).reduce((sum, f) => sum + Number(f[9]), 0);
}

/** The page cache's dirty bytes, in MB, from /proc/meminfo. */
function dirtyMB(): number {
  const kB = /^Dirty:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1];
  return kB === undefined ? NaN : Number(kB) / 1024;
}

/** Samples the disks and the page cache every 100 ms on the calling thread's timers until stop(). */
export function watchWriteback(): { stop(): Writeback } {
  let last: { at: number; sectors: number };
  try {
    last = { at: performance.now(), sectors: sectorsWritten() };
  } catch {
    return { stop: () => ({ peakMBps: NaN, dirtyMaxMB: NaN }) };
  }
  let peakMBps = 0;
  let dirtyMaxMB = dirtyMB();
  const sample = () => {
    const now = { at: performance.now(), sectors: sectorsWritten() };
    peakMBps = Math.max(peakMBps, ((now.sectors - last.sectors) * 512) / 1e6 / ((now.at - last.at) / 1000));
    dirtyMaxMB = Math.max(dirtyMaxMB, dirtyMB());
    last = now;
  };
  const timer = setInterval(sample, SAMPLE_MS);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return { peakMBps, dirtyMaxMB };
    },
  };
}

/** The kernel's writeback settings, as a line a reader can set beside the figures (Linux; undefined elsewhere). */
export function writebackSettings(): string | undefined {
  const vm = (name: string) => Number(readFileSync(`/proc/sys/vm/${name}`, 'utf8'));
  try {
    const backgroundBytes = vm('dirty_background_bytes');
    const background = backgroundBytes ? `${(backgroundBytes / 1e6).toFixed(0)} MB` : `${vm('dirty_background_ratio')}% of memory`;
    return `kernel writeback: starts once the dirty page cache passes ${background}, and writes out any file whose dirty pages are older than ${vm('dirty_expire_centisecs') / 100} s (vm.dirty_background_*, vm.dirty_expire_centisecs)`;
  } catch {
    return undefined;
  }
}

/** "disk peak N MB/s, dirty up to M MB". */
export function writebackText(w: Writeback): string {
  return Number.isNaN(w.peakMBps) ? 'disk not watched' : `disk peak ${w.peakMBps.toFixed(0)} MB/s, dirty up to ${w.dirtyMaxMB.toFixed(0)} MB`;
}
