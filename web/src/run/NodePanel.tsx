import { useEffect, useId, useLayoutEffect, useMemo, useRef, useState } from 'react';
import { useVirtualizer } from '@tanstack/react-virtual';
import { Link } from 'wouter';
import { Fact, Moment } from '../components/Fact';
import { StatusBadge } from '../components/StatusBadge';
import { formatAbsolute } from '../lib/time';
import { SilentFor, useDuration } from './RunGraph';
import { LOG_LEVELS, reasonText, type LogLevel, type LogLine, type NodeState } from './run-state';

const LINE_HEIGHT = 22;
const timeOfDay = new Intl.DateTimeFormat('en', { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });

interface Props {
  node: NodeState;
  staleAfterSeconds: number;
  /** Its log up to the seq being viewed; undefined while the run's history loads. */
  lines: readonly LogLine[] | undefined;
  /** The seq being viewed (the live head when live): a link to this moment names it. */
  seq: number;
  linkTo: string;
  onClose: () => void;
}

/** A node's panel beside the graph: what it is and did, its log tail, its output and error. */
export function NodePanel({ node, staleAfterSeconds, lines, seq, linkTo, onClose }: Props) {
  const duration = useDuration(node);
  const headingId = useId();
  return (
    <aside className="node-panel" id="node-panel" aria-labelledby={headingId}>
      <div className="np-head">
        <div>
          <h2 id={headingId}>{node.title}</h2>
          {node.title !== node.key && <p className="np-key muted">{node.key}</p>}
        </div>
        <button type="button" className="np-close" onClick={onClose} aria-label={`Close the panel of ${node.title}`}>
          ×
        </button>
      </div>
      <div className="np-status">
        <StatusBadge status={node.status} />
        {node.percent !== null && <span>{Math.round(node.percent)}%</span>}
        {duration && <span className="muted">{duration}</span>}
        {node.stalled && <SilentFor node={node} staleAfterSeconds={staleAfterSeconds} />}
      </div>
      <dl className="np-facts">
        <Fact term="Skill">{node.skill}</Fact>
        {node.startedAt && (
          <Fact term="Started">
            <Moment at={node.startedAt} text={formatAbsolute(node.startedAt)} />
          </Fact>
        )}
        {node.endedAt && (
          <Fact term="Ended">
            <Moment at={node.endedAt} text={formatAbsolute(node.endedAt)} />
          </Fact>
        )}
        {node.reason && <Fact term="Reason">{reasonText(node.reason)}</Fact>}
        {node.dependsOn.length > 0 && <Fact term="Depends on">{node.dependsOn.join(', ')}</Fact>}
      </dl>
      {node.message && <p className="np-message">{node.message}</p>}
      {node.error && (
        <div className="np-error">
          <strong>Error{node.error.code ? ` ${node.error.code}` : ''}</strong>
          <p>{node.error.message}</p>
        </div>
      )}
      <LogTail lines={lines} nodeKey={node.key} />
      {node.output !== undefined && node.output !== null && (
        <section className="np-section" aria-label="Output">
          <h3>Output</h3>
          <div className="json">
            <JsonValue value={node.output} name="output" depth={0} />
          </div>
        </section>
      )}
      <p className="np-link small">
        <Link href={linkTo}>Link to this node at seq {seq.toLocaleString('en')}</Link>
      </p>
    </aside>
  );
}

/**
 * The log, virtualised (a node may log 100,000 lines): filter by level; follows new lines only while
 * scrolled to the bottom, so reading older lines is never interrupted.
 */
function LogTail({ lines, nodeKey }: { lines: readonly LogLine[] | undefined; nodeKey: string }) {
  const [levels, setLevels] = useState<ReadonlySet<LogLevel>>(() => new Set(LOG_LEVELS));
  // The timeline appends to the array it gave for the live head: its length says when it grew.
  const count = lines?.length;
  const shown = useMemo(() => (lines && levels.size < LOG_LEVELS.length ? lines.filter((l) => levels.has(l.level)) : (lines ?? [])), [lines, count, levels]);
  const scroller = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  const virtualizer = useVirtualizer({ count: shown.length, getScrollElement: () => scroller.current, estimateSize: () => LINE_HEIGHT, overscan: 20 });
  useLayoutEffect(() => {
    if (atBottom.current && shown.length > 0) virtualizer.scrollToIndex(shown.length - 1, { align: 'end' });
  }, [shown.length, virtualizer]);
  // Another node's log starts at its end.
  useEffect(() => {
    atBottom.current = true;
  }, [nodeKey]);
  const toggle = (level: LogLevel) =>
    setLevels((held) => {
      const next = new Set(held);
      if (next.has(level)) next.delete(level);
      else next.add(level);
      return next;
    });
  return (
    <section className="np-section np-log" aria-label="Log">
      <div className="np-log-head">
        <h3>Log</h3>
        <fieldset className="levels">
          <legend className="sr-only">Show levels</legend>
          {LOG_LEVELS.map((level) => (
            <label key={level} className={`level-toggle lv-${level}`}>
              <input type="checkbox" checked={levels.has(level)} onChange={() => toggle(level)} />
              {level}
            </label>
          ))}
        </fieldset>
      </div>
      {lines === undefined ? (
        <p className="muted small" role="status">
          <span className="spinner" aria-hidden="true" /> Loading the log…
        </p>
      ) : shown.length === 0 ? (
        <p className="muted small">{lines.length === 0 ? 'Nothing logged yet.' : 'No line at the levels shown.'}</p>
      ) : (
        <div
          className="log-lines"
          ref={scroller}
          tabIndex={0}
          role="log"
          aria-label={`Log of ${nodeKey}, ${shown.length} lines`}
          onScroll={(event) => {
            const el = event.currentTarget;
            atBottom.current = el.scrollTop + el.clientHeight >= el.scrollHeight - LINE_HEIGHT / 2;
          }}
        >
          <div className="log-sizer" style={{ height: virtualizer.getTotalSize() }}>
            {virtualizer.getVirtualItems().map((item) => {
              const line = shown[item.index]!;
              return (
                <div key={line.seq} className={`log-line lv-${line.level}`} style={{ transform: `translateY(${item.start}px)` }} title={line.message} data-seq={line.seq}>
                  <span className="log-time">{timeOfDay.format(new Date(line.at))}</span>
                  <span className="log-level">{line.level}</span>
                  <span className="log-text">{line.message}</span>
                </div>
              );
            })}
          </div>
        </div>
      )}
    </section>
  );
}

/** JSON as a tree of disclosures: the first level open, deeper ones collapsed. */
function JsonValue({ value, name, depth }: { value: unknown; name: string; depth: number }) {
  if (value === null || typeof value !== 'object') return <span className={`json-${value === null ? 'null' : typeof value}`}>{JSON.stringify(value)}</span>;
  const entries: [string, unknown][] = Array.isArray(value) ? value.map((v, i) => [String(i), v]) : Object.entries(value as Record<string, unknown>);
  const label = Array.isArray(value) ? `[${entries.length}]` : `{${entries.length}}`;
  if (entries.length === 0) return <span className="json-empty">{Array.isArray(value) ? '[]' : '{}'}</span>;
  return (
    <details open={depth < 2}>
      <summary>
        <span className="json-key">{name}</span> <span className="muted">{label}</span>
      </summary>
      <ul>
        {entries.map(([key, v]) => (
          <li key={key}>
            {v !== null && typeof v === 'object' ? (
              <JsonValue value={v} name={key} depth={depth + 1} />
            ) : (
              <>
                <span className="json-key">{key}</span>: <JsonValue value={v} name={key} depth={depth + 1} />
              </>
            )}
          </li>
        ))}
      </ul>
    </details>
  );
}
