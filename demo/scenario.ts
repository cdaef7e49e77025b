/**
 * The demo's story: a team of agents preparing pull request #482 for a shop's webhook
 * deliveries. Plain data, read by demo/demo-run.ts: the tools and skills the agents use,
 * the run's DAG, and what each agent says and writes as it works.
 */
import type { LogLevel } from '../src/reporter/reporter.js';

export interface ScenarioTool {
  name: string;
  description: string;
  risk: 'low' | 'medium' | 'high';
}

export interface ScenarioSkill {
  name: string;
  version: string;
  description: string;
  tools: string[];
}

/** Something an agent reports `at` a fraction (0–1) of its working time. */
export type Beat = { at: number; progress: number; message: string } | { at: number; log: LogLevel; message: string };

export interface ScenarioNode {
  key: string;
  title: string;
  skill: string;
  dependsOn: string[];
  /** Working time in seconds at pace 1. */
  seconds: number;
  beats: Beat[];
  /** How it ends: its output, or the error it fails with. */
  outcome: { succeeded: Record<string, unknown> } | { failed: { message: string; code: string } };
  /** What it adds to the walkthrough page when it ends: a heading and its points. */
  section: { heading: string; points: string[] };
}

export const RUN_TITLE = 'PR #482: retry failed webhook deliveries';
export const RUN_LABELS = { demo: 'true', repo: 'acme/shop', pr: '482' };
export const ARTIFACT_TITLE = 'PR #482 walkthrough: retry failed webhook deliveries';

export const TOOLS: ScenarioTool[] = [
  { name: 'repo-read', description: 'Reads files and history of a repository', risk: 'low' },
  { name: 'issue-search', description: 'Searches the issue tracker and incident reports', risk: 'low' },
  { name: 'repo-write', description: 'Writes to a branch of a repository', risk: 'medium' },
  { name: 'shell', description: 'Runs commands in a sandboxed checkout', risk: 'medium' },
  { name: 'browser', description: 'Drives a headless browser', risk: 'medium' },
];

export const SKILLS: ScenarioSkill[] = [
  { name: 'planner', version: '1.2.0', description: 'Turns an issue into a plan of changes', tools: ['repo-read', 'issue-search'] },
  { name: 'researcher', version: '2.0.1', description: 'Collects what a change needs to know', tools: ['repo-read', 'issue-search'] },
  { name: 'coder', version: '3.1.0', description: 'Writes and amends patches', tools: ['repo-read', 'repo-write'] },
  { name: 'reviewer', version: '1.4.2', description: 'Reviews a patch like a senior engineer', tools: ['repo-read'] },
  { name: 'test-runner', version: '1.0.3', description: 'Runs the test suite and reports failures', tools: ['shell'] },
  { name: 'ui-capture', version: '0.9.0', description: 'Screenshots pages and compares them', tools: ['browser'] },
  { name: 'publisher', version: '1.1.0', description: 'Opens the pull request', tools: ['repo-write'] },
];

/**
 * Eleven agents: plan, three research branches side by side, the patch, then review, tests
 * and screenshots side by side. Screenshots fail, so the server skips the visual diff
 * downstream of it, while the main line goes on to the pull request. About 66 s of work on
 * the longest path.
 */
export const NODES: ScenarioNode[] = [
  {
    key: 'plan',
    title: 'Plan the change',
    skill: 'planner',
    dependsOn: [],
    seconds: 6,
    beats: [
      { at: 0.05, progress: 10, message: 'reading issue #479' },
      { at: 0.2, log: 'info', message: 'issue #479: about 3% of webhook deliveries fail on the first attempt and are never retried' },
      { at: 0.4, log: 'debug', message: 'context: 42 files, 6,120 lines under src/webhooks and src/orders' },
      { at: 0.5, progress: 50, message: 'listing what has to change' },
      { at: 0.85, progress: 90, message: 'writing the plan' },
    ],
    outcome: { succeeded: { steps: 5, files: ['src/webhooks/deliver.ts', 'src/webhooks/queue.ts', 'src/orders/order.service.ts'] } },
    section: {
      heading: 'Plan',
      points: [
        'Move webhook delivery out of the order request into a queue.',
        'Retry failed deliveries with exponential backoff: 5 attempts over about 30 minutes.',
        'Record every attempt so support can answer "did the partner get it?".',
      ],
    },
  },
  {
    key: 'research-code',
    title: 'Read the delivery code',
    skill: 'researcher',
    dependsOn: ['plan'],
    seconds: 14,
    beats: [
      { at: 0.05, progress: 5, message: 'cloning acme/shop' },
      { at: 0.15, log: 'debug', message: 'grep -rn "deliverWebhook" src/: 17 matches in 6 files' },
      { at: 0.3, progress: 30, message: 'reading src/webhooks/deliver.ts' },
      { at: 0.45, log: 'info', message: 'deliveries are sent once, inline, from OrderService.complete()' },
      { at: 0.6, log: 'warn', message: 'src/webhooks/deliver.ts ignores non-2xx answers: a 503 counts as delivered' },
      { at: 0.7, progress: 70, message: 'tracing callers' },
      { at: 0.9, progress: 95, message: 'summarising' },
    ],
    outcome: { succeeded: { callers: 6, sendsInline: true } },
    section: {
      heading: 'Where the change goes',
      points: ['OrderService.complete() sends the webhook inline, once.', 'deliver.ts treats any answer, even a 503, as delivered: the bug behind #479.'],
    },
  },
  {
    key: 'research-issues',
    title: 'Collect past incidents',
    skill: 'researcher',
    dependsOn: ['plan'],
    seconds: 10,
    beats: [
      { at: 0.1, progress: 15, message: 'searching the tracker' },
      { at: 0.3, log: 'info', message: 'found 7 related issues and 2 incident reports' },
      { at: 0.55, log: 'warn', message: 'incident of 3 November: retries without a cap flooded a partner endpoint' },
      { at: 0.65, progress: 65, message: 'reading incident reports' },
      { at: 0.9, progress: 95, message: 'summarising' },
    ],
    outcome: { succeeded: { issues: 7, incidents: 2 } },
    section: {
      heading: 'What went wrong before',
      points: ['Seven issues report lost webhooks since March.', 'An uncapped retry loop once flooded a partner: cap attempts and add jitter.'],
    },
  },
  {
    key: 'research-docs',
    title: 'Check the partner docs',
    skill: 'researcher',
    dependsOn: ['plan'],
    seconds: 12,
    beats: [
      { at: 0.1, progress: 10, message: 'reading docs/webhooks.md' },
      { at: 0.35, log: 'debug', message: 'docs/webhooks.md last changed 14 months ago' },
      { at: 0.5, log: 'warn', message: 'the docs promise at-least-once delivery, which the code does not do' },
      { at: 0.6, progress: 60, message: 'checking the signature header' },
      { at: 0.9, progress: 95, message: 'summarising' },
    ],
    outcome: { succeeded: { promises: 'at-least-once', pagesToUpdate: 1 } },
    section: {
      heading: 'What partners were promised',
      points: ['docs/webhooks.md promises at-least-once delivery: this change makes it true.', 'Partners must treat a repeated delivery id as a duplicate: say so in the docs.'],
    },
  },
  {
    key: 'draft',
    title: 'Write the patch',
    skill: 'coder',
    dependsOn: ['research-code', 'research-issues', 'research-docs'],
    seconds: 14,
    beats: [
      { at: 0.05, progress: 5, message: 'creating branch webhook-retries' },
      { at: 0.2, progress: 25, message: 'src/webhooks/queue.ts (new)' },
      { at: 0.3, log: 'debug', message: 'backoff: 30 s, 2 m, 8 m, 16 m, 30 m, with 20% jitter' },
      { at: 0.45, progress: 50, message: 'src/webhooks/deliver.ts' },
      { at: 0.6, log: 'info', message: 'a non-2xx answer now schedules the next attempt' },
      { at: 0.7, progress: 75, message: 'src/orders/order.service.ts' },
      { at: 0.85, progress: 90, message: 'docs/webhooks.md' },
    ],
    outcome: { succeeded: { files: 4, added: 212, removed: 38 } },
    section: {
      heading: 'The change, file by file',
      points: [
        'src/webhooks/queue.ts (new): a delivery queue in PostgreSQL, one row per attempt.',
        'src/webhooks/deliver.ts: any answer but 2xx schedules the next attempt, up to 5.',
        'src/orders/order.service.ts: completing an order enqueues the webhook instead of sending it.',
        'docs/webhooks.md: at-least-once delivery, and the delivery id to deduplicate on.',
      ],
    },
  },
  {
    key: 'review',
    title: 'Review the patch',
    skill: 'reviewer',
    dependsOn: ['draft'],
    seconds: 12,
    beats: [
      { at: 0.1, progress: 10, message: 'reading the diff (+212 -38)' },
      { at: 0.35, log: 'info', message: 'queue.ts: the claim query takes rows with FOR UPDATE SKIP LOCKED, good' },
      { at: 0.55, log: 'warn', message: 'deliver.ts: the attempt cap is hard-coded; make it a setting' },
      { at: 0.6, progress: 60, message: 'checking error handling' },
      { at: 0.8, log: 'debug', message: '2 comments, 0 blocking' },
      { at: 0.9, progress: 95, message: 'writing the review' },
    ],
    outcome: { succeeded: { comments: 2, blocking: 0 } },
    section: {
      heading: 'Review notes',
      points: ['Make the attempt cap a setting (WEBHOOK_MAX_ATTEMPTS).', 'Log the partner URL without its query string.'],
    },
  },
  {
    key: 'test',
    title: 'Run the test suite',
    skill: 'test-runner',
    dependsOn: ['draft'],
    seconds: 16,
    beats: [
      { at: 0.05, progress: 5, message: 'npm ci' },
      { at: 0.15, log: 'debug', message: 'node 24.11.0, 4 workers' },
      { at: 0.25, progress: 25, message: 'unit tests: 96 of 148' },
      { at: 0.45, log: 'warn', message: 'webhooks/queue.spec.ts: slow test, 4.1 s' },
      { at: 0.55, progress: 60, message: 'integration tests: 31 of 52' },
      { at: 0.8, progress: 85, message: 'integration tests: 52 of 52' },
      { at: 0.9, log: 'info', message: '200 tests, 200 passed, coverage of src/webhooks 94%' },
    ],
    outcome: { succeeded: { tests: 200, passed: 200, coverage: 0.94 } },
    section: { heading: 'Tests', points: ['200 tests pass, 12 of them new.', 'Coverage of src/webhooks: 94%.'] },
  },
  {
    key: 'screenshots',
    title: 'Capture UI screenshots',
    skill: 'ui-capture',
    dependsOn: ['draft'],
    seconds: 7,
    beats: [
      { at: 0.1, progress: 10, message: 'launching chromium' },
      { at: 0.3, log: 'info', message: 'opening /settings/webhooks' },
      { at: 0.5, log: 'warn', message: 'page did not settle within 10 s; retrying' },
      { at: 0.6, progress: 40, message: 'retrying /settings/webhooks' },
      { at: 0.9, log: 'error', message: 'chromium crashed (SIGSEGV) while rendering /settings/webhooks' },
    ],
    outcome: { failed: { message: 'chromium crashed while rendering /settings/webhooks', code: 'browser_crashed' } },
    section: {
      heading: 'Screenshots',
      points: ['Chromium crashed on /settings/webhooks, so there are no screenshots and no visual diff.', 'The pull request says so; a person should look at the settings page.'],
    },
  },
  {
    key: 'visual-diff',
    title: 'Compare screenshots with main',
    skill: 'ui-capture',
    dependsOn: ['screenshots'],
    seconds: 8,
    beats: [
      { at: 0.2, progress: 30, message: 'comparing 6 pages' },
      { at: 0.8, progress: 90, message: 'writing the report' },
    ],
    outcome: { succeeded: { pages: 6, changed: 1 } },
    section: { heading: 'Visual diff', points: ['One page changed: /settings/webhooks.'] },
  },
  {
    key: 'fix',
    title: 'Apply the review comments',
    skill: 'coder',
    dependsOn: ['review', 'test'],
    seconds: 10,
    beats: [
      { at: 0.1, progress: 15, message: 'WEBHOOK_MAX_ATTEMPTS setting' },
      { at: 0.35, log: 'debug', message: 'config.ts: WEBHOOK_MAX_ATTEMPTS, default 5, 1 to 20' },
      { at: 0.5, progress: 55, message: 'redacting query strings in logs' },
      { at: 0.7, log: 'info', message: 'both review comments addressed' },
      { at: 0.8, progress: 85, message: 're-running the affected tests: 14 passed' },
    ],
    outcome: { succeeded: { commits: 2 } },
    section: { heading: 'After review', points: ['WEBHOOK_MAX_ATTEMPTS (default 5) replaces the hard-coded cap.', 'Partner URLs are logged without their query string.'] },
  },
  {
    key: 'publish',
    title: 'Open the pull request',
    skill: 'publisher',
    dependsOn: ['fix'],
    seconds: 6,
    beats: [
      { at: 0.15, progress: 20, message: 'pushing webhook-retries' },
      { at: 0.45, progress: 60, message: 'writing the description' },
      { at: 0.7, log: 'info', message: 'opened pull request #482, reviewers: @payments-team' },
    ],
    outcome: { succeeded: { pullRequest: 482, reviewers: ['payments-team'] } },
    section: { heading: 'Pull request', points: ['#482 is open for review by the payments team, with this walkthrough linked in its description.'] },
  },
];

/** Working time of the longest path through the DAG, in seconds at pace 1. */
export function longestPathSeconds(nodes: readonly ScenarioNode[] = NODES): number {
  const finish = new Map<string, number>();
  for (const node of nodes) finish.set(node.key, Math.max(0, ...node.dependsOn.map((d) => finish.get(d) ?? 0)) + node.seconds);
  return Math.max(...finish.values());
}
