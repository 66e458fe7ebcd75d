import type { JobChange, JobRecord, JobRecordHeader, JobStatus, PendingCleanup } from '@jobs/core';
import type { Row } from './driver.js';

/** A job row as stored: times as epoch milliseconds, payloads as JSON text, booleans as 0/1. */
export interface JobRow {
  id: string;
  endpoint: string;
  status: JobStatus;
  error: string | null;
  progress: string | null;
  owner: string | null;
  idempotency_key: string | null;
  input_hash: string | null;
  priority: number;
  attempt: number;
  max_attempts: number;
  cancel_requested: number;
  lease_token: string | null;
  /** JSON text; absent from a cleanup's header kept before schema version 4. */
  trace_context?: string | null;
  created_at: number;
  updated_at: number;
  started_at: number | null;
  finished_at: number | null;
  expires_at: number | null;
  estimated_completion_at: number | null;
  run_at: number;
  dispatched_at: number | null;
  lease_expires_at: number | null;
  /** Only in the rows read for a transition. */
  cleanup?: number;
  unique_key?: string | null;
  /** Only in full reads. */
  input?: string;
  output?: string | null;
}

export const asJobRow = (row: Row | undefined): JobRow | undefined => row as unknown as JobRow | undefined;

const date = (ms: number | null): Date | null => (ms === null ? null : new Date(Number(ms)));
const parse = <T>(json: string | null | undefined): T | null =>
  json === null || json === undefined ? null : (JSON.parse(json) as T);

export function toHeader(row: JobRow): JobRecordHeader {
  return {
    id: row.id,
    endpoint: row.endpoint,
    status: row.status,
    createdAt: new Date(Number(row.created_at)),
    updatedAt: new Date(Number(row.updated_at)),
    startedAt: date(row.started_at),
    finishedAt: date(row.finished_at),
    expiresAt: date(row.expires_at),
    attempt: Number(row.attempt),
    maxAttempts: Number(row.max_attempts),
    progress: parse(row.progress),
    estimatedCompletionAt: date(row.estimated_completion_at),
    error: parse(row.error),
    cancelRequested: Number(row.cancel_requested) === 1,
    owner: row.owner,
    idempotencyKey: row.idempotency_key,
    inputHash: row.input_hash,
    runAt: new Date(Number(row.run_at)),
    priority: Number(row.priority),
    dispatchedAt: date(row.dispatched_at),
    leaseToken: row.lease_token,
    leaseExpiresAt: date(row.lease_expires_at),
    traceContext: parse(row.trace_context),
  };
}

export function toRecord(row: JobRow): JobRecord {
  return { ...toHeader(row), input: JSON.parse(row.input ?? 'null'), output: parse(row.output) };
}

/** The change subscribers hear of a row as it is now, or of its removal at `removedAt`. */
export function toChange(row: JobRow, removedAt?: number): JobChange {
  const removed = removedAt !== undefined;
  return {
    id: row.id,
    status: removed ? null : row.status,
    updatedAt: new Date(removed ? removedAt : Number(row.updated_at)),
    attempt: Number(row.attempt),
    cancelRequested: Number(row.cancel_requested) === 1,
    runAt: !removed && row.status === 'queued' ? new Date(Number(row.run_at)) : null,
  };
}

/** A change read back from the change log. */
export function changeOfLog(row: Row): JobChange {
  return {
    id: String(row.id),
    status: (row.status as JobStatus | null) ?? null,
    updatedAt: new Date(Number(row.updated_at)),
    attempt: Number(row.attempt),
    cancelRequested: Number(row.cancel_requested) === 1,
    runAt: row.run_at === null ? null : new Date(Number(row.run_at)),
  };
}

/** The header a pending cleanup keeps of its removed job: the row's header fields, as stored (no lease). */
export function cleanupHeader(row: JobRow): string {
  const { cleanup: _cleanup, input: _input, output: _output, ...header } = row;
  return JSON.stringify({ ...header, lease_token: null, lease_expires_at: null });
}

export function toPendingCleanup(row: Row): PendingCleanup {
  // A header kept before the priority column existed (schema version 1) has none: the default.
  const kept = JSON.parse(String(row.job)) as Omit<JobRow, 'priority'> & { priority?: number };
  const header = toHeader({ ...kept, priority: kept.priority ?? 0 });
  return {
    job: { ...header, input: JSON.parse(String(row.input)), output: parse(row.output as string | null) },
    attempt: Number(row.attempt),
  };
}
