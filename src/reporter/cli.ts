#!/usr/bin/env node
/**
 * `vitrine report --run <id> --node <key> --<type> …`: sends one event of a run's node, for
 * agents written in shell. Exit 0 when accepted, 1 when the server refused it, 2 on bad usage.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Reporter, ReporterError, type LogLevel } from './reporter.js';

export const USAGE = `usage: vitrine report --run <id> --node <key> <type> [options]

type, exactly one of:
  --started | --progress <0-100> | --log | --heartbeat | --succeeded | --failed | --skipped

options:
  --message <text>     text of --progress, --skipped; required with --log and --failed
  --level <level>      level of --log: debug, info (default), warn or error
  --output <json>      JSON output of --succeeded
  --error-code <code>  error code of --failed
  --url <url>          Vitrine's base URL (default: $VITRINE_URL, else http://localhost:3000)
  --token <token>      token (default: $VITRINE_TOKEN, which is better: flags show in ps and history)
`;

const DEFAULT_URL = 'http://localhost:3000';
const TYPE_FLAGS = ['started', 'progress', 'log', 'heartbeat', 'succeeded', 'failed', 'skipped'] as const;
const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

export type CliEvent =
  | { type: 'started' | 'heartbeat'; node: string }
  | { type: 'progress'; node: string; percent: number; message?: string }
  | { type: 'log'; node: string; message: string; level: LogLevel }
  | { type: 'succeeded'; node: string; output?: unknown }
  | { type: 'failed'; node: string; error: { message: string; code?: string } }
  | { type: 'skipped'; node: string; message?: string };

export interface ReportArgs {
  help?: false;
  url: string;
  token: string;
  runId: string;
  event: CliEvent;
}

export type ReportCommand = { help: true } | ReportArgs;

export class UsageError extends Error {}

/** Pure: reads only argv (after `node cli.js`) and the given environment; throws UsageError. */
export function parseReportArgs(argv: string[], env: Readonly<Record<string, string | undefined>> = process.env): ReportCommand {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        run: { type: 'string' },
        node: { type: 'string' },
        started: { type: 'boolean' },
        progress: { type: 'string' },
        log: { type: 'boolean' },
        heartbeat: { type: 'boolean' },
        succeeded: { type: 'boolean' },
        failed: { type: 'boolean' },
        skipped: { type: 'boolean' },
        message: { type: 'string' },
        level: { type: 'string' },
        output: { type: 'string' },
        'error-code': { type: 'string' },
        url: { type: 'string' },
        token: { type: 'string' },
      },
    });
  } catch (error) {
    // parseArgs throws TypeError (ERR_PARSE_ARGS_*) for unknown options and missing values.
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return { help: true };
  if (positionals.length !== 1 || positionals[0] !== 'report') {
    throw new UsageError(positionals.length ? `unknown command: ${positionals.join(' ')}` : 'missing command: report');
  }

  const runId = values.run;
  const node = values.node;
  if (!runId) throw new UsageError('--run <id> is required');
  if (!node) throw new UsageError('--node <key> is required');
  const types = TYPE_FLAGS.filter((flag) => values[flag] !== undefined && values[flag] !== false);
  if (types.length !== 1) {
    throw new UsageError(types.length ? `give one type, not ${types.map((t) => `--${t}`).join(' and ')}` : 'a type is required (--started, --progress <0-100>, …)');
  }
  const type = types[0]!;

  // A flag the type does not take is an error, not silently dropped: the agent meant something by it.
  const allowed: Record<string, readonly (typeof TYPE_FLAGS)[number][]> = {
    message: ['progress', 'log', 'failed', 'skipped'],
    level: ['log'],
    output: ['succeeded'],
    'error-code': ['failed'],
  };
  for (const [flag, takers] of Object.entries(allowed)) {
    if (values[flag as keyof typeof values] !== undefined && !takers.includes(type)) throw new UsageError(`--${flag} does not apply to --${type}`);
  }

  const event = toEvent(type, node, values);
  const token = values.token ?? env.VITRINE_TOKEN;
  if (!token) throw new UsageError('no token: set VITRINE_TOKEN (or pass --token)');
  const url = values.url ?? env.VITRINE_URL ?? DEFAULT_URL;
  if (!URL.canParse(url)) throw new UsageError(`not a URL: ${url}`);
  return { url, token, runId, event };
}

function toEvent(
  type: (typeof TYPE_FLAGS)[number],
  node: string,
  values: { progress?: string; message?: string; level?: string; output?: string; 'error-code'?: string },
): CliEvent {
  const { message } = values;
  switch (type) {
    case 'started':
    case 'heartbeat':
      return { type, node };
    case 'progress': {
      // Number('') is 0 and Number('1e2') is 100: accept plain decimals only.
      const percent = /^\d+(\.\d+)?$/.test(values.progress!) ? Number(values.progress) : NaN;
      if (!(percent >= 0 && percent <= 100)) throw new UsageError(`--progress must be a number from 0 to 100, got "${values.progress}"`);
      return { type, node, percent, ...(message !== undefined && { message }) };
    }
    case 'log': {
      if (message === undefined) throw new UsageError('--log needs --message <text>');
      const level = values.level ?? 'info';
      if (!LEVELS.includes(level as LogLevel)) throw new UsageError(`--level must be one of ${LEVELS.join(', ')}`);
      return { type, node, message, level: level as LogLevel };
    }
    case 'succeeded': {
      if (values.output === undefined) return { type, node };
      try {
        return { type, node, output: JSON.parse(values.output) };
      } catch {
        throw new UsageError(`--output is not JSON: ${values.output}`);
      }
    }
    case 'failed': {
      if (message === undefined) throw new UsageError('--failed needs --message <text>');
      const code = values['error-code'];
      return { type, node, error: { message, ...(code !== undefined && { code }) } };
    }
    case 'skipped':
      return { type, node, ...(message !== undefined && { message }) };
  }
}

function send(reporter: Reporter, event: CliEvent): void {
  switch (event.type) {
    case 'started':
      return reporter.started(event.node);
    case 'heartbeat':
      return reporter.heartbeat(event.node);
    case 'progress':
      return reporter.progress(event.node, event.percent, event.message);
    case 'log':
      return reporter.log(event.node, event.message, event.level);
    case 'succeeded':
      return reporter.succeeded(event.node, event.output);
    case 'failed':
      return reporter.failed(event.node, event.error);
    case 'skipped':
      return reporter.skipped(event.node, event.message);
  }
}

async function main(argv: string[]): Promise<number> {
  let command: ReportCommand;
  try {
    command = parseReportArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`error: ${error.message}\n\n${USAGE}`);
    return 2;
  }
  if (command.help) {
    process.stdout.write(USAGE);
    return 0;
  }

  // Retries can take a while (a server restarting, the database down): say so as they happen.
  const reporter = new Reporter({
    url: command.url,
    token: command.token,
    runId: command.runId,
    onRetry: ({ error, retry, maxRetries, delayMs }) => console.error(`${error.code}: ${error.detail}; retry ${retry} of ${maxRetries} in ${(delayMs / 1000).toFixed(1)} s`),
  });
  try {
    send(reporter, command.event);
    const { accepted, duplicates, lastSeq } = await reporter.close();
    console.log(`accepted ${accepted}${duplicates ? `, ${duplicates} duplicate` : ''} (lastSeq ${lastSeq})`);
    return 0;
  } catch (error) {
    if (!(error instanceof ReporterError)) throw error;
    console.error(`error: ${error.code}: ${error.detail}`);
    for (const e of error.problem?.errors ?? []) console.error(`  ${e.path}: ${e.message}`);
    return 1;
  }
}

/** Run only as the program, not when a test imports parseReportArgs. realpath: npm's bin is a symlink to this file. */
function isMain(): boolean {
  try {
    return realpathSync(process.argv[1] ?? '') === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isMain()) process.exitCode = await main(process.argv.slice(2));
