import {
  type CancelOptions,
  type ClaimOptions,
  type CreateResult,
  type DispatchQuery,
  decodeCursor,
  encodeCursor,
  type HeartbeatOptions,
  type HeartbeatResult,
  InvalidInputError,
  isFinalStatus,
  JOB_STATUSES,
  type JobProgress,
  type JobRecord,
  type JobRepository,
  type ListPage,
  type ListQuery,
  type NewJob,
  type ProblemDetails,
  type SettleOutcome,
  UnavailableError,
  type Unsubscribe,
} from '@jobs/core';
import { BoundedSelection, IndexedMinHeap } from './heap.js';
import { type ListEntry, SortedEntries } from './sorted-list.js';

export interface MemoryRepositoryOptions {
  /**
   * Milliseconds since the epoch; every time the repository stores or compares comes from it.
   * Default `Date.now`. Inject one to test leases, delays and expiry without waiting.
   */
  clock?: () => number;
}

function invalid(detail: string, path: string): InvalidInputError {
  return new InvalidInputError(detail, [{ path: [path], message: detail }]);
}

function copyIn<T>(value: T, path: string): T {
  try {
    return structuredClone(value);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new InvalidInputError(`The ${path} cannot be stored: ${reason}`, [
      { path: [path], message: reason },
    ]);
  }
}

/** Marks a change: updatedAt strictly increases per job, so two changes in one millisecond differ. */
function touch(record: JobRecord, now: number): void {
  record.updatedAt = new Date(Math.max(now, record.updatedAt.getTime() + 1));
}

function checkDuration(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw invalid(`${path} must be a finite number of milliseconds >= 0.`, path);
  }
  return value;
}

function checkLimit(value: unknown, path = 'limit'): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw invalid(`${path} must be an integer >= 0.`, path);
  }
  return value;
}

function checkString(value: unknown, path: string): string {
  if (typeof value !== 'string' || value.length === 0)
    throw invalid(`${path} must be a non-empty string.`, path);
  return value;
}

function checkNullableString(value: unknown, path: string): string | null {
  if (value === null) return null;
  if (typeof value !== 'string') throw invalid(`${path} must be a string or null.`, path);
  return value;
}

function checkNullableDate(value: unknown, path: string): Date | null {
  if (value === null) return null;
  if (!(value instanceof Date) || Number.isNaN(value.getTime()))
    throw invalid(`${path} must be a valid Date or null.`, path);
  return new Date(value.getTime());
}

function checkProgress(value: JobProgress | null): JobProgress | null {
  if (value === null) return null;
  if (typeof value !== 'object' || typeof value.fraction !== 'number' || !Number.isFinite(value.fraction)) {
    throw invalid('progress.fraction must be a finite number.', 'progress');
  }
  if (value.message !== undefined && typeof value.message !== 'string') {
    throw invalid('progress.message must be a string.', 'progress');
  }
  return copyIn(value, 'progress');
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * An in-memory `JobRepository` for one process: the same semantics as the PostgreSQL one, without
 * durability. Jobs live in a Map by id; queued, running and final jobs are each kept in a heap ordered
 * by the time that matters for them (run time or dispatch time, lease expiry, expiry), so the sweeper's
 * queries cost in proportion to what they return, not to the number of jobs stored.
 */
export function createMemoryRepository(options: MemoryRepositoryOptions = {}): JobRepository {
  return new MemoryJobRepository(options.clock ?? Date.now);
}

class MemoryJobRepository implements JobRepository {
  readonly #clock: () => number;
  readonly #jobs = new Map<string, JobRecord>();
  /** (owner, endpoint, idempotencyKey) → job id. */
  readonly #idempotency = new Map<string, string>();
  /** (endpoint, owner) → that owner's jobs, ascending by (createdAt, id). */
  readonly #lists = new Map<string, SortedEntries>();
  /** `queued` jobs never handed to the queue (dispatchedAt null), by runAt. */
  readonly #queuedUndispatched = new IndexedMinHeap<JobRecord>();
  /** `queued` jobs handed to the queue, by dispatchedAt. */
  readonly #queuedDispatched = new IndexedMinHeap<JobRecord>();
  /** `running` jobs, by leaseExpiresAt. */
  readonly #running = new IndexedMinHeap<JobRecord>();
  /** Final jobs, by expiresAt. */
  readonly #final = new IndexedMinHeap<JobRecord>();
  readonly #listeners = new Set<(id: string) => void>();
  #closed = false;

  constructor(clock: () => number) {
    if (typeof clock !== 'function') throw new TypeError('clock must be a function returning milliseconds.');
    this.#clock = clock;
  }

  async create(job: NewJob): Promise<CreateResult> {
    this.#open();
    const id = checkString(job.id, 'id');
    const endpoint = checkString(job.endpoint, 'endpoint');
    const owner = checkNullableString(job.owner, 'owner');
    const idempotencyKey = checkNullableString(job.idempotencyKey, 'idempotencyKey');
    const inputHash = checkNullableString(job.inputHash, 'inputHash');
    if (typeof job.maxAttempts !== 'number' || !Number.isInteger(job.maxAttempts) || job.maxAttempts < 1) {
      throw invalid('maxAttempts must be an integer >= 1.', 'maxAttempts');
    }
    const estimatedCompletionAt = checkNullableDate(job.estimatedCompletionAt, 'estimatedCompletionAt');

    const idempotencyIndex =
      idempotencyKey === null ? null : JSON.stringify([owner, endpoint, idempotencyKey]);
    if (idempotencyIndex !== null) {
      const existingId = this.#idempotency.get(idempotencyIndex);
      const existing = existingId === undefined ? undefined : this.#jobs.get(existingId);
      if (existing) return { job: structuredClone(existing), created: false };
    }
    if (this.#jobs.has(id)) throw invalid(`A job with id ${id} already exists.`, 'id');

    const input = copyIn(job.input, 'input');
    const now = this.#now();
    const record: JobRecord = {
      id,
      endpoint,
      status: 'queued',
      createdAt: new Date(now),
      updatedAt: new Date(now),
      startedAt: null,
      finishedAt: null,
      expiresAt: null,
      attempt: 0,
      maxAttempts: job.maxAttempts,
      progress: null,
      estimatedCompletionAt,
      error: null,
      cancelRequested: false,
      input,
      output: null,
      owner,
      idempotencyKey,
      inputHash,
      runAt: new Date(now),
      dispatchedAt: null,
      leaseToken: null,
      leaseExpiresAt: null,
    };
    this.#jobs.set(id, record);
    if (idempotencyIndex !== null) this.#idempotency.set(idempotencyIndex, id);
    this.#listInsert(record);
    this.#reindex(record);
    this.#notify(id);
    return { job: structuredClone(record), created: true };
  }

  async get(id: string): Promise<JobRecord | null> {
    this.#open();
    const record = this.#jobs.get(id);
    return record ? structuredClone(record) : null;
  }

  async claim(id: string, options: ClaimOptions): Promise<JobRecord | null> {
    this.#open();
    const leaseToken = checkString(options.leaseToken, 'leaseToken');
    const leaseMs = checkDuration(options.leaseMs, 'leaseMs');
    const record = this.#jobs.get(id);
    if (!record) return null;
    const now = this.#now();
    const claimable =
      (record.status === 'queued' && record.runAt.getTime() <= now) ||
      (record.status === 'running' &&
        record.leaseExpiresAt !== null &&
        record.leaseExpiresAt.getTime() <= now);
    if (!claimable) return null;
    record.status = 'running';
    record.attempt += 1;
    record.leaseToken = leaseToken;
    record.leaseExpiresAt = new Date(now + leaseMs);
    record.startedAt = new Date(now);
    record.progress = null;
    record.dispatchedAt = null;
    touch(record, now);
    this.#reindex(record);
    this.#notify(id);
    return structuredClone(record);
  }

  async heartbeat(id: string, leaseToken: string, options: HeartbeatOptions): Promise<HeartbeatResult> {
    this.#open();
    const leaseMs = checkDuration(options.leaseMs, 'leaseMs');
    const progress = options.progress === undefined ? undefined : checkProgress(options.progress);
    const estimatedCompletionAt =
      options.estimatedCompletionAt === undefined
        ? undefined
        : checkNullableDate(options.estimatedCompletionAt, 'estimatedCompletionAt');
    const record = this.#jobs.get(id);
    if (!record || record.status !== 'running' || record.leaseToken !== leaseToken) {
      return { held: false, cancelRequested: false };
    }
    const now = this.#now();
    record.leaseExpiresAt = new Date(now + leaseMs);
    let changed = false;
    if (progress !== undefined && !sameJson(progress, record.progress)) {
      record.progress = progress;
      changed = true;
    }
    if (
      estimatedCompletionAt !== undefined &&
      (estimatedCompletionAt?.getTime() ?? null) !== (record.estimatedCompletionAt?.getTime() ?? null)
    ) {
      record.estimatedCompletionAt = estimatedCompletionAt;
      changed = true;
    }
    if (changed) touch(record, now);
    this.#reindex(record);
    if (changed) this.#notify(id);
    return { held: true, cancelRequested: record.cancelRequested };
  }

  async settle(id: string, leaseToken: string, outcome: SettleOutcome): Promise<JobRecord | null> {
    this.#open();
    // Validate and copy everything first: a refused value changes nothing.
    let output: unknown = null;
    let error: ProblemDetails | null = null;
    let durationMs: number;
    switch (outcome.status) {
      case 'succeeded':
        durationMs = checkDuration(outcome.retentionMs, 'retentionMs');
        output = copyIn(outcome.output, 'output');
        break;
      case 'failed':
        durationMs = checkDuration(outcome.retentionMs, 'retentionMs');
        error = copyIn(outcome.error, 'error');
        break;
      case 'canceled':
        durationMs = checkDuration(outcome.retentionMs, 'retentionMs');
        error = copyIn(outcome.error ?? null, 'error');
        break;
      case 'queued':
        durationMs = checkDuration(outcome.delayMs, 'delayMs');
        error = copyIn(outcome.error ?? null, 'error');
        break;
      default:
        throw invalid(`Unknown outcome status ${String((outcome as { status: unknown }).status)}.`, 'status');
    }
    const record = this.#jobs.get(id);
    if (!record || record.status !== 'running' || record.leaseToken !== leaseToken) return null;
    const now = this.#now();
    touch(record, now);
    record.leaseToken = null;
    record.leaseExpiresAt = null;
    if (outcome.status === 'queued') {
      record.status = 'queued';
      record.runAt = new Date(now + durationMs);
      record.dispatchedAt = null;
      record.progress = null;
      record.estimatedCompletionAt = null;
      record.error = error;
      if (outcome.refundAttempt) record.attempt = Math.max(0, record.attempt - 1);
    } else {
      record.status = outcome.status;
      record.finishedAt = new Date(now);
      record.expiresAt = new Date(now + durationMs);
      record.output = outcome.status === 'succeeded' ? output : null;
      record.error = error;
    }
    this.#reindex(record);
    this.#notify(id);
    return structuredClone(record);
  }

  async requestCancel(id: string, options: CancelOptions): Promise<JobRecord | null> {
    this.#open();
    const retentionMs = checkDuration(options.retentionMs, 'retentionMs');
    const error = copyIn(options.error, 'error');
    const record = this.#jobs.get(id);
    if (!record) return null;
    if (record.status === 'queued') {
      const now = this.#now();
      record.status = 'canceled';
      record.error = error;
      record.finishedAt = new Date(now);
      record.expiresAt = new Date(now + retentionMs);
      touch(record, now);
      this.#reindex(record);
      this.#notify(id);
    } else if (record.status === 'running' && !record.cancelRequested) {
      record.cancelRequested = true;
      touch(record, this.#now());
      this.#notify(id);
    }
    return structuredClone(record);
  }

  async remove(id: string): Promise<JobRecord | null> {
    this.#open();
    const record = this.#jobs.get(id);
    if (!record || !isFinalStatus(record.status)) return null;
    this.#delete(record);
    this.#notify(id);
    return record;
  }

  async markDispatched(id: string): Promise<void> {
    this.#open();
    const record = this.#jobs.get(id);
    const now = this.#now();
    const leaseExpired = record?.status === 'running' && record.leaseExpiresAt!.getTime() <= now;
    if (!record || (record.status !== 'queued' && !leaseExpired)) return;
    record.dispatchedAt = new Date(now);
    this.#reindex(record);
  }

  async findDispatchable(query: DispatchQuery): Promise<Array<{ id: string; endpoint: string }>> {
    this.#open();
    const graceMs = checkDuration(query.undispatchedGraceMs, 'undispatchedGraceMs');
    const redispatchAfterMs =
      query.redispatchAfterMs === null ? null : checkDuration(query.redispatchAfterMs, 'redispatchAfterMs');
    const limit = checkLimit(query.limit);
    if (limit === 0) return [];
    const now = this.#now();
    const wanted = (record: JobRecord) => query.endpoint === undefined || record.endpoint === query.endpoint;
    // "redispatchAfterMs ago or more": dispatchedAt <= now - redispatchAfterMs.
    const staleDispatch = redispatchAfterMs === null ? null : now - redispatchAfterMs;
    // Oldest first (createdAt, id), keeping only the `limit` oldest while scanning the due jobs.
    const oldest = new BoundedSelection<JobRecord>(limit, compareAge);
    this.#queuedUndispatched.forEachUpTo(now - graceMs, (record) => {
      if (wanted(record)) oldest.offer(record);
    });
    if (staleDispatch !== null) {
      this.#queuedDispatched.forEachUpTo(staleDispatch, (record) => {
        if (record.runAt.getTime() <= now && wanted(record)) oldest.offer(record);
      });
    }
    this.#running.forEachUpTo(now, (record) => {
      const due =
        record.dispatchedAt === null ||
        (staleDispatch !== null && record.dispatchedAt.getTime() <= staleDispatch);
      if (due && wanted(record)) oldest.offer(record);
    });
    return oldest.sorted().map((record) => ({ id: record.id, endpoint: record.endpoint }));
  }

  async deleteExpired(limit: number): Promise<JobRecord[]> {
    this.#open();
    const max = checkLimit(limit);
    const now = this.#now();
    const deleted: JobRecord[] = [];
    while (deleted.length < max) {
      const next = this.#final.peek();
      if (!next || next.key > now) break;
      const record = next.value;
      this.#delete(record);
      deleted.push(record);
    }
    for (const record of deleted) this.#notify(record.id);
    return deleted;
  }

  async list(query: ListQuery): Promise<ListPage> {
    this.#open();
    const limit = checkLimit(query.limit);
    if (query.status !== undefined && !(JOB_STATUSES as readonly string[]).includes(query.status)) {
      throw invalid(`Unknown status ${String(query.status)}.`, 'status');
    }
    const before = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    const entries = this.#lists.get(listKey(query.endpoint, query.owner));
    const jobs: JobRecord[] = [];
    let more = false;
    if (entries) {
      for (const entry of entries.descending(before && { time: before.createdAt.getTime(), id: before.id })) {
        const record = this.#jobs.get(entry.id)!;
        if (query.status !== undefined && record.status !== query.status) continue;
        if (jobs.length === limit) {
          more = true;
          break;
        }
        jobs.push(structuredClone(record));
      }
    }
    const last = jobs.at(-1);
    return {
      jobs,
      nextCursor: more && last ? encodeCursor({ createdAt: last.createdAt, id: last.id }) : null,
    };
  }

  async subscribe(listener: (id: string) => void): Promise<Unsubscribe> {
    this.#open();
    if (typeof listener !== 'function') throw new TypeError('listener must be a function.');
    // A wrapper per subscription, so subscribing the same function twice gives two independent subscriptions.
    const subscription = (id: string) => listener(id);
    this.#listeners.add(subscription);
    return () => {
      this.#listeners.delete(subscription);
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#listeners.clear();
  }

  #open(): void {
    if (this.#closed) throw new UnavailableError('The memory job repository is closed.');
  }

  #now(): number {
    const now = this.#clock();
    if (typeof now !== 'number' || !Number.isFinite(now))
      throw new TypeError('The clock returned no valid time.');
    return Math.floor(now);
  }

  /** Puts the job in the one heap that matches its state, with that heap's key. */
  #reindex(record: JobRecord): void {
    const id = record.id;
    this.#queuedUndispatched.delete(id);
    this.#queuedDispatched.delete(id);
    this.#running.delete(id);
    this.#final.delete(id);
    if (record.status === 'queued') {
      if (record.dispatchedAt === null) this.#queuedUndispatched.set(id, record.runAt.getTime(), record);
      else this.#queuedDispatched.set(id, record.dispatchedAt.getTime(), record);
    } else if (record.status === 'running') {
      this.#running.set(id, record.leaseExpiresAt?.getTime() ?? Number.NEGATIVE_INFINITY, record);
    } else {
      this.#final.set(id, record.expiresAt?.getTime() ?? Number.NEGATIVE_INFINITY, record);
    }
  }

  #delete(record: JobRecord): void {
    this.#jobs.delete(record.id);
    this.#queuedUndispatched.delete(record.id);
    this.#queuedDispatched.delete(record.id);
    this.#running.delete(record.id);
    this.#final.delete(record.id);
    if (record.idempotencyKey !== null) {
      const key = JSON.stringify([record.owner, record.endpoint, record.idempotencyKey]);
      if (this.#idempotency.get(key) === record.id) this.#idempotency.delete(key);
    }
    const key = listKey(record.endpoint, record.owner);
    const entries = this.#lists.get(key);
    if (entries) {
      entries.delete(entryOf(record));
      if (entries.size === 0) this.#lists.delete(key);
    }
  }

  #listInsert(record: JobRecord): void {
    const key = listKey(record.endpoint, record.owner);
    let entries = this.#lists.get(key);
    if (!entries) {
      entries = new SortedEntries();
      this.#lists.set(key, entries);
    }
    entries.insert(entryOf(record));
  }

  /** Tells every subscriber, later: a listener never runs inside a repository call. */
  #notify(id: string): void {
    for (const listener of this.#listeners) {
      queueMicrotask(() => {
        if (!this.#listeners.has(listener)) return;
        try {
          listener(id);
        } catch {
          // A failing listener must not break the repository or the other listeners.
        }
      });
    }
  }
}

function listKey(endpoint: string, owner: string | null): string {
  return JSON.stringify([endpoint, owner]);
}

/** Oldest first: (createdAt, id) ascending. */
function compareAge(a: JobRecord, b: JobRecord): number {
  const difference = a.createdAt.getTime() - b.createdAt.getTime();
  if (difference !== 0) return difference;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function entryOf(record: JobRecord): ListEntry {
  return { time: record.createdAt.getTime(), id: record.id };
}
