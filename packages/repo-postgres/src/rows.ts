import type {
  JobChange,
  JobRecord,
  JobRecordHeader,
  JobStatus,
  PendingCleanup,
  TraceContext,
} from '@jobs/core';
import { isJobStatus } from '@jobs/core';
import type pg from 'pg';

export interface HeaderRow {
  id: string;
  endpoint: string;
  status: JobStatus;
  error: JobRecord['error'];
  progress: JobRecord['progress'];
  owner: string | null;
  idempotency_key: string | null;
  input_hash: string | null;
  priority: number;
  attempt: number;
  max_attempts: number;
  cancel_requested: boolean;
  lease_token: string | null;
  trace_context: TraceContext | null;
  created_at: number;
  updated_at: number;
  started_at: number | null;
  finished_at: number | null;
  expires_at: number | null;
  estimated_completion_at: number | null;
  run_at: number;
  dispatched_at: number | null;
  lease_expires_at: number | null;
}

export interface JobRow extends HeaderRow {
  input: unknown;
  output: unknown;
}

const identity = (value: string) => value;

/**
 * Parsers for this repository's own statements, set per query so that global pg.types changes made by the
 * application (dates as strings, numeric parsers, ...) never change what the repository returns.
 */
export const TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number) => {
    switch (oid) {
      case 16: // bool
        return (value: string) => value === 't';
      case 20: // int8
      case 21: // int2
      case 23: // int4
      case 701: // float8
        return (value: string) => Number(value);
      case 114: // json
      case 3802: // jsonb
        return (value: string) => JSON.parse(value);
      default:
        return identity;
    }
  }) as pg.CustomTypesConfig['getTypeParser'],
};

const toDate = (ms: number | null): Date | null => (ms === null ? null : new Date(ms));

export function toHeader(row: HeaderRow): JobRecordHeader {
  return {
    id: row.id,
    endpoint: row.endpoint,
    status: row.status,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
    startedAt: toDate(row.started_at),
    finishedAt: toDate(row.finished_at),
    expiresAt: toDate(row.expires_at),
    priority: row.priority,
    attempt: row.attempt,
    maxAttempts: row.max_attempts,
    progress: row.progress,
    estimatedCompletionAt: toDate(row.estimated_completion_at),
    error: row.error,
    cancelRequested: row.cancel_requested,
    owner: row.owner,
    idempotencyKey: row.idempotency_key,
    inputHash: row.input_hash,
    runAt: new Date(row.run_at),
    dispatchedAt: toDate(row.dispatched_at),
    leaseToken: row.lease_token,
    leaseExpiresAt: toDate(row.lease_expires_at),
    traceContext: row.trace_context,
  };
}

export function toRecord(row: JobRow): JobRecord {
  return { ...toHeader(row), input: row.input, output: row.output };
}

/** A pending cleanup's row: the job's header as JSON (times as epoch ms), its input and output. */
export function toPendingCleanup(row: {
  job: Record<string, unknown>;
  input: unknown;
  output: unknown;
  attempt: number;
}): PendingCleanup {
  const job = row.job;
  const header = toHeader({
    id: job.id,
    endpoint: job.endpoint,
    status: job.status,
    error: job.error,
    progress: job.progress,
    owner: job.owner,
    idempotency_key: job.idempotencyKey,
    input_hash: job.inputHash,
    priority: job.priority ?? 0,
    attempt: job.attempt,
    max_attempts: job.maxAttempts,
    cancel_requested: job.cancelRequested,
    lease_token: null,
    // Absent from a cleanup kept before schema version 4.
    trace_context: job.traceContext ?? null,
    created_at: job.created_at,
    updated_at: job.updated_at,
    started_at: job.started_at,
    finished_at: job.finished_at,
    expires_at: job.expires_at,
    estimated_completion_at: job.estimated_completion_at,
    run_at: job.run_at,
    dispatched_at: job.dispatched_at,
    lease_expires_at: null,
  } as HeaderRow);
  return { job: { ...header, input: row.input, output: row.output }, attempt: row.attempt };
}

/** Parses a change notification (`status|attempt|cancel|updatedAt|runAt|id`); null when it is not one. */
export function parseNotice(payload: string): JobChange | null {
  const fields: string[] = [];
  let start = 0;
  for (let i = 0; i < 5; i++) {
    const end = payload.indexOf('|', start);
    if (end < 0) return null;
    fields.push(payload.slice(start, end));
    start = end + 1;
  }
  const [status, attempt, cancel, updatedAt, runAt] = fields as [string, string, string, string, string];
  const id = payload.slice(start);
  if (id === '' || (status !== '' && !isJobStatus(status))) return null;
  return {
    id,
    status: status === '' ? null : (status as JobStatus),
    attempt: Number(attempt),
    cancelRequested: cancel === '1',
    updatedAt: new Date(Number(updatedAt)),
    runAt: runAt === '' ? null : new Date(Number(runAt)),
  };
}
