/**
 * What bench:page puts in each page before its own scripts run
 * (context.addInitScript), as JavaScript source: the bench's code has no DOM
 * types, and this runs in Chromium, not in Node.
 *
 * window.__probe:
 * - marks: for each watched condition, performance.now() (ms since the
 *   navigation started) at the first animation frame in which its container
 *   is in the document and one of its node boxes is in the viewport, sized and
 *   not hidden:
 *   the frame that paints it;
 * - start() / stop(): over that stretch, every rAF interval, every long task
 *   (PerformanceObserver 'longtask'), every interaction's Event Timing entries, and
 *   every change of a node box's data-status or data-percent, with the time
 *   (epoch ms, as the bench's clock reads) and the box's state then, and how
 *   many DOM mutation callbacks ran in each frame (more than one: updates
 *   were not batched into that frame);
 * - clickWait(panel, key): resolves with the ms from the next click's event
 *   time to the first frame in which `panel` holds `key` as text.
 */
export interface Watch {
  name: string;
  container: string;
  box: string;
}

export interface ProbeReport {
  /** Intervals between consecutive animation frames (ms). */
  frames: number[];
  longTasks: { start: number; duration: number }[];
  /** Event Timing entries of user interactions (pointerdown, pointerup, click, keys): from the input to the next paint after its handlers (ms, 8 ms granularity). */
  inputs: { interaction: number; duration: number }[];
  /** [epoch ms, node key, data-status, data-percent] per box change. */
  changes: [number, string, string, string][];
  /** Frames in which at least one / more than one DOM mutation callback ran. */
  framesWithCommits: number;
  framesWithSeveralCommits: number;
  seconds: number;
}

export function probeScript(watch: Watch[]): string {
  return `(() => {
  const watch = ${JSON.stringify(watch)};
  const p = (window.__probe = { marks: {}, recording: false });
  let frames = [], last = 0, frameIndex = 0, commitsInFrame = 0, framesWithCommits = 0, framesWithSeveralCommits = 0;
  let longTasks = [], inputs = [], changes = [], started = 0;
  const visible = (el) => {
    if (!el) return false;
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && r.right > 0 && r.bottom > 0 && r.left < innerWidth && r.top < innerHeight && getComputedStyle(el).visibility !== 'hidden';
  };
  const tick = (t) => {
    for (const w of watch) {
      if (p.marks[w.name] === undefined && document.querySelector(w.container) && [...document.querySelectorAll(w.container + ' ' + w.box)].some(visible)) p.marks[w.name] = t;
    }
    if (p.recording) {
      if (last) frames.push(t - last);
      last = t;
      if (commitsInFrame) framesWithCommits++;
      if (commitsInFrame > 1) framesWithSeveralCommits++;
    }
    commitsInFrame = 0;
    frameIndex++;
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  try {
    new PerformanceObserver((list) => {
      if (p.recording) for (const e of list.getEntries()) longTasks.push({ start: e.startTime, duration: e.duration });
    }).observe({ type: 'longtask' });
    new PerformanceObserver((list) => {
      if (p.recording) for (const e of list.getEntries()) if (e.interactionId) inputs.push({ interaction: e.interactionId, duration: e.duration });
    }).observe({ type: 'event', durationThreshold: 16 });
  } catch (e) {
    p.observerError = String(e);
  }
  const mutations = new MutationObserver((records) => {
    if (!p.recording) return;
    commitsInFrame++;
    const at = performance.timeOrigin + performance.now();
    for (const r of records) {
      const el = r.target;
      const key = el.getAttribute('data-node-key');
      if (key !== null) changes.push([at, key, el.getAttribute('data-status') || '', el.getAttribute('data-percent') || '']);
    }
  });
  p.start = () => {
    frames = []; longTasks = []; inputs = []; changes = []; last = 0; framesWithCommits = 0; framesWithSeveralCommits = 0;
    started = performance.now();
    p.recording = true;
    mutations.observe(document.documentElement, { subtree: true, attributes: true, attributeFilter: ['data-status', 'data-percent'] });
  };
  p.stop = () => {
    p.recording = false;
    mutations.disconnect();
    return { frames, longTasks, inputs, changes, framesWithCommits, framesWithSeveralCommits, seconds: (performance.now() - started) / 1000 };
  };
  p.clickWait = (panel, key) => {
    p.clicked = new Promise((resolve) => {
      addEventListener('click', (event) => {
        const from = event.timeStamp;
        const look = () => {
          const el = document.querySelector(panel);
          if (el && el.textContent.includes(key)) resolve(performance.now() - from);
          else requestAnimationFrame(look);
        };
        requestAnimationFrame(look);
      }, { capture: true, once: true });
    });
  };
})();`;
}
