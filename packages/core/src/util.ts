import { InvalidInputError } from './errors.js';
import type { JobHeader, JobRecord } from './types.js';

/** 122 random bits: unguessable, so a job URL is a capability only its holder knows. */
export function newJobId(): string {
  return crypto.randomUUID();
}

export const JOB_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isJobId(value: string): boolean {
  return JOB_ID_PATTERN.test(value);
}

export function newLeaseToken(): string {
  return crypto.randomUUID();
}

/** JSON with object keys sorted, so equal values give equal strings. */
export function stableStringify(value: unknown): string {
  return JSON.stringify(value, (_key, inner) => {
    if (inner && typeof inner === 'object' && !Array.isArray(inner)) {
      return Object.fromEntries(Object.entries(inner).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return inner;
  });
}

export async function hashInput(value: unknown): Promise<string> {
  const bytes = new TextEncoder().encode(stableStringify(value) ?? 'undefined');
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

export interface CursorPosition {
  createdAt: Date;
  id: string;
}

/** Opaque keyset cursor for `list`: the last job of a page. */
export function encodeCursor(position: CursorPosition): string {
  const json = JSON.stringify([position.createdAt.getTime(), position.id]);
  return btoa(json).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

export function decodeCursor(cursor: string): CursorPosition {
  try {
    const json = atob(cursor.replaceAll('-', '+').replaceAll('_', '/'));
    const [time, id] = JSON.parse(json) as unknown[];
    if (typeof time === 'number' && Number.isFinite(time) && typeof id === 'string' && isJobId(id)) {
      return { createdAt: new Date(time), id };
    }
  } catch {
    // fall through to the typed error
  }
  throw new InvalidInputError('The cursor is not valid.', [{ path: ['cursor'], message: 'Invalid cursor' }]);
}

/** The header of a stored job: what a client may see besides input and output. */
export function toJobHeader(job: JobRecord): JobHeader {
  return {
    id: job.id,
    endpoint: job.endpoint,
    status: job.status,
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
    startedAt: job.startedAt,
    finishedAt: job.finishedAt,
    expiresAt: job.expiresAt,
    attempt: job.attempt,
    maxAttempts: job.maxAttempts,
    progress: job.progress,
    estimatedCompletionAt: job.estimatedCompletionAt,
    error: job.error,
    cancelRequested: job.cancelRequested,
  };
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Resolves with the promise's value, or with `fallback` after `ms`, whichever is first; leaves no timer behind. */
export async function within<T, F>(promise: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  const bound = new AbortController();
  try {
    return await Promise.race([promise, sleep(ms, bound.signal).then(() => fallback)]);
  } finally {
    bound.abort();
  }
}

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Logs warnings and errors to the console; the default of every component. */
export const consoleLogger: Logger = {
  debug() {},
  info() {},
  warn: (message, fields) => console.warn(`[jobs] ${message}`, fields ?? ''),
  error: (message, fields) => console.error(`[jobs] ${message}`, fields ?? ''),
};
