import {
  type CancelOptions,
  type ClaimRequest,
  type CleanupQuery,
  type CreateResult,
  checkNumber,
  checkPriority,
  checkScheduleName,
  checkStorableDate,
  type DispatchItem,
  type DispatchPublisher,
  type DispatchQuery,
  type DispatchResult,
  decodeCursor,
  encodeCursor,
  type HeartbeatRequest,
  type HeartbeatResult,
  InvalidInputError,
  type ItemResult,
  isFinalStatus,
  isJobStatus,
  type JobChange,
  type JobRecord,
  type JobRecordHeader,
  type JobRepository,
  type ListPage,
  type ListQuery,
  type NewJob,
  numberOption,
  type PendingCleanup,
  type SettleOutcome,
  type SettleRequest,
  type SubscribeOptions,
  UnavailableError,
  type Unsubscribe,
} from '@jobs/core';
import { JobIndexes } from './indexes.js';
import { type ListEntry, SortedEntries } from './sorted-list.js';
import {
  change,
  duration,
  header,
  item,
  json,
  limitOf,
  optionalJson,
  optionalText,
  progressJson,
  record,
  remainingToEta,
  type Stored,
  type StoredCleanup,
  text,
  touch,
} from './stored.js';

export interface MemoryRepositoryOptions {
  /**
   * Milliseconds since the epoch; every time the repository stores or compares comes from it.
   * Default `Date.now`. Inject one to test leases, delays and expiry without waiting.
   */
  clock?: () => number;
  /**
   * Jobs stored at most (finished ones included, until they expire). A create past it is refused with
   * `UnavailableError` (HTTP 503 with `Retry-After`), so one client cannot fill the process's memory. Default 100,000.
   */
  maxJobs?: number;
}

/**
 * An in-memory `JobRepository` for one process: the same semantics as the PostgreSQL one, without
 * durability. Jobs live in a Map by id; queued, running and final jobs are each kept in a heap ordered
 * by the time that matters for them (run time or dispatch time, lease expiry, expiry), so the dispatcher's
 * and the sweeper's queries cost in proportion to what they return, not to the number of jobs stored.
 */
export function createMemoryRepository(options: MemoryRepositoryOptions = {}): JobRepository {
  const clock = options.clock ?? Date.now;
  if (typeof clock !== 'function') throw new TypeError('clock must be a function returning milliseconds.');
  return new MemoryJobRepository(clock, numberOption('maxJobs', options.maxJobs, 'positiveInteger', 100_000));
}

class MemoryJobRepository implements JobRepository {
  readonly #clock: () => number;
  readonly #maxJobs: number;
  readonly #jobs = new Map<string, Stored>();
  /** (owner, endpoint, idempotencyKey) → job id. */
  readonly #idempotency = new Map<string, string>();
  /** (endpoint, owner) → that owner's jobs, ascending by (createdAt, id). */
  readonly #lists = new Map<string, SortedEntries>();
  readonly #indexes = new JobIndexes();
  /** Jobs a dispatch holds while it publishes them (besides the due ones it took out of the index). */
  readonly #dispatching = new Set<string>();
  readonly #cleanups = new Map<string, StoredCleanup>();
  /** Recurring schedule name → its last recorded occurrence (ms). */
  readonly #schedules = new Map<string, number>();
  readonly #listeners = new Set<(change: JobChange) => void>();
  #closed = false;

  constructor(clock: () => number, maxJobs: number) {
    this.#clock = clock;
    this.#maxJobs = maxJobs;
  }

  async create(jobs: readonly NewJob[]): Promise<ItemResult<CreateResult>[]> {
    this.#open();
    return jobs.map((job) => item(() => this.#create(job)));
  }

  #create(job: NewJob): CreateResult {
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
    const now = this.#now();
    const runAt = startTime(job, now);
    const keyIndex = idempotencyKey === null ? null : JSON.stringify([owner, endpoint, idempotencyKey]);
    if (keyIndex !== null) {
      const existing = this.#live(this.#idempotency.get(keyIndex), now);
      if (existing) return { job: header(existing), created: false };
    }
    if (this.#jobs.has(id))
      throw InvalidInputError.field('id', `A job with id ${id} already exists.`, 'duplicate');
    if (this.#jobs.size >= this.#maxJobs) {
      throw new UnavailableError(`The memory job repository holds its maximum of ${this.#maxJobs} jobs.`, {
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
      place: 'none',
      slot: 0,
    };
    this.#jobs.set(id, stored);
    // An expired job that held the key is absent: the key is this job's now.
    if (keyIndex !== null) this.#idempotency.set(keyIndex, id);
    this.#listInsert(stored);
    this.#indexes.place(stored, now);
    this.#notify(stored);
    return { job: header(stored), created: true };
  }

  get(id: string): Promise<JobRecord | null>;
  get(id: string, projection: 'header'): Promise<JobRecordHeader | null>;
  async get(id: string, projection?: 'header'): Promise<JobRecord | JobRecordHeader | null> {
    this.#open();
    const job = this.#live(id, this.#now());
    if (!job) return null;
    return projection === 'header' ? header(job) : record(job);
  }

  async claim(requests: readonly ClaimRequest[]): Promise<Array<JobRecord | null>> {
    this.#open();
    const now = this.#now();
    return requests.map((request) => {
      const leaseToken = text(request.leaseToken, 'leaseToken');
      const leaseMs = duration(request.leaseMs, 'leaseMs');
      const estimate =
        request.estimatedDurationMs == null
          ? null
          : duration(request.estimatedDurationMs, 'estimatedDurationMs');
      const job = this.#jobs.get(request.id);
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
      this.#indexes.place(job, now);
      this.#notify(job);
      return record(job);
    });
  }

  async heartbeat(requests: readonly HeartbeatRequest[]): Promise<ItemResult<HeartbeatResult>[]> {
    this.#open();
    const now = this.#now();
    return requests.map((request) => item(() => this.#heartbeat(request, now)));
  }

  #heartbeat(request: HeartbeatRequest, now: number): HeartbeatResult {
    const leaseMs = duration(request.leaseMs, 'leaseMs');
    const progress = request.progress === undefined ? undefined : progressJson(request.progress);
    const eta = remainingToEta(request.estimatedRemainingMs, now);
    const job = this.#jobs.get(request.id);
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
    this.#indexes.place(job, now);
    if (changed) this.#notify(job);
    return { held: true, cancelRequested: job.cancelRequested };
  }

  async settle(requests: readonly SettleRequest[]): Promise<ItemResult<boolean>[]> {
    this.#open();
    const now = this.#now();
    return requests.map((request) =>
      item(() => this.#settle(request.id, request.leaseToken, request.outcome, now)),
    );
  }

  #settle(id: string, leaseToken: string, outcome: SettleOutcome, now: number): boolean {
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
    const job = this.#jobs.get(id);
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
    this.#indexes.place(job, now);
    this.#notify(job);
    return true;
  }

  async requestCancel(id: string, options: CancelOptions): Promise<JobRecordHeader | null> {
    this.#open();
    const retentionMs = duration(options.retentionMs, 'retentionMs');
    const error = json(options.error, 'error');
    const now = this.#now();
    const job = this.#live(id, now);
    if (!job) return null;
    if (job.status === 'queued') {
      job.status = 'canceled';
      job.error = error;
      job.finishedAt = now;
      job.expiresAt = now + retentionMs;
      touch(job, now);
      this.#indexes.place(job, now);
      this.#notify(job);
    } else if (job.status === 'running' && !job.cancelRequested) {
      job.cancelRequested = true;
      touch(job, now);
      this.#notify(job);
    }
    return header(job);
  }

  async remove(id: string): Promise<JobRecordHeader | null> {
    this.#open();
    const now = this.#now();
    const job = this.#live(id, now);
    if (!job || !isFinalStatus(job.status)) return null;
    this.#delete(job, now);
    return header(job);
  }

  async dispatch(query: DispatchQuery, publish: DispatchPublisher): Promise<DispatchResult> {
    this.#open();
    const limit = limitOf(query.limit);
    const redispatchAfterMs =
      query.redispatchAfterMs === null ? null : duration(query.redispatchAfterMs, 'redispatchAfterMs');
    const endpoints = query.endpoints === undefined ? null : new Set(query.endpoints);
    const excluded = new Set(query.exceptEndpoints ?? []);
    const wanted = (endpoint: string) =>
      (endpoints === null || endpoints.has(endpoint)) && !excluded.has(endpoint);
    const now = this.#now();
    const stale = redispatchAfterMs === null ? null : now - redispatchAfterMs;
    // Due jobs never handed out leave the index while they are published (no other dispatch can take them).
    const maxAhead = query.maxAhead === undefined ? null : limitOf(query.maxAhead);
    const room =
      maxAhead === null || endpoints === null || endpoints.size !== 1
        ? limit
        : Math.min(limit, Math.max(0, maxAhead - this.#indexes.dispatchedCount([...endpoints][0]!)));
    const due = this.#indexes.takeReady(now, room, wanted);
    // Then jobs whose worker died, and (for a re-dispatch) jobs whose message may be lost: held by id.
    const offer = (job: Stored) => {
      if (!this.#dispatching.has(job.id) && wanted(job.endpoint) && due.length < limit) due.push(job);
      return due.length < limit;
    };
    if (due.length < limit) {
      this.#indexes.forEachExpiredLease(now, (job) => {
        if (job.dispatchedAt === null || (stale !== null && job.dispatchedAt <= stale)) offer(job);
      });
      if (stale !== null) this.#indexes.forEachDispatchedUpTo(stale, (job) => job.runAt > now || offer(job));
    }
    const nextDueInMs = this.#indexes.nextDueIn(now);
    if (due.length === 0) return { dispatched: 0, found: 0, nextDueInMs };
    const held = due.filter((job) => job.place !== 'none');
    for (const job of held) this.#dispatching.add(job.id);
    // Every claim, cancel or settle moves updatedAt: a job whose version changed while it was published is not
    // the one that was taken (claimed, maybe retried meanwhile), and is not marked.
    const taken = due.map((job) => job.updatedAt);
    let published: readonly boolean[] = [];
    let dispatched = 0;
    try {
      const items: DispatchItem[] = due.map((job) => ({ id: job.id, endpoint: job.endpoint }));
      published = await publish(items);
    } finally {
      for (const job of held) this.#dispatching.delete(job.id);
      const at = this.#now();
      due.forEach((job, index) => {
        if (published[index] !== true || this.#jobs.get(job.id) !== job || job.updatedAt !== taken[index])
          return;
        job.dispatchedAt = at;
        this.#indexes.place(job, at);
        dispatched++;
      });
      // Due jobs whose publish failed go back where they were (a change meanwhile placed them already).
      this.#indexes.putBack(due);
    }
    return { dispatched, found: due.length, nextDueInMs };
  }

  async deleteExpired(limit: number): Promise<JobRecordHeader[]> {
    this.#open();
    const max = limitOf(limit);
    const now = this.#now();
    const deleted: JobRecordHeader[] = [];
    while (deleted.length < max) {
      const next = this.#indexes.firstExpired(now);
      if (!next) break;
      this.#delete(next, now);
      deleted.push(header(next));
    }
    return deleted;
  }

  async list(query: ListQuery): Promise<ListPage> {
    this.#open();
    const limit = limitOf(query.limit);
    if (query.status !== undefined && !isJobStatus(query.status)) {
      throw InvalidInputError.field('status', `Unknown status ${String(query.status)}.`);
    }
    const before = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    const entries = this.#lists.get(listKey(query.endpoint, query.owner));
    const now = this.#now();
    const jobs: JobRecordHeader[] = [];
    let more = false;
    if (entries) {
      for (const entry of entries.descending(before && { time: before.createdAt.getTime(), id: before.id })) {
        const job = this.#live(entry.id, now);
        if (!job || (query.status !== undefined && job.status !== query.status)) continue;
        if (jobs.length === limit) {
          more = true;
          break;
        }
        jobs.push(header(job));
      }
    }
    const last = jobs.at(-1);
    return {
      jobs,
      nextCursor: more && last ? encodeCursor({ createdAt: last.createdAt, id: last.id }) : null,
    };
  }

  async claimCleanups(query: CleanupQuery): Promise<PendingCleanup[]> {
    this.#open();
    const limit = limitOf(query.limit);
    const leaseMs = duration(query.leaseMs, 'leaseMs');
    const leaseToken = text(query.leaseToken, 'leaseToken');
    const endpoints = new Set(query.endpoints);
    const now = this.#now();
    const due = [...this.#cleanups.values()]
      .filter(
        (cleanup) =>
          endpoints.has(cleanup.job.endpoint) &&
          cleanup.dueAt <= now &&
          (cleanup.leaseToken === null || cleanup.leaseExpiresAt <= now),
      )
      .sort((a, b) => a.dueAt - b.dueAt || compareIds(a.job.id, b.job.id))
      .slice(0, limit);
    return due.map((cleanup) => {
      cleanup.attempt += 1;
      cleanup.leaseToken = leaseToken;
      cleanup.leaseExpiresAt = now + leaseMs;
      return { job: record(cleanup.job), attempt: cleanup.attempt };
    });
  }

  async finishCleanup(id: string, leaseToken: string, retryAfterMs: number | null): Promise<boolean> {
    this.#open();
    const delay = retryAfterMs === null ? null : duration(retryAfterMs, 'retryAfterMs');
    const cleanup = this.#cleanups.get(id);
    const now = this.#now();
    if (!cleanup || cleanup.leaseToken !== leaseToken || cleanup.leaseExpiresAt <= now) return false;
    if (delay === null) this.#cleanups.delete(id);
    else {
      cleanup.leaseToken = null;
      cleanup.dueAt = now + delay;
    }
    return true;
  }

  async readSchedules(names: readonly string[]): Promise<Map<string, Date>> {
    this.#open();
    const found = new Map<string, Date>();
    for (const name of names.map(checkScheduleName)) {
      const last = this.#schedules.get(name);
      if (last !== undefined) found.set(name, new Date(last));
    }
    return found;
  }

  async advanceSchedule(name: string, occurrence: Date): Promise<boolean> {
    this.#open();
    const key = checkScheduleName(name);
    const at = checkStorableDate(occurrence, 'occurrence').getTime();
    if ((this.#schedules.get(key) ?? -Infinity) >= at) return false;
    this.#schedules.set(key, at);
    return true;
  }

  async subscribe(listener: (change: JobChange) => void, _options?: SubscribeOptions): Promise<Unsubscribe> {
    this.#open();
    if (typeof listener !== 'function') throw new TypeError('listener must be a function.');
    // A wrapper per subscription, so subscribing the same function twice gives two independent subscriptions.
    // The subscription is always live: nothing can be missed within one process.
    const subscription = (change: JobChange) => listener(change);
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

  /** The job, unless it is unknown or expired (a final job past its expiresAt is absent). */
  #live(id: string | undefined, now: number): Stored | undefined {
    const job = id === undefined ? undefined : this.#jobs.get(id);
    if (!job || (job.expiresAt !== null && job.expiresAt <= now)) return undefined;
    return job;
  }

  /** Removes a final job (leaving its pending cleanup) and announces it. */
  #delete(job: Stored, now: number): void {
    this.#jobs.delete(job.id);
    this.#indexes.remove(job);
    if (job.idempotencyKey !== null) {
      const key = JSON.stringify([job.owner, job.endpoint, job.idempotencyKey]);
      if (this.#idempotency.get(key) === job.id) this.#idempotency.delete(key);
    }
    const key = listKey(job.endpoint, job.owner);
    const entries = this.#lists.get(key);
    if (entries) {
      entries.delete(entryOf(job));
      if (entries.size === 0) this.#lists.delete(key);
    }
    if (job.cleanup && job.status === 'succeeded') {
      this.#cleanups.set(job.id, { job, attempt: 0, dueAt: now, leaseToken: null, leaseExpiresAt: 0 });
    }
    this.#notify(job, now);
  }

  #listInsert(job: Stored): void {
    const key = listKey(job.endpoint, job.owner);
    let entries = this.#lists.get(key);
    if (!entries) {
      entries = new SortedEntries();
      this.#lists.set(key, entries);
    }
    entries.insert(entryOf(job));
  }

  /** Tells every subscriber, later: a listener never runs inside a repository call. */
  #notify(job: Stored, removedAt?: number): void {
    if (this.#listeners.size === 0) return;
    const announced = change(job, removedAt);
    queueMicrotask(() => {
      for (const listener of this.#listeners) {
        try {
          listener(announced);
        } catch {
          // A failing listener must not break the repository or the other listeners.
        }
      }
    });
  }
}

function listKey(endpoint: string, owner: string | null): string {
  return JSON.stringify([endpoint, owner]);
}

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function entryOf(job: Stored): ListEntry {
  return { time: job.createdAt, id: job.id };
}

/** When a new job may start: its runAt, or now + its delay, or now. */
function startTime(job: NewJob, now: number): number {
  if (job.runAt != null) return Math.floor(checkStorableDate(job.runAt, 'runAt').getTime());
  return job.delayMs == null ? now : now + Math.ceil(duration(job.delayMs, 'delayMs'));
}
