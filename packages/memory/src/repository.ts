import {
  type CancelOptions,
  type ClaimRequest,
  type CleanupQuery,
  type CreateResult,
  type DispatchPublisher,
  type DispatchQuery,
  type DispatchResult,
  type EndpointStats,
  type HeartbeatRequest,
  type HeartbeatResult,
  type ItemResult,
  type JobChange,
  type JobRecord,
  type JobRecordHeader,
  type JobRepository,
  type ListPage,
  type ListQuery,
  type NewJob,
  numberOption,
  type PendingCleanup,
  type RetryOptions,
  type RetryResult,
  type SearchQuery,
  type SettleRequest,
  type StatsQuery,
  type SubscribeOptions,
  UnavailableError,
  type Unsubscribe,
} from '@jobs/core';
import {
  advanceSchedule,
  claimCleanups,
  dispatch,
  finishCleanup,
  list,
  readSchedules,
  search,
  stats,
} from './queries.js';
import { JobStore } from './store.js';
import { header, item, record } from './stored.js';
import {
  cancelJob,
  claimJob,
  createJob,
  deleteExpiredJobs,
  heartbeatJob,
  removeJob,
  retryJob,
  settleJob,
} from './transitions.js';

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
  readonly #store: JobStore;
  #closed = false;

  constructor(clock: () => number, maxJobs: number) {
    this.#store = new JobStore(clock, maxJobs);
  }

  async create(jobs: readonly NewJob[]): Promise<ItemResult<CreateResult>[]> {
    this.#open();
    return jobs.map((job) => item(() => createJob(this.#store, job)));
  }

  get(id: string): Promise<JobRecord | null>;
  get(id: string, projection: 'header'): Promise<JobRecordHeader | null>;
  async get(id: string, projection?: 'header'): Promise<JobRecord | JobRecordHeader | null> {
    this.#open();
    const job = this.#store.live(id, this.#store.now());
    if (!job) return null;
    return projection === 'header' ? header(job) : record(job);
  }

  async claim(requests: readonly ClaimRequest[]): Promise<Array<JobRecord | null>> {
    this.#open();
    const now = this.#store.now();
    return requests.map((request) => claimJob(this.#store, request, now));
  }

  async heartbeat(requests: readonly HeartbeatRequest[]): Promise<ItemResult<HeartbeatResult>[]> {
    this.#open();
    const now = this.#store.now();
    return requests.map((request) => item(() => heartbeatJob(this.#store, request, now)));
  }

  async settle(requests: readonly SettleRequest[]): Promise<ItemResult<boolean>[]> {
    this.#open();
    const now = this.#store.now();
    return requests.map((request) => item(() => settleJob(this.#store, request, now)));
  }

  async requestCancel(id: string, options: CancelOptions): Promise<JobRecordHeader | null> {
    this.#open();
    return cancelJob(this.#store, id, options);
  }

  async retry(id: string, options: RetryOptions): Promise<RetryResult | null> {
    this.#open();
    return retryJob(this.#store, id, options);
  }

  async remove(id: string): Promise<JobRecordHeader | null> {
    this.#open();
    return removeJob(this.#store, id);
  }

  async dispatch(query: DispatchQuery, publish: DispatchPublisher): Promise<DispatchResult> {
    this.#open();
    return dispatch(this.#store, query, publish);
  }

  async deleteExpired(limit: number): Promise<JobRecordHeader[]> {
    this.#open();
    return deleteExpiredJobs(this.#store, limit);
  }

  async list(query: ListQuery): Promise<ListPage> {
    this.#open();
    return list(this.#store, query);
  }

  async search(query: SearchQuery): Promise<ListPage> {
    this.#open();
    return search(this.#store, query);
  }

  async stats(query: StatsQuery): Promise<EndpointStats[]> {
    this.#open();
    return stats(this.#store, query);
  }

  async claimCleanups(query: CleanupQuery): Promise<PendingCleanup[]> {
    this.#open();
    return claimCleanups(this.#store, query);
  }

  async finishCleanup(id: string, leaseToken: string, retryAfterMs: number | null): Promise<boolean> {
    this.#open();
    return finishCleanup(this.#store, id, leaseToken, retryAfterMs);
  }

  async readSchedules(names: readonly string[]): Promise<Map<string, Date>> {
    this.#open();
    return readSchedules(this.#store, names);
  }

  async advanceSchedule(name: string, occurrence: Date): Promise<boolean> {
    this.#open();
    return advanceSchedule(this.#store, name, occurrence);
  }

  async subscribe(listener: (change: JobChange) => void, _options?: SubscribeOptions): Promise<Unsubscribe> {
    this.#open();
    if (typeof listener !== 'function') throw new TypeError('listener must be a function.');
    // A wrapper per subscription, so subscribing the same function twice gives two independent subscriptions.
    // The subscription is always live: nothing can be missed within one process.
    const subscription = (change: JobChange) => listener(change);
    this.#store.listeners.add(subscription);
    return () => {
      this.#store.listeners.delete(subscription);
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#store.listeners.clear();
  }

  #open(): void {
    if (this.#closed) throw new UnavailableError('The memory job repository is closed.');
  }
}
