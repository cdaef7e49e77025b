import { readFileSync } from 'node:fs';

/** The default bundle with `rules` (YAML list items, indented as its own) after its own rules. */
export function defaultBundleWith(rules: string): string {
  return readFileSync(new URL('../../policies/default.yaml', import.meta.url), 'utf8').trimEnd() + '\n' + rules;
}

/** Keeps runs labelled `visibility: hidden` from everyone but admins. */
export const HIDDEN_RUNS_RULE = `
  - id: hidden-runs-are-for-admins
    effect: deny
    roles: [member, auditor, viewer]
    actions: [read]
    subject: Run
    conditions: { labels.visibility: hidden }
    reason: Runs labelled hidden are for admins
`;
