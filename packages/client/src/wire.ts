import type { JobHeader, JobStatus, ProblemDetails, ScheduleInfo } from '@jobs/core';
import type { Problem } from './errors.js';

export const JOB_STATUSES: readonly JobStatus[] = ['queued', 'running', 'succeeded', 'failed', 'canceled'];

/** `Accept` of every request that expects JSON (a problem is JSON too). */
export const ACCEPT_JSON = 'application/json, application/problem+json';

export interface JobLinks {
  /** Absolute URL of the job. */
  self: string;
  /** Absolute URL of the job's Server-Sent Events stream. */
  events: string;
  /** Absolute URL of the output; only when the job succeeded. */
  output?: string;
}

/** A job as the client returns it: the server's job representation with its dates as `Date` objects. */
export interface Job extends JobHeader {
  links: JobLinks;
  /**
   * The `ETag` the server sent with this state of the job, when it sent one (not for jobs from a list or an
   * event stream). `get` and `wait` send it back in `If-None-Match`, so that the server answers as soon as
   * the job is in another state.
   */
  etag?: string;
}

export function isFinal(status: JobStatus): boolean {
  return status === 'succeeded' || status === 'failed' || status === 'canceled';
}

/** Parses the job JSON of the HTTP contract; relative links are resolved against `base`. */
export function parseJob(value: unknown, base: string): Job {
  if (!isRecord(value)) throw new TypeError('the job representation is not an object');
  const status = value.status;
  if (typeof status !== 'string' || !JOB_STATUSES.includes(status as JobStatus)) {
    throw new TypeError(`unknown job status ${JSON.stringify(status)}`);
  }
  const links = isRecord(value.links) ? value.links : {};
  const createdAt = date(value, 'createdAt');
  const job: Job = {
    id: string(value, 'id'),
    endpoint: string(value, 'endpoint'),
    status: status as JobStatus,
    createdAt,
    updatedAt: date(value, 'updatedAt'),
    startedAt: optionalDate(value, 'startedAt'),
    finishedAt: optionalDate(value, 'finishedAt'),
    expiresAt: optionalDate(value, 'expiresAt'),
    estimatedCompletionAt: optionalDate(value, 'estimatedCompletionAt'),
    // Servers before scheduling (runAt, priority) sent neither: a job then ran as soon as it could, at 0.
    runAt: value.runAt == null ? createdAt : date(value, 'runAt'),
    priority: value.priority == null ? 0 : number(value, 'priority'),
    attempt: number(value, 'attempt'),
    maxAttempts: number(value, 'maxAttempts'),
    progress: progress(value.progress),
    error: value.error == null ? null : toProblem(value.error),
    cancelRequested: value.cancelRequested === true,
    links: {
      self: link(links.self, base) ?? base,
      events: link(links.events, base) ?? `${link(links.self, base) ?? base}/events`,
    },
  };
  const output = link(links.output, base);
  if (output !== undefined) job.links.output = output;
  return job;
}

/** Parses a recurring schedule of the HTTP contract (`GET {endpoint}/schedules`), its dates as `Date`s. */
export function parseSchedule(value: unknown): ScheduleInfo {
  if (!isRecord(value)) throw new TypeError('the schedule is not an object');
  const nullable = <T>(key: string, read: (record: Record<string, unknown>, key: string) => T): T | null =>
    value[key] == null ? null : read(value, key);
  const missed = value.missed;
  if (missed !== 'skip' && missed !== 'run-once')
    throw new TypeError(`unknown missed ${JSON.stringify(missed)}`);
  return {
    name: string(value, 'name'),
    endpoint: string(value, 'endpoint'),
    cron: nullable('cron', string),
    timeZone: nullable('timeZone', string),
    everyMs: nullable('everyMs', number),
    missed,
    priority: number(value, 'priority'),
    lastOccurrenceAt: nullable('lastOccurrenceAt', date),
    nextOccurrenceAt: nullable('nextOccurrenceAt', date),
  };
}

/** A problem+json body, or null when `value` is not one. */
export function parseProblem(value: unknown): Problem | null {
  if (!isRecord(value) || typeof value.type !== 'string' || typeof value.title !== 'string') return null;
  return toProblem(value);
}

function toProblem(value: unknown): Problem {
  if (!isRecord(value)) throw new TypeError('the job error is not a problem object');
  const problem: Problem = {
    ...value,
    type: typeof value.type === 'string' ? value.type : 'about:blank',
    title: typeof value.title === 'string' ? value.title : 'Error',
    code: typeof value.code === 'string' ? value.code : 'unknown',
  };
  return problem;
}

/** A problem for an error answer that carried no problem+json body (a proxy's HTML page, an empty 502). */
export function problemFromStatus(status: number, statusText: string, body: string): ProblemDetails {
  const detail = body.trim().slice(0, 500);
  return {
    type: 'about:blank',
    title: statusText || `HTTP ${status}`,
    code: `http_${status}`,
    status,
    ...(detail ? { detail } : {}),
  };
}

/** `Retry-After`: delay-seconds or an HTTP-date (RFC 9110 §10.2.3), as seconds from `now`; null when absent or invalid. */
export function parseRetryAfter(header: string | null, now = Date.now()): number | null {
  if (header === null) return null;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text);
  // Every HTTP-date form starts with the day name; Date.parse alone would take "-3" for a year.
  if (!/^[A-Za-z]{3,9},? /.test(text)) return null;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return null;
  return Math.max(0, Math.ceil((at - now) / 1000));
}

/** The `wait=N` honoured by the server, from `Preference-Applied` (RFC 7240); null when it did not say so. */
export function parseAppliedWait(header: string | null): number | null {
  if (header === null) return null;
  for (const preference of header.split(',')) {
    const match = /^\s*wait\s*=\s*"?(\d+)"?\s*(;.*)?$/i.exec(preference);
    if (match) return Number(match[1]);
  }
  return null;
}

/** An RFC 8941 structured-field string: `"key"`, with `\` and `"` escaped. Only printable ASCII is allowed. */
export function structuredFieldString(value: string): string {
  if (!/^[\x20-\x7e]*$/.test(value)) {
    throw new TypeError('An Idempotency-Key must consist of printable ASCII characters.');
  }
  return `"${value.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

/** Records the response's ETag on the job parsed from its body. */
export function withETag(job: Job, response: Response): Job {
  const etag = response.headers.get('etag');
  if (etag) job.etag = etag;
  return job;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function string(record: Record<string, unknown>, key: string): string {
  const value = record[key];
  if (typeof value !== 'string' || value === '') throw new TypeError(`${key} is not a string`);
  return value;
}

function number(record: Record<string, unknown>, key: string): number {
  const value = record[key];
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new TypeError(`${key} is not a number`);
  return value;
}

function date(record: Record<string, unknown>, key: string): Date {
  const value = record[key];
  const parsed = typeof value === 'string' ? new Date(value) : null;
  if (!parsed || Number.isNaN(parsed.getTime())) throw new TypeError(`${key} is not an ISO date`);
  return parsed;
}

function optionalDate(record: Record<string, unknown>, key: string): Date | null {
  return record[key] == null ? null : date(record, key);
}

function progress(value: unknown): Job['progress'] {
  if (value == null) return null;
  if (!isRecord(value) || typeof value.fraction !== 'number') throw new TypeError('progress is malformed');
  return typeof value.message === 'string'
    ? { fraction: value.fraction, message: value.message }
    : { fraction: value.fraction };
}

function link(value: unknown, base: string): string | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  try {
    return new URL(value, base).href;
  } catch {
    return value;
  }
}
