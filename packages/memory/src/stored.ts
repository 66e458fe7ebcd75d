import {
  checkNumber,
  checkStorableText,
  InvalidInputError,
  type ItemResult,
  type JobChange,
  type JobProgress,
  type JobRecord,
  type JobRecordHeader,
  type JobStatus,
  type ProblemDetails,
  type TraceContext,
  toStorableJson,
} from '@jobs/core';

/** A stored job: times as epoch milliseconds, payloads as JSON text (copied in by serializing, out by parsing). */
export interface Stored {
  id: string;
  endpoint: string;
  status: JobStatus;
  createdAt: number;
  updatedAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  expiresAt: number | null;
  attempt: number;
  maxAttempts: number;
  progress: string | null;
  estimatedCompletionAt: number | null;
  error: string | null;
  cancelRequested: boolean;
  owner: string | null;
  idempotencyKey: string | null;
  inputHash: string | null;
  runAt: number;
  dispatchedAt: number | null;
  leaseToken: string | null;
  leaseExpiresAt: number | null;
  input: string;
  output: string | null;
  cleanup: boolean;
  /** Higher runs first among due jobs of an endpoint. */
  priority: number;
  /** Its key for the endpoint's flow limits; null: not subject to limits (see NewJob.limitKey). */
  limitKey: string | null;
  /** At most one queued or running job per (owner, endpoint, uniqueKey); null: none. */
  uniqueKey: string | null;
  /** The submit span's trace context, frozen (shared by every copy out). */
  traceContext: TraceContext | null;
  /** Which index holds the job (see indexes.ts). */
  place: Place;
  /** Bumped whenever the job is placed again: an index entry made for an older slot is stale. */
  slot: number;
}

export type Place = 'none' | 'ready' | 'limited' | 'waiting' | 'dispatched' | 'running' | 'final';

export interface StoredCleanup {
  job: Stored;
  attempt: number;
  dueAt: number;
  leaseToken: string | null;
  leaseExpiresAt: number;
}

const date = (ms: number | null): Date | null => (ms === null ? null : new Date(ms));
const parse = <T>(json: string | null): T | null => (json === null ? null : (JSON.parse(json) as T));

export function header(job: Stored): JobRecordHeader {
  return copyOut(job, false) as JobRecordHeader;
}

export function record(job: Stored): JobRecord {
  return copyOut(job, true) as JobRecord;
}

/** A fresh copy of the job as the interface shows it (one object, built in one go: this is the hot path). */
function copyOut(job: Stored, payload: boolean): JobRecordHeader | JobRecord {
  const copy: JobRecordHeader & { input?: unknown; output?: unknown } = {
    id: job.id,
    endpoint: job.endpoint,
    status: job.status,
    createdAt: new Date(job.createdAt),
    updatedAt: new Date(job.updatedAt),
    startedAt: date(job.startedAt),
    finishedAt: date(job.finishedAt),
    expiresAt: date(job.expiresAt),
    attempt: job.attempt,
    maxAttempts: job.maxAttempts,
    progress: parse<JobProgress>(job.progress),
    estimatedCompletionAt: date(job.estimatedCompletionAt),
    error: parse<ProblemDetails>(job.error),
    cancelRequested: job.cancelRequested,
    owner: job.owner,
    idempotencyKey: job.idempotencyKey,
    inputHash: job.inputHash,
    runAt: new Date(job.runAt),
    priority: job.priority,
    dispatchedAt: date(job.dispatchedAt),
    leaseToken: job.leaseToken,
    leaseExpiresAt: date(job.leaseExpiresAt),
    traceContext: job.traceContext,
  };
  if (payload) {
    copy.input = JSON.parse(job.input);
    copy.output = parse(job.output);
  }
  return copy;
}

export function change(job: Stored, removedAt?: number): JobChange {
  return {
    id: job.id,
    status: removedAt === undefined ? job.status : null,
    updatedAt: new Date(removedAt ?? job.updatedAt),
    attempt: job.attempt,
    cancelRequested: job.cancelRequested,
    runAt: job.status === 'queued' && removedAt === undefined ? new Date(job.runAt) : null,
  };
}

/** Runs `fn` for one batch item; a thrown error refuses that item alone. */
export function item<T>(fn: () => T): ItemResult<T> {
  try {
    return { ok: true, value: fn() };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error : new Error(String(error)) };
  }
}

/** A new job's trace context, checked and frozen; null for none. */
export const duration = (value: unknown, field: string) =>
  checkNumber(field, value, 'nonNegative', (message) => InvalidInputError.field(field, message));
export const limitOf = (value: unknown) =>
  checkNumber('limit', value, 'nonNegativeInteger', (message) => InvalidInputError.field('limit', message));
export const text = (value: unknown, field: string) => checkStorableText(value, field, 1024);
export const optionalText = (value: unknown, field: string) => (value === null ? null : text(value, field));
export const json = (value: unknown, field: string) => toStorableJson(value, field);
export const optionalJson = (value: unknown, field: string) =>
  value === null || value === undefined ? null : json(value, field);

export function progressJson(value: JobProgress | null): string | null {
  if (value === null) return null;
  if (typeof value !== 'object' || typeof value.fraction !== 'number' || !Number.isFinite(value.fraction)) {
    throw InvalidInputError.field('progress', 'progress.fraction must be a finite number.');
  }
  if (value.message !== undefined && typeof value.message !== 'string') {
    throw InvalidInputError.field('progress', 'progress.message must be a string.');
  }
  return json(value, 'progress');
}

/** An ETA given as milliseconds from now: undefined leaves it unchanged, null clears it. */
export function remainingToEta(remaining: number | null | undefined, now: number): number | null | undefined {
  if (remaining === undefined || remaining === null) return remaining;
  return now + duration(remaining, 'estimatedRemainingMs');
}

/** Marks a change: updatedAt strictly increases per job, so two changes in one millisecond differ. */
export function touch(job: Stored, now: number): void {
  job.updatedAt = Math.max(now, job.updatedAt + 1);
}
