// The job transitions, each on the store: check the values, decide, change the job, place it in its index again,
// announce it. The repository runs a batch's items one after the other.
import {
  type CancelOptions,
  type ClaimRequest,
  type CreateResult,
  checkNumber,
  checkPriority,
  checkStorableDate,
  checkStorableText,
  checkTraceContext,
  type HeartbeatRequest,
  type HeartbeatResult,
  InvalidInputError,
  isFinalStatus,
  type JobRecord,
  type JobRecordHeader,
  type NewJob,
  type RetryOptions,
  type RetryResult,
  type SettleRequest,
  UnavailableError,
} from '@jobs/core';
import { type JobStore, uniqueIndexKey } from './store.js';
import {
  duration,
  header,
  json,
  limitOf,
  optionalJson,
  optionalText,
  progressJson,
  record,
  remainingToEta,
  type Stored,
  text,
  touch,
} from './stored.js';

/** Stores one job, or answers the live job holding its idempotency key. */
export function createJob(store: JobStore, job: NewJob): CreateResult {
  const id = text(job.id, 'id');
  const endpoint = text(job.endpoint, 'endpoint');
  const owner = optionalText(job.owner, 'owner');
  const idempotencyKey = optionalText(job.idempotencyKey, 'idempotencyKey');
  const inputHash = optionalText(job.inputHash, 'inputHash');
  const maxAttempts = checkNumber('maxAttempts', job.maxAttempts, 'positiveInteger', (message) =>
    InvalidInputError.field('maxAttempts', message),
  );
  const input = json(job.input, 'input');
  const priority = checkPriority(job.priority ?? 0, (message) =>
    InvalidInputError.field('priority', message),
  );
  const limitKey = job.limitKey == null ? null : checkStorableText(job.limitKey, 'limitKey', 1024);
  const uniqueKey = job.uniqueKey == null ? null : checkStorableText(job.uniqueKey, 'uniqueKey', 1024);
  const traceContext = checkTraceContext(job.traceContext);
  const now = store.now();
  const runAt = startTime(job, now);
  const keyIndex = idempotencyKey === null ? null : JSON.stringify([owner, endpoint, idempotencyKey]);
  if (keyIndex !== null) {
    const existing = store.live(store.idempotency.get(keyIndex), now);
    if (existing) return { job: header(existing), created: false, reason: 'idempotent' };
  }
  const uniqueIndex = uniqueKey === null ? null : uniqueIndexKey(owner, endpoint, uniqueKey);
  if (uniqueIndex !== null) {
    const holder = store.uniqueHolder(uniqueIndex);
    if (holder) return { job: header(holder), created: false, reason: 'unique' };
  }
  if (store.jobs.has(id))
    throw InvalidInputError.field('id', `A job with id ${id} already exists.`, 'duplicate');
  if (store.jobs.size >= store.maxJobs) {
    throw new UnavailableError(`The memory job repository holds its maximum of ${store.maxJobs} jobs.`, {
      retryAfterSeconds: 5,
    });
  }
  const stored: Stored = {
    id,
    endpoint,
    status: 'queued',
    createdAt: now,
    updatedAt: now,
    startedAt: null,
    finishedAt: null,
    expiresAt: null,
    attempt: 0,
    maxAttempts,
    progress: null,
    estimatedCompletionAt: null,
    error: null,
    cancelRequested: false,
    owner,
    idempotencyKey,
    inputHash,
    runAt,
    dispatchedAt: null,
    leaseToken: null,
    leaseExpiresAt: null,
    input,
    output: null,
    cleanup: false,
    priority,
    limitKey,
    uniqueKey,
    traceContext,
    place: 'none',
    slot: 0,
  };
  store.jobs.set(id, stored);
  if (limitKey !== null) store.limitedOf(endpoint).add(stored);
  // An expired job that held the key is absent: the key is this job's now.
  if (keyIndex !== null) store.idempotency.set(keyIndex, id);
  if (uniqueIndex !== null) store.unique.set(uniqueIndex, id);
  store.listInsert(stored);
  store.indexes.place(stored, now);
  store.notify(stored);
  return { job: header(stored), created: true };
}

/** Claims a due job, or a running one whose lease expired (its worker died). */
export function claimJob(store: JobStore, request: ClaimRequest, now: number): JobRecord | null {
  const leaseToken = text(request.leaseToken, 'leaseToken');
  const leaseMs = duration(request.leaseMs, 'leaseMs');
  const estimate =
    request.estimatedDurationMs == null ? null : duration(request.estimatedDurationMs, 'estimatedDurationMs');
  const job = store.jobs.get(request.id);
  if (!job) return null;
  const claimable =
    (job.status === 'queued' && job.runAt <= now) ||
    (job.status === 'running' && job.leaseExpiresAt !== null && job.leaseExpiresAt <= now);
  if (!claimable) return null;
  job.status = 'running';
  job.attempt += 1;
  job.leaseToken = leaseToken;
  job.leaseExpiresAt = now + leaseMs;
  job.startedAt = now;
  job.progress = null;
  job.dispatchedAt = null;
  if (estimate !== null) job.estimatedCompletionAt = now + estimate;
  touch(job, now);
  store.indexes.place(job, now);
  store.notify(job);
  return record(job);
}

/** Renews the lease (and writes progress and ETA) while the caller holds it. */
export function heartbeatJob(store: JobStore, request: HeartbeatRequest, now: number): HeartbeatResult {
  const leaseMs = duration(request.leaseMs, 'leaseMs');
  const progress = request.progress === undefined ? undefined : progressJson(request.progress);
  const eta = remainingToEta(request.estimatedRemainingMs, now);
  const job = store.jobs.get(request.id);
  if (!job || job.status !== 'running' || job.leaseToken !== request.leaseToken) {
    return { held: false, cancelRequested: false };
  }
  job.leaseExpiresAt = now + leaseMs;
  let changed = false;
  if (progress !== undefined && progress !== job.progress) {
    job.progress = progress;
    changed = true;
  }
  if (eta !== undefined && eta !== job.estimatedCompletionAt) {
    job.estimatedCompletionAt = eta;
    changed = true;
  }
  if (changed) touch(job, now);
  store.indexes.place(job, now);
  if (changed) store.notify(job);
  return { held: true, cancelRequested: job.cancelRequested };
}

/** Records a run's outcome by compare-and-set on the lease token. */
export function settleJob(store: JobStore, { id, leaseToken, outcome }: SettleRequest, now: number): boolean {
  // Validate and copy everything first: a refused value changes nothing.
  let output: string | null = null;
  let error: string | null = null;
  let progress: string | null | undefined;
  let eta: number | null | undefined;
  let durationMs: number;
  switch (outcome.status) {
    case 'succeeded':
      durationMs = duration(outcome.retentionMs, 'retentionMs');
      output = json(outcome.output, 'output');
      progress = outcome.progress === undefined ? undefined : progressJson(outcome.progress);
      eta = remainingToEta(outcome.estimatedRemainingMs, now);
      break;
    case 'failed':
    case 'canceled':
      durationMs = duration(outcome.retentionMs, 'retentionMs');
      error = optionalJson(outcome.error, 'error');
      break;
    case 'queued':
      durationMs = duration(outcome.delayMs, 'delayMs');
      error = optionalJson(outcome.error, 'error');
      break;
    default:
      throw InvalidInputError.field(
        'status',
        `Unknown outcome status ${String((outcome as { status: unknown }).status)}.`,
      );
  }
  const job = store.jobs.get(id);
  if (!job || job.status !== 'running' || job.leaseToken !== leaseToken) return false;
  touch(job, now);
  job.leaseToken = null;
  job.leaseExpiresAt = null;
  job.error = error;
  if (outcome.status === 'queued') {
    job.status = 'queued';
    job.runAt = now + durationMs;
    job.dispatchedAt = null;
    job.progress = null;
    job.estimatedCompletionAt = null;
    if (outcome.refundAttempt) job.attempt = Math.max(0, job.attempt - 1);
  } else {
    job.status = outcome.status;
    job.finishedAt = now;
    job.expiresAt = now + durationMs;
    job.output = output;
    if (progress !== undefined) job.progress = progress;
    if (eta !== undefined) job.estimatedCompletionAt = eta;
    job.cleanup = outcome.status === 'succeeded' && outcome.cleanup === true;
  }
  store.indexes.place(job, now);
  store.notify(job);
  return true;
}

/** Cancels a queued job, asks a running one to stop. */
export function cancelJob(store: JobStore, id: string, options: CancelOptions): JobRecordHeader | null {
  const retentionMs = duration(options.retentionMs, 'retentionMs');
  const error = json(options.error, 'error');
  const now = store.now();
  const job = store.live(id, now);
  if (!job) return null;
  if (job.status === 'queued') {
    job.status = 'canceled';
    job.error = error;
    job.finishedAt = now;
    job.expiresAt = now + retentionMs;
    touch(job, now);
    store.indexes.place(job, now);
    store.notify(job);
  } else if (job.status === 'running' && !job.cancelRequested) {
    job.cancelRequested = true;
    touch(job, now);
    store.notify(job);
  }
  return header(job);
}

/** A failed or canceled job runs again under its id: queued and due now, with `attempts` more attempts. */
export function retryJob(store: JobStore, id: string, options: RetryOptions): RetryResult | null {
  const attempts = checkAttempts(options.attempts);
  const now = store.now();
  const job = store.live(id, now);
  if (!job) return null;
  if (job.status !== 'failed' && job.status !== 'canceled') return { retried: false, job: header(job) };
  const uniqueIndex = job.uniqueKey === null ? null : uniqueIndexKey(job.owner, job.endpoint, job.uniqueKey);
  if (uniqueIndex !== null) {
    const holder = store.uniqueHolder(uniqueIndex, job.id);
    if (holder) return { retried: false, job: header(job), uniqueConflict: holder.id };
    store.unique.set(uniqueIndex, job.id);
  }
  job.status = 'queued';
  job.runAt = now;
  job.maxAttempts = job.attempt + attempts;
  job.output = null;
  job.error = null;
  job.progress = null;
  job.estimatedCompletionAt = null;
  job.startedAt = null;
  job.finishedAt = null;
  job.expiresAt = null;
  job.cancelRequested = false;
  job.dispatchedAt = null;
  job.leaseToken = null;
  job.leaseExpiresAt = null;
  job.cleanup = false;
  touch(job, now);
  // A keyed job left the set of its endpoint's keyed jobs once it was final (the limited dispatch prunes it).
  if (job.limitKey !== null) store.limitedOf(job.endpoint).add(job);
  store.indexes.place(job, now);
  store.notify(job);
  return { retried: true, job: header(job) };
}

/** The attempts a retry grants: a positive integer, small enough that attempt + it stays a storable integer. */
export function checkAttempts(attempts: number): number {
  const checked = checkNumber('attempts', attempts, 'positiveInteger', (message) =>
    InvalidInputError.field('attempts', message),
  );
  if (checked > 1_000_000) throw InvalidInputError.field('attempts', 'attempts must be at most 1000000.');
  return checked;
}

export function removeJob(store: JobStore, id: string): JobRecordHeader | null {
  const now = store.now();
  const job = store.live(id, now);
  if (!job || !isFinalStatus(job.status)) return null;
  store.delete(job, now);
  return header(job);
}

export function deleteExpiredJobs(store: JobStore, limit: number): JobRecordHeader[] {
  const max = limitOf(limit);
  const now = store.now();
  const deleted: JobRecordHeader[] = [];
  while (deleted.length < max) {
    const next = store.indexes.firstExpired(now);
    if (!next) break;
    store.delete(next, now);
    deleted.push(header(next));
  }
  return deleted;
}

/** When a new job may start: its runAt, or now + its delay, or now. */
function startTime(job: NewJob, now: number): number {
  if (job.runAt != null) return Math.floor(checkStorableDate(job.runAt, 'runAt').getTime());
  if (job.delayMs == null) return now;
  const at = now + Math.ceil(duration(job.delayMs, 'delayMs'));
  // Past what a Date can hold (PostgreSQL and SQLite refuse it too).
  if (!Number.isFinite(new Date(at).getTime())) {
    throw InvalidInputError.field(
      'delayMs',
      `delayMs ${job.delayMs} puts the job past the latest time a date holds.`,
    );
  }
  return at;
}
