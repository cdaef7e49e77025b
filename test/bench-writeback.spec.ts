import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { watchWriteback, writebackText } from '../bench/writeback.js';

describe("the benches' disk watch", () => {
  it('says when it watched nothing rather than print NaN or 0 MB/s', () => {
    expect(writebackText({ peakMBps: NaN, dirtyMaxMB: NaN })).toBe('disk not watched');
    expect(writebackText({ peakMBps: 912.4, dirtyMaxMB: 180.6 })).toBe('disk peak 912 MB/s, dirty up to 181 MB');
  });

  it('sees 32 MB written and synced to the disk the checkout is on', () => {
    // In the checkout, not the temporary directory, which may be memory.
    const dir = mkdtempSync(path.join(process.cwd(), '.writeback-test-'));
    try {
      const watch = watchWriteback();
      writeFileSync(path.join(dir, 'f'), Buffer.alloc(32 * 1024 * 1024, 1));
      execFileSync('sync');
      const { peakMBps, dirtyMaxMB } = watch.stop();
      expect(peakMBps).toBeGreaterThan(0);
      // A number, not NaN: /proc/meminfo was read.
      expect(dirtyMaxMB).toBeGreaterThanOrEqual(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
