// The job transitions, each inside a transaction of the repository: read the row, decide as @jobs/memory does,
// write it back, log the change. The repository runs a batch's items one after the other in one transaction.
import {
  type CreateResult,
  checkNumber,
  checkPriority,
  checkStorableDate,
  checkTraceContext,
  type HeartbeatRequest,
  type HeartbeatResult,
  InvalidInputError,
  isFinalStatus,
  type JobRecord,
  type JobRecordHeader,
  type NewJob,
  type RetryResult,
  type SettleRequest,
} from '@jobs/core';
import type { Database } from './database.js';
import { asJobRow, cleanupHeader, type JobRow, toHeader, toRecord } from './rows.js';
import { SQL } from './statements.js';
import { duration, optionalText, text, type Values } from './values.js';

/** Records a change of `row` (its removal at `removedAt`): logged in the transaction, announced after it. */
export type Log = (row: JobRow, removedAt?: number) => void;

/** What a transition works with: the open transaction's database, its change log, its now. */
export interface Transaction {
  database: Database;
  log: Log;
  now: number;
  values: Values;
}

export interface CheckedClaim {
  id: string;
  token: string;
  leaseMs: number;
  estimate: number | null;
}

function rowOf(database: Database, id: string): JobRow | undefined {
  return asJobRow(database.statement(SQL.row).get(id));
}

/** Inserts one job (in a savepoint of the batch's transaction), or answers the live job holding its key. */
export function createJob(tx: Transaction, job: NewJob): CreateResult {
  const { database, log, now, values } = tx;
  const id = text(job.id, 'id');
  const endpoint = text(job.endpoint, 'endpoint');
  const owner = optionalText(job.owner, 'owner');
  const key = optionalText(job.idempotencyKey, 'idempotencyKey');
  const hash = optionalText(job.inputHash, 'inputHash');
  const maxAttempts = checkNumber('maxAttempts', job.maxAttempts, 'positiveInteger', (message) =>
    InvalidInputError.field('maxAttempts', message),
  );
  const input = values.json(job.input, 'input');
  const priority = checkPriority(job.priority ?? 0, (message) =>
    InvalidInputError.field('priority', message),
  );
  const runAt = startTime(job, now);
  const limitKey = job.limitKey == null ? null : text(job.limitKey, 'limitKey');
  const uniqueKey = job.uniqueKey == null ? null : text(job.uniqueKey, 'uniqueKey');
  const checkedContext = checkTraceContext(job.traceContext);
  const traceContext = checkedContext === null ? null : JSON.stringify(checkedContext);
  return database.savepoint((): CreateResult => {
    if (key !== null) {
      const holder = asJobRow(database.statement(SQL.findByKey).get(endpoint, key, owner));
      if (holder && (holder.expires_at === null || holder.expires_at > now)) {
        return { job: toHeader(holder), created: false, reason: 'idempotent' };
      }
      // An expired job that held the key is absent: the key is free again.
      if (holder) database.statement(SQL.releaseKey).run(holder.id);
    }
    if (uniqueKey !== null) {
      const holder = uniqueHolder(database, endpoint, uniqueKey, owner, id);
      if (holder) return { job: toHeader(holder), created: false, reason: 'unique' };
    }
    if (database.statement(SQL.exists).get(id)) {
      throw InvalidInputError.field('id', `A job with id ${id} already exists.`, 'duplicate');
    }
    database
      .statement(SQL.insert)
      .run(
        id,
        endpoint,
        input,
        owner,
        key,
        hash,
        maxAttempts,
        priority,
        now,
        now,
        runAt,
        limitKey,
        uniqueKey,
        traceContext,
      );
    const row: JobRow = {
      id,
      endpoint,
      status: 'queued',
      error: null,
      progress: null,
      owner,
      idempotency_key: key,
      input_hash: hash,
      priority,
      attempt: 0,
      max_attempts: maxAttempts,
      cancel_requested: 0,
      lease_token: null,
      trace_context: traceContext,
      created_at: now,
      updated_at: now,
      started_at: null,
      finished_at: null,
      expires_at: null,
      estimated_completion_at: null,
      run_at: runAt,
      dispatched_at: null,
      lease_expires_at: null,
    };
    log(row);
    return { job: toHeader(row), created: true };
  });
}

/** The queued or running job other than `id` that holds the unique key of (endpoint, owner), if any. */
function uniqueHolder(
  database: Database,
  endpoint: string,
  uniqueKey: string,
  owner: string | null,
  id: string,
): JobRow | undefined {
  return asJobRow(database.statement(SQL.uniqueHolder).get(endpoint, uniqueKey, owner, id));
}

/**
 * When a new job becomes claimable: its runAt (a date every store can hold, to the millisecond), or now + its
 * delay (rounded up: never early), or now. A delay is only read without a runAt, as in @jobs/memory.
 */
function startTime(job: NewJob, now: number): number {
  if (job.runAt != null) return Math.floor(checkStorableDate(job.runAt, 'runAt').getTime());
  if (job.delayMs == null) return now;
  const at = now + Math.ceil(duration(job.delayMs, 'delayMs'));
  // Past what a Date can hold (PostgreSQL refuses such a time as out of range too).
  if (!Number.isFinite(new Date(at).getTime())) {
    throw InvalidInputError.field(
      'delayMs',
      `delayMs ${job.delayMs} puts the job past the latest time a date holds.`,
    );
  }
  return at;
}

/** One claim: compare-and-set queued and due, or running with an expired lease → running. */
export function claimJob(tx: Transaction, request: CheckedClaim): JobRecord | null {
  const { database, log, now } = tx;
  if (typeof request.id !== 'string') return null;
  const row = rowOf(database, request.id);
  if (!row) return null;
  const claimable =
    (row.status === 'queued' && row.run_at <= now) ||
    (row.status === 'running' && row.lease_expires_at !== null && row.lease_expires_at <= now);
  if (!claimable) return null;
  const eta = request.estimate === null ? row.estimated_completion_at : now + request.estimate;
  const updated = Math.max(now, Number(row.updated_at) + 1);
  const attempt = Number(row.attempt) + 1;
  database
    .statement(SQL.claim)
    .run(attempt, request.token, now + request.leaseMs, now, eta, updated, request.id);
  const claimed = asJobRow(database.statement(SQL.get).get(request.id, now))!;
  log(claimed);
  return toRecord(claimed);
}

/** One heartbeat: renews the lease (and stores progress or ETA) if the token still holds the job. */
export function heartbeatJob(tx: Transaction, request: HeartbeatRequest): HeartbeatResult {
  const { database, log, now, values } = tx;
  const leaseMs = duration(request.leaseMs, 'leaseMs');
  const progress = request.progress === undefined ? undefined : values.progress(request.progress);
  const remaining = request.estimatedRemainingMs;
  const eta =
    remaining === undefined
      ? undefined
      : remaining === null
        ? null
        : now + duration(remaining, 'estimatedRemainingMs');
  const row = typeof request.id === 'string' ? rowOf(database, request.id) : undefined;
  if (!row || row.status !== 'running' || row.lease_token !== request.leaseToken) {
    return { held: false, cancelRequested: false };
  }
  const changed =
    (progress !== undefined && progress !== row.progress) ||
    (eta !== undefined && eta !== row.estimated_completion_at);
  if (progress !== undefined) row.progress = progress;
  if (eta !== undefined) row.estimated_completion_at = eta;
  if (changed) row.updated_at = Math.max(now, Number(row.updated_at) + 1);
  row.lease_expires_at = now + leaseMs;
  database
    .statement(SQL.heartbeat)
    .run(row.lease_expires_at, row.progress, row.estimated_completion_at, row.updated_at, row.id);
  if (changed) log(row);
  return { held: true, cancelRequested: Number(row.cancel_requested) === 1 };
}

/** One settle: compare-and-set running under the token → the outcome. */
export function settleJob(tx: Transaction, request: SettleRequest): boolean {
  const { database, log, now } = tx;
  // Checked and serialized first: a refused value changes nothing.
  const outcome = request.outcome;
  const values = tx.values.outcome(outcome);
  const row = typeof request.id === 'string' ? rowOf(database, request.id) : undefined;
  if (!row || row.status !== 'running' || row.lease_token !== request.leaseToken) return false;
  let output: string | null = null;
  row.updated_at = Math.max(now, Number(row.updated_at) + 1);
  row.error = values.error;
  row.lease_token = null;
  row.lease_expires_at = null;
  if (outcome.status === 'queued') {
    row.status = 'queued';
    row.run_at = now + values.durationMs;
    row.dispatched_at = null;
    row.progress = null;
    row.estimated_completion_at = null;
    if (outcome.refundAttempt) row.attempt = Math.max(0, Number(row.attempt) - 1);
    row.cleanup = 0;
  } else {
    row.status = outcome.status;
    row.finished_at = now;
    row.expires_at = now + values.durationMs;
    output = values.output;
    if (values.progress !== undefined) row.progress = values.progress;
    if (values.remainingMs !== undefined) {
      row.estimated_completion_at = values.remainingMs === null ? null : now + values.remainingMs;
    }
    row.cleanup = outcome.status === 'succeeded' && outcome.cleanup === true ? 1 : 0;
  }
  database
    .statement(SQL.settle)
    .run(
      row.status,
      output,
      row.error,
      row.progress,
      row.finished_at,
      row.expires_at,
      row.run_at,
      row.attempt,
      row.dispatched_at,
      row.estimated_completion_at,
      row.cleanup,
      row.updated_at,
      row.id,
    );
  log(row);
  return true;
}

/** queued → canceled; running → cancel requested; a final job as it is. */
export function cancelJob(
  tx: Transaction,
  id: string,
  retentionMs: number,
  error: string,
): JobRecordHeader | null {
  const { database, log, now } = tx;
  const row = rowOf(database, id);
  if (!row || (row.expires_at !== null && row.expires_at <= now)) return null;
  if (row.status === 'queued') {
    row.status = 'canceled';
    row.error = error;
    row.finished_at = now;
    row.expires_at = now + retentionMs;
    row.updated_at = Math.max(now, Number(row.updated_at) + 1);
    database.statement(SQL.cancelQueued).run(error, now, row.expires_at, row.updated_at, id);
    log(row);
  } else if (row.status === 'running' && Number(row.cancel_requested) !== 1) {
    row.cancel_requested = 1;
    row.updated_at = Math.max(now, Number(row.updated_at) + 1);
    database.statement(SQL.cancelRunning).run(row.updated_at, id);
    log(row);
  }
  return toHeader(row);
}

/** failed or canceled → queued and due now, with `attempts` more attempts; any other job as it is. */
export function retryJob(tx: Transaction, id: string, attempts: number): RetryResult | null {
  const { database, log, now } = tx;
  const row = rowOf(database, id);
  if (!row || (row.expires_at !== null && row.expires_at <= now)) return null;
  if (row.status !== 'failed' && row.status !== 'canceled') return { retried: false, job: toHeader(row) };
  if (row.unique_key != null) {
    const holder = uniqueHolder(database, row.endpoint, row.unique_key, row.owner, row.id);
    if (holder) return { retried: false, job: toHeader(row), uniqueConflict: holder.id };
  }
  Object.assign(row, {
    status: 'queued',
    run_at: now,
    max_attempts: Number(row.attempt) + attempts,
    error: null,
    progress: null,
    estimated_completion_at: null,
    started_at: null,
    finished_at: null,
    expires_at: null,
    cancel_requested: 0,
    dispatched_at: null,
    lease_token: null,
    lease_expires_at: null,
    cleanup: 0,
    updated_at: Math.max(now, Number(row.updated_at) + 1),
  });
  database.statement(SQL.retry).run(now, row.max_attempts, row.updated_at, id);
  log(row);
  return { retried: true, job: toHeader(row) };
}

/** Deletes a live final job, keeping its pending cleanup. */
export function removeJob(tx: Transaction, id: string): JobRecordHeader | null {
  const row = rowOf(tx.database, id);
  if (!row || !isFinalStatus(row.status) || (row.expires_at !== null && row.expires_at <= tx.now))
    return null;
  deleteRow(tx, row);
  return toHeader(row);
}

/** Deletes up to `max` final jobs past their retention, soonest first. */
export function deleteExpiredJobs(tx: Transaction, max: number): JobRecordHeader[] {
  const rows = tx.database
    .statement(SQL.expired)
    .all(tx.now, max)
    .map((row) => asJobRow(row)!);
  for (const row of rows) deleteRow(tx, row);
  return rows.map(toHeader);
}

/** Removes a final job, keeping its pending cleanup, and announces the removal. */
function deleteRow({ database, log, now }: Transaction, row: JobRow): void {
  if (Number(row.cleanup) === 1 && row.status === 'succeeded') {
    database.statement(SQL.keepCleanup).run(cleanupHeader(row), now, row.id);
  }
  database.statement(SQL.delete).run(row.id);
  log(row, now);
}
