import { useState } from 'react';
import './artifact-frame.css';

interface Frame {
  key: string;
  src: string;
  loaded: boolean;
}

/**
 * A rendered artifact in `<iframe sandbox="allow-scripts">` (its own opaque origin: its scripts reach
 * neither this page nor the API). A new `src` (or `version`, to reload the same URL) loads in a second,
 * hidden frame that replaces the shown one only once it has loaded: a new revision never flickers.
 */
export function ArtifactFrame({ src, title, version = 0 }: { src: string; title: string; version?: number }) {
  const wanted = `${version}|${src}`;
  const [frames, setFrames] = useState<Frame[]>(() => [{ key: wanted, src, loaded: false }]);
  const latest = frames[frames.length - 1]!;
  if (latest.key !== wanted) {
    // Set while rendering (React's pattern for state that follows a prop): the shown frame stays, the newest wanted one loads behind it.
    const shown = frames[0]!;
    setFrames(shown.key === wanted ? [shown] : [shown, { key: wanted, src, loaded: false }]);
  }
  function loaded(key: string) {
    setFrames((current) => {
      const last = current[current.length - 1]!;
      if (last.key !== key) return current;
      return [{ ...last, loaded: true }];
    });
  }
  const busy = frames.length > 1 || !frames[0]!.loaded;
  return (
    <div className="artifact-frame" aria-busy={busy}>
      {frames.map((frame, i) => (
        <iframe
          key={frame.key}
          src={frame.src}
          title={title}
          sandbox="allow-scripts"
          className={i === 0 ? 'shown' : 'incoming'}
          aria-hidden={i > 0 ? true : undefined}
          tabIndex={i > 0 ? -1 : undefined}
          onLoad={() => loaded(frame.key)}
        />
      ))}
    </div>
  );
}
