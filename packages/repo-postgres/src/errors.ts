import { InvalidInputError, isJobsError, UnavailableError } from '@jobs/core';

/** The database holds a schema version this code does not know: a newer release migrated it. */
export class SchemaVersionError extends Error {
  readonly schema: string;
  readonly found: number;
  readonly supported: number;
  constructor(schema: string, found: number, supported: number, detail?: string) {
    super(
      detail ??
        `The jobs schema "${schema}" is at version ${found}, but this version of @jobs/repo-postgres only knows versions up to ${supported}. ` +
          'Upgrade @jobs/repo-postgres on this node (or point it at another schema); it will not touch a schema it does not understand.',
    );
    this.name = 'SchemaVersionError';
    this.schema = schema;
    this.found = found;
    this.supported = supported;
  }
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EADDRNOTAVAIL',
  'ERR_SOCKET_CLOSED',
  'ERR_STREAM_DESTROYED',
]);

/** SQLSTATEs that mean "the server cannot serve this now" rather than "the statement is wrong". */
const UNAVAILABLE_SQLSTATES = new Set([
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, recovery)
  '57P05', // idle_session_timeout
  '53000', // insufficient_resources
  '53100', // disk_full
  '53200', // out_of_memory
  '53300', // too_many_connections
  '58000', // system_error
  '58030', // io_error
  '25006', // read_only_sql_transaction (a standby after a failover)
  '40001', // serialization_failure (retryable)
  '40P01', // deadlock_detected (retryable)
  '55P03', // lock_not_available (lock_timeout)
  '57014', // query_canceled (statement_timeout)
]);

const CONNECTION_MESSAGES = [
  /connection terminated/i,
  /connection error/i,
  /not queryable/i,
  /timeout exceeded when trying to connect/i,
  /query read timeout/i,
  /connection timeout/i,
  /server closed the connection/i,
  /socket hang up/i,
  /cannot use a pool after calling end/i,
  /client was closed/i,
  /the database system is (starting up|shutting down|in recovery mode)/i,
];

/** True when the error means the database could not be reached or dropped the connection. */
export function isConnectionError(error: unknown): boolean {
  if (!error || typeof error !== 'object') return false;
  const err = error as { code?: unknown; message?: unknown; errors?: unknown; cause?: unknown };
  const code = typeof err.code === 'string' ? err.code : '';
  if (NETWORK_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code) || code.startsWith('08')) return true;
  if (Array.isArray(err.errors) && err.errors.some(isConnectionError)) return true; // AggregateError (dual stack)
  const message = typeof err.message === 'string' ? err.message : '';
  if (code === '' && CONNECTION_MESSAGES.some((pattern) => pattern.test(message))) return true;
  return err.cause !== undefined && err.cause !== error && isConnectionError(err.cause);
}

/**
 * Turns a driver error into this project's typed errors: connection problems → `UnavailableError`,
 * values the database refused (data exceptions, class 22) → `InvalidInputError`. Anything else is a bug
 * or a misconfiguration and is passed through unchanged.
 */
export function mapDatabaseError(error: unknown, operation: string): unknown {
  if (isJobsError(error) || error instanceof SchemaVersionError) return error;
  if (isConnectionError(error)) {
    return new UnavailableError('The job database is unavailable.', { cause: error, retryAfterSeconds: 2 });
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.startsWith('22')) {
    return new InvalidInputError(`The database cannot store this value (${operation}).`, [
      { path: [], message: 'Value rejected by the database', code: 'invalid_value' },
    ]);
  }
  return error;
}
