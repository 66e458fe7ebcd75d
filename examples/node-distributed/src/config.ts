/**
 * Process configuration from the environment. Every value is checked at start-up: a typo in a deployment
 * stops the process with a clear message instead of running with a surprising default.
 */

export type Env = Readonly<Record<string, string | undefined>>;

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'text' | 'json';

export interface CommonConfig {
  /** Process name used in log lines and broker/database connection names (`api-1`, `worker-2`). */
  name: string;
  databaseUrl: string;
  amqpUrl: string;
  /** PostgreSQL schema of the job table; every process of one deployment uses the same. */
  schema: string;
  /** Prefix of the RabbitMQ queues (`<prefix>.<endpoint>`); every process of one deployment uses the same. */
  prefix: string;
  /** Largest number of pooled PostgreSQL connections of this process. */
  poolMax: number;
  /** How long a graceful stop may take before in-flight work is cut off. */
  shutdownTimeoutMs: number;
  /** The dispatcher looks for due jobs at least this often (delayed retries, jobs whose worker died). */
  dispatchPollMs: number;
  /** File that receives one JSON line per execution event (start, finish, abort), or null. */
  executionLog: string | null;
  logLevel: LogLevel;
  /** `text`: one readable line per message; `json`: pino's JSON lines. */
  logFormat: LogFormat;
}

export interface ApiConfig extends CommonConfig {
  host: string;
  /** 0 lets the system choose (the process reports the port it got). */
  port: number;
  /** Waiters (long-poll, SSE) re-read a job at least this often in case a change notification was lost. */
  waitPollMs: number;
  /** Cap of `Prefer: wait=N`, in seconds. */
  maxWaitSeconds: number;
  /** The operator token of the dashboard (`/dashboard`, Basic auth password or Bearer token); null: no dashboard. */
  dashboardToken: string | null;
}

export interface WorkerConfig extends CommonConfig {
  /** Jobs of each endpoint this process runs at once; null keeps each endpoint's own setting. */
  concurrency: number | null;
  leaseMs: number;
  heartbeatIntervalMs: number | null;
  sweepIntervalMs: number;
  /** Longest a worker cleanup may take; a cleanup taken by a process that died is taken over after twice this. */
  cleanupTimeoutMs: number;
  redispatchAfterMs: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';
export const DEFAULT_AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';

/** What `createPostgresRepository` accepts as a schema name. */
const SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;
/** What `createAmqpQueue` accepts as a prefix (the endpoint name pattern). */
const PREFIX_PATTERN = /^[a-z][a-z0-9_-]{0,62}$/;
const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

function text(env: Env, key: string, fallback: string): string {
  const value = env[key];
  return value === undefined || value.trim() === '' ? fallback : value.trim();
}

function integer(env: Env, key: string, fallback: number, min: number, max: number): number {
  const raw = env[key];
  if (raw === undefined || raw.trim() === '') return fallback;
  if (!/^\d+$/.test(raw.trim()))
    throw new ConfigError(`${key} must be a whole number, got ${JSON.stringify(raw)}.`);
  const value = Number(raw.trim());
  if (value < min || value > max)
    throw new ConfigError(`${key} must be from ${min} to ${max}, got ${value}.`);
  return value;
}

function optionalInteger(env: Env, key: string, min: number, max: number): number | null {
  const raw = env[key];
  if (raw === undefined || raw.trim() === '') return null;
  return integer(env, key, 0, min, max);
}

function url(env: Env, key: string, fallback: string, protocols: readonly string[]): string {
  const value = text(env, key, fallback);
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new ConfigError(`${key} is not a URL.`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(`${key} must start with ${protocols.map((p) => `${p}//`).join(' or ')}.`);
  }
  return value;
}

function common(env: Env, role: 'api' | 'worker', pid: number): CommonConfig {
  const schema = text(env, 'JOBS_SCHEMA', 'jobs');
  if (!SCHEMA_PATTERN.test(schema) || schema.startsWith('pg_')) {
    throw new ConfigError(`JOBS_SCHEMA must match ${SCHEMA_PATTERN} and not start with pg_.`);
  }
  const prefix = text(env, 'JOBS_PREFIX', 'jobs');
  if (!PREFIX_PATTERN.test(prefix)) throw new ConfigError(`JOBS_PREFIX must match ${PREFIX_PATTERN}.`);
  const logLevel = text(env, 'LOG_LEVEL', 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel))
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}.`);
  const logFormat = text(env, 'LOG_FORMAT', 'text') as LogFormat;
  if (logFormat !== 'text' && logFormat !== 'json') throw new ConfigError('LOG_FORMAT must be text or json.');
  const name = text(env, 'PROCESS_NAME', `${role}-${pid}`);
  if (!/^[\w.-]{1,64}$/.test(name))
    throw new ConfigError('PROCESS_NAME must be 1 to 64 letters, digits, _ . -');
  return {
    name,
    databaseUrl: url(env, 'DATABASE_URL', DEFAULT_DATABASE_URL, ['postgres:', 'postgresql:']),
    amqpUrl: url(env, 'AMQP_URL', DEFAULT_AMQP_URL, ['amqp:', 'amqps:']),
    schema,
    prefix,
    poolMax: integer(env, 'PG_POOL_MAX', 10, 1, 1000),
    shutdownTimeoutMs: integer(env, 'SHUTDOWN_TIMEOUT_MS', 10_000, 0, 3_600_000),
    dispatchPollMs: integer(env, 'DISPATCH_POLL_MS', 1_000, 10, 3_600_000),
    executionLog: env.EXECUTION_LOG?.trim() ? env.EXECUTION_LOG.trim() : null,
    logLevel,
    logFormat,
  };
}

export function readApiConfig(env: Env, pid = process.pid): ApiConfig {
  return {
    ...common(env, 'api', pid),
    host: text(env, 'HOST', '127.0.0.1'),
    port: integer(env, 'PORT', 3000, 0, 65_535),
    waitPollMs: integer(env, 'WAIT_POLL_MS', 1_000, 10, 3_600_000),
    maxWaitSeconds: integer(env, 'MAX_WAIT_SECONDS', 60, 0, 3_600),
    dashboardToken: dashboardToken(env),
  };
}

function dashboardToken(env: Env): string | null {
  const token = env.DASHBOARD_TOKEN?.trim();
  if (!token) return null;
  if (token.length < 16) throw new ConfigError('DASHBOARD_TOKEN must be at least 16 characters.');
  return token;
}

export function readWorkerConfig(env: Env, pid = process.pid): WorkerConfig {
  const leaseMs = integer(env, 'LEASE_MS', 30_000, 100, 86_400_000);
  const heartbeatIntervalMs = optionalInteger(env, 'HEARTBEAT_MS', 10, 86_400_000);
  if (heartbeatIntervalMs !== null && heartbeatIntervalMs >= leaseMs) {
    throw new ConfigError('HEARTBEAT_MS must be shorter than LEASE_MS.');
  }
  return {
    ...common(env, 'worker', pid),
    concurrency: optionalInteger(env, 'CONCURRENCY', 1, 10_000),
    leaseMs,
    heartbeatIntervalMs,
    sweepIntervalMs: integer(env, 'SWEEP_INTERVAL_MS', 5_000, 10, 86_400_000),
    redispatchAfterMs: integer(env, 'REDISPATCH_AFTER_MS', 5 * 60_000, 0, 86_400_000),
    cleanupTimeoutMs: integer(env, 'CLEANUP_TIMEOUT_MS', 30_000, 10, 86_400_000),
  };
}
