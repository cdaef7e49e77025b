import type { ReactNode } from 'react';

/** One term and its value in a `<dl>` of facts (a run's, a node's). */
export function Fact({ term, children, className }: { term: string; children: ReactNode; className?: string }) {
  return (
    <div>
      <dt>{term}</dt>
      <dd className={className}>{children}</dd>
    </div>
  );
}

/** A moment as the page writes it, machine-readable too. */
export function Moment({ at, text }: { at: string; text: string }) {
  return <time dateTime={at}>{text}</time>;
}
