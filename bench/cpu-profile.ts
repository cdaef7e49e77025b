/**
 * Reading a V8 CPU profile (the inspector's Profiler.stop, or a .cpuprofile
 * file from node --cpu-prof): self and inclusive time by function and by
 * package, and the long busy stretches. Shared by bench:profile and bench:live.
 */
export interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
}

/** The package (or this project's file) a script URL belongs to. */
export function owner(url: string): string {
  if (!url) return '(native/V8)';
  if (url.startsWith('node:')) return url;
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const dist = url.indexOf('/dist/');
  return dist >= 0 ? url.slice(dist + 6) : url;
}

/** "name owner:line", as both profiles name a function. */
export function frameName({ functionName, url, lineNumber }: CallFrame): string {
  return `${functionName || '(anonymous)'} ${owner(url)}:${lineNumber + 1}`;
}

export interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Adds `by` to `key`'s count. */
export function add(counts: Map<string, number>, key: string, by = 1): void {
  counts.set(key, (counts.get(key) ?? 0) + by);
}

/** The `n` largest counts, largest first. */
export function top(counts: Map<string, number>, n: number): [string, number][] {
  return [...counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, n);
}

/** `count` in % of `of`, one decimal. */
export const percent = (count: number, of: number) => `${((count / of) * 100).toFixed(1)}%`;

/** The `n` largest counts as indented lines: "  12.3%  name". */
export function printTop(counts: Map<string, number>, n: number, of: number): void {
  for (const [name, count] of top(counts, n)) console.log(`  ${percent(count, of).padStart(6)}  ${name}`);
}

/**
 * Self time by package and by function, inclusive time by function (a
 * function anywhere on a sample's stack, once per sample), and the busy
 * stretches of longMs or more (consecutive samples not in (idle): the
 * thread never got back to the event loop) with what ran in each.
 */
export function printProfile(profile: Profile, longMs: number): void {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
  const frame = (id: number) => frameName(byId.get(id)!.callFrame);
  const stack = (id: number) => {
    const frames = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) frames.add(frame(at));
    return frames;
  };
  const isIdle = (id: number) => byId.get(id)!.callFrame.functionName === '(idle)';

  const busy = profile.samples.filter((id) => !isIdle(id));
  const self = new Map<string, number>();
  const byOwner = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const id of busy) {
    add(self, frame(id));
    add(byOwner, owner(byId.get(id)!.callFrame.url));
    for (const name of stack(id)) add(inclusive, name);
  }
  console.log(`\nself time by package (% of ${busy.length} busy samples of ${profile.samples.length}):`);
  printTop(byOwner, 25, busy.length);
  console.log(`\nself time by function:`);
  printTop(self, 40, busy.length);

  const stretches: { start: number; ms: number; samples: number[] }[] = [];
  let current: (typeof stretches)[number] | undefined;
  let t = profile.startTime;
  profile.samples.forEach((id, i) => {
    t += profile.timeDeltas[i] ?? 0;
    if (isIdle(id)) {
      if (current && current.ms >= longMs) stretches.push(current);
      current = undefined;
      return;
    }
    current ??= { start: t, ms: 0, samples: [] };
    current.ms += (profile.timeDeltas[i + 1] ?? 0) / 1000;
    current.samples.push(id);
  });
  console.log(`\nbusy stretches of ${longMs} ms or more on the service's thread: ${stretches.length}, the longest:`);
  for (const stretch of stretches.sort((a, b) => b.ms - a.ms).slice(0, 8)) {
    const selfIn = new Map<string, number>();
    const ours = new Map<string, number>();
    for (const id of stretch.samples) {
      add(selfIn, frame(id));
      for (const name of stack(id)) if (name.includes('src/') || name.startsWith('(garbage')) add(ours, name);
    }
    const line = (counts: Map<string, number>, n: number) =>
      top(counts, n)
        .map(([name, count]) => `${percent(count, stretch.samples.length)} ${name}`)
        .join('; ');
    console.log(`  ${stretch.ms.toFixed(1)} ms at +${((stretch.start - profile.startTime) / 1000).toFixed(0)} ms: self ${line(selfIn, 6)}`);
    console.log(`      this project's frames and GC: ${line(ours, 8)}`);
  }
  console.log(`\ninclusive time by function:`);
  printTop(inclusive, 70, busy.length);
}

