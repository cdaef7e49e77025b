/**
 * Whether an error says the database could not be reached or dropped the
 * connection, rather than that the request or the code was wrong: the request
 * may well succeed if sent again once the database is back. The problem
 * filter answers these 503 `unavailable` (with Retry-After) instead of 500,
 * so clients retry (the Reporter does, with the same event ids) and operators
 * see an outage, not a bug.
 *
 * Recognised, on the error or what it wraps (TypeORM's QueryFailedError keeps
 * the driver's error as `driverError`; node-postgres chains with `cause`):
 * - SQLSTATE class 08 (connection exception), class 53 (insufficient
 *   resources: disk full, out of memory, too many connections) and
 *   57P01-57P03 (the server is shutting down, crashed or not yet accepting
 *   connections);
 * - the socket errors of a refused, reset, timed-out or unroutable connection;
 * - node-postgres's own errors for a connection that ended mid-query and for
 *   a pool that could not connect within its timeout (it gives these no code).
 */
const SQLSTATES = new Set(['57P01', '57P02', '57P03']);
const SQLSTATE_CLASSES = ['08', '53'];
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
const DRIVER_MESSAGES = new Set(['Connection terminated unexpectedly', 'Connection terminated due to connection timeout', 'timeout exceeded when trying to connect']);

export function isDatabaseUnavailable(error: unknown): boolean {
  // A few levels: QueryFailedError → driver error → its cause.
  for (let e = error, depth = 0; e && typeof e === 'object' && depth < 4; depth++) {
    const { code, message, driverError, cause } = e as { code?: unknown; message?: unknown; driverError?: unknown; cause?: unknown };
    if (typeof code === 'string' && (SQLSTATES.has(code) || SOCKET_CODES.has(code) || (code.length === 5 && SQLSTATE_CLASSES.includes(code.slice(0, 2))))) return true;
    if (typeof message === 'string' && DRIVER_MESSAGES.has(message)) return true;
    e = driverError ?? cause;
  }
  return false;
}

/** How often an outage is reported while it lasts. */
export const OUTAGE_WARN_INTERVAL_MS = 5_000;

/** What OutageWarnings writes to: Nest's Logger, as the services hold it. */
interface OutageLogger {
  warn(fields: Record<string, unknown>, message: string): void;
  error(message: string): void;
}

/**
 * Reports an outage as a warning at most every OUTAGE_WARN_INTERVAL_MS, with
 * how many failures it stands for: a request answered 503 or a background
 * tick that could not run, each second of an outage, would otherwise bury
 * the log under identical lines.
 */
export class OutageWarnings {
  private failures = 0;
  private warnedAt = -Infinity;

  constructor(
    private readonly logger: OutageLogger,
    private readonly message: string,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  note(error: unknown, fields: Record<string, unknown> = {}): void {
    this.failures += 1;
    const now = this.clock();
    if (now - this.warnedAt < OUTAGE_WARN_INTERVAL_MS) return;
    this.logger.warn({ err: error, ...fields, failures: this.failures }, this.message);
    this.failures = 0;
    this.warnedAt = now;
  }

  /** A background job's failed tick (`what` failed): the database being unavailable is noted, anything else is an error, every time. */
  failed(error: unknown, what: string): void {
    if (isDatabaseUnavailable(error)) this.note(error);
    else this.logger.error(`${what} failed: ${String(error)}`);
  }
}
