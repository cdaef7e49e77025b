import type { NodeStatus, RunStatus } from '../api';
import './status-badge.css';

export type Status = RunStatus | NodeStatus | 'stalled';

/** PAGE.md's icons: hollow circle, spinner, check, cross, dash, slashed circle, warning triangle. Inline SVG: nothing loads from anywhere. */
export function StatusIcon({ status }: { status: Status }) {
  const common = { width: 16, height: 16, viewBox: '0 0 16 16', 'aria-hidden': true as const, focusable: 'false' as const, className: `status-icon st-${status}` };
  switch (status) {
    case 'pending':
      return (
        <svg {...common}>
          <circle cx="8" cy="8" r="6" fill="none" stroke="currentColor" strokeWidth="2" />
        </svg>
      );
    case 'running':
      return (
        <svg {...common}>
          <circle cx="8" cy="8" r="6" fill="none" stroke="currentColor" strokeOpacity="0.25" strokeWidth="2" />
          <path d="M8 2a6 6 0 0 1 6 6" fill="none" stroke="currentColor" strokeWidth="2" strokeLinecap="round" />
        </svg>
      );
    case 'succeeded':
      return (
        <svg {...common}>
          <circle cx="8" cy="8" r="7" fill="currentColor" />
          <path d="M4.8 8.3l2.1 2.1 4.3-4.6" fill="none" stroke="var(--bg)" strokeWidth="1.8" strokeLinecap="round" strokeLinejoin="round" />
        </svg>
      );
    case 'failed':
      return (
        <svg {...common}>
          <circle cx="8" cy="8" r="7" fill="currentColor" />
          <path d="M5.5 5.5l5 5m0-5l-5 5" fill="none" stroke="var(--bg)" strokeWidth="1.8" strokeLinecap="round" />
        </svg>
      );
    case 'skipped':
      return (
        <svg {...common}>
          <circle cx="8" cy="8" r="6" fill="none" stroke="currentColor" strokeWidth="2" />
          <path d="M5 8h6" stroke="currentColor" strokeWidth="2" strokeLinecap="round" />
        </svg>
      );
    case 'cancelled':
      return (
        <svg {...common}>
          <circle cx="8" cy="8" r="6" fill="none" stroke="currentColor" strokeWidth="2" />
          <path d="M3.8 12.2l8.4-8.4" stroke="currentColor" strokeWidth="2" />
        </svg>
      );
    case 'stalled':
      return (
        <svg {...common}>
          <path d="M8 1.5l7 12.5H1z" fill="currentColor" strokeLinejoin="round" />
          <path d="M8 6v3.6" stroke="var(--bg)" strokeWidth="1.8" strokeLinecap="round" />
          <circle cx="8" cy="11.8" r="1" fill="var(--bg)" />
        </svg>
      );
  }
}

/** A status as icon and word, then colour (never colour alone); `data-status` for tests and styles. */
export function StatusBadge({ status, children }: { status: Status; children?: React.ReactNode }) {
  return (
    <span className={`status-badge st-${status}`} data-status={status}>
      <StatusIcon status={status} />
      <span className="status-word">{children ?? status}</span>
    </span>
  );
}
