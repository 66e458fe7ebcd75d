// Skeleton of a @jobs adapter: a JobRepository (a store that holds job state) and a JobQueue (a broker that
// carries job ids to workers). Most adapters are one or the other: delete the half you do not need.
//
// The doc comments of JobRepository (@jobs/core, repository.ts) and JobQueue (queue.ts) are the
// specification, and the @jobs/testing suites in src/contract.test.ts check every observable sentence of it.
// Make those suites pass; every method below throws until you implement it. Read @jobs/memory's repository.ts
// (the reference, in one process) and @jobs/repo-postgres or @jobs/repo-sqlite (real stores) side by side.
import {
  type CancelOptions,
  type ClaimRequest,
  type CleanupQuery,
  type ConsumeOptions,
  type CreateResult,
  consoleLogger,
  type DeliveryHandler,
  type DispatchPublisher,
  type DispatchQuery,
  type DispatchResult,
  type EndpointStats,
  type HeartbeatRequest,
  type HeartbeatResult,
  type ItemResult,
  type JobChange,
  type JobQueue,
  type JobRecord,
  type JobRecordHeader,
  type JobRepository,
  type ListPage,
  type ListQuery,
  type Logger,
  type NewJob,
  type PendingCleanup,
  type QueueConsumer,
  type QueueMessage,
  type RetryOptions,
  type RetryResult,
  type SearchQuery,
  type SettleRequest,
  type StatsQuery,
  type SubscribeOptions,
  type TraceContext,
  type Unsubscribe,
} from '@jobs/core';

export interface ExampleRepositoryOptions {
  /** Where the store is, e.g. a connection string. */
  url?: string;
  /**
   * Milliseconds since the epoch, for every time the repository stores or compares, when the store has no clock
   * of its own worth trusting (an embedded store). Lets the contract suites move time instead of waiting
   * (`controllableClock: true`). A store with its own clock (a database server) leaves this out.
   */
  clock?: () => number;
  /** Receives warnings (connection lost) and info (reconnected). Default: console. */
  logger?: Logger;
}

function notImplemented(what: string): Error {
  return new Error(`${what} is not implemented yet`);
}

/**
 * Rules that are easy to miss (the suites check each of them):
 * - the hot-path writes (`create`, `claim`, `heartbeat`, `settle`) take a batch and answer one result per item:
 *   a value the store cannot hold refuses its item (`{ ok: false, error: InvalidInputError }`), not the batch;
 *   store each batch at once (one statement or one short transaction);
 * - check values with `checkStorableText` / `toStorableJson` / `checkNumber` from @jobs/core, so that the
 *   adapter refuses exactly what the others refuse; copy values in and out (store JSON text, parse it back);
 * - a final job past its `expiresAt` is absent for every method but `deleteExpired`, and its idempotency key
 *   is free again;
 * - `dispatch` holds the jobs it found while `publish` runs (another dispatch skips them) and must not block
 *   the store meanwhile; a claim or settle during `publish` must leave the job unmarked;
 * - a job's `traceContext` (checked with `isTraceContext`) is stored as given and returned by `get` and in the
 *   dispatch items, so that a job's dispatch and run join the trace of its submit;
 * - every change is announced to `subscribe` listeners as a `JobChange` (never inside the call that made it),
 *   in every process sharing the store; `onLiveChange(false)` while announcements may be lost;
 * - an unreachable or busy backend rejects with `UnavailableError`; after `close()` every call does.
 */
export class ExampleJobRepository implements JobRepository {
  readonly url: string | undefined;
  readonly logger: Logger;
  readonly #clock: () => number;

  constructor(options: ExampleRepositoryOptions = {}) {
    this.url = options.url;
    this.logger = options.logger ?? consoleLogger;
    this.#clock = options.clock ?? Date.now;
  }

  /** The store's now (or the injected clock's), in whole milliseconds. */
  protected now(): number {
    return Math.floor(this.#clock());
  }

  async create(_jobs: readonly NewJob[]): Promise<ItemResult<CreateResult>[]> {
    throw notImplemented('create');
  }

  get(id: string): Promise<JobRecord | null>;
  get(id: string, projection: 'header'): Promise<JobRecordHeader | null>;
  async get(_id: string, _projection?: 'header'): Promise<JobRecord | JobRecordHeader | null> {
    throw notImplemented('get');
  }

  async claim(_requests: readonly ClaimRequest[]): Promise<Array<JobRecord | null>> {
    throw notImplemented('claim');
  }

  async heartbeat(_requests: readonly HeartbeatRequest[]): Promise<ItemResult<HeartbeatResult>[]> {
    throw notImplemented('heartbeat');
  }

  async settle(_requests: readonly SettleRequest[]): Promise<ItemResult<boolean>[]> {
    throw notImplemented('settle');
  }

  async requestCancel(_id: string, _options: CancelOptions): Promise<JobRecordHeader | null> {
    throw notImplemented('requestCancel');
  }

  async retry(_id: string, _options: RetryOptions): Promise<RetryResult | null> {
    throw notImplemented('retry');
  }

  async remove(_id: string): Promise<JobRecordHeader | null> {
    throw notImplemented('remove');
  }

  async dispatch(_query: DispatchQuery, _publish: DispatchPublisher): Promise<DispatchResult> {
    throw notImplemented('dispatch');
  }

  async deleteExpired(_limit: number): Promise<JobRecordHeader[]> {
    throw notImplemented('deleteExpired');
  }

  async search(_query: SearchQuery): Promise<ListPage> {
    throw notImplemented('search');
  }

  async stats(_query: StatsQuery): Promise<EndpointStats[]> {
    throw notImplemented('stats');
  }

  async list(_query: ListQuery): Promise<ListPage> {
    throw notImplemented('list');
  }

  async claimCleanups(_query: CleanupQuery): Promise<PendingCleanup[]> {
    throw notImplemented('claimCleanups');
  }

  async finishCleanup(_id: string, _leaseToken: string, _retryAfterMs: number | null): Promise<boolean> {
    throw notImplemented('finishCleanup');
  }

  async readSchedules(_names: readonly string[]): Promise<Map<string, Date>> {
    throw notImplemented('readSchedules');
  }

  async advanceSchedule(_name: string, _occurrence: Date): Promise<boolean> {
    throw notImplemented('advanceSchedule');
  }

  async subscribe(_listener: (change: JobChange) => void, _options?: SubscribeOptions): Promise<Unsubscribe> {
    throw notImplemented('subscribe');
  }

  async close(): Promise<void> {
    throw notImplemented('close');
  }
}

export function createExampleRepository(options: ExampleRepositoryOptions = {}): ExampleJobRepository {
  return new ExampleJobRepository(options);
}

export interface ExampleQueueOptions {
  /** Where the broker is. */
  url?: string;
  /** Names the broker's queues, so deployments (and test runs) sharing a broker stay apart. */
  prefix?: string;
  logger?: Logger;
}

/**
 * Publish only once the message is durable; never crash the process on a broker error. A message's trace context
 * (`QueueMessage.traceContext`, the third argument of `publish`) travels with it (e.g. as headers `traceparent`
 * and `tracestate`) and comes back on the delivery.
 */
export class ExampleJobQueue implements JobQueue {
  readonly url: string | undefined;
  readonly prefix: string;
  readonly logger: Logger;

  constructor(options: ExampleQueueOptions = {}) {
    this.url = options.url;
    this.prefix = options.prefix ?? 'jobs';
    this.logger = options.logger ?? consoleLogger;
  }

  async publish(_endpoint: string, _jobId: string, _traceContext?: TraceContext | null): Promise<void> {
    throw notImplemented('publish');
  }

  /** Optional: every message in flight at once, one result per message (null: accepted). Delete it if you cannot. */
  async publishMany(_messages: readonly QueueMessage[]): Promise<Array<Error | null>> {
    throw notImplemented('publishMany');
  }

  async consume(
    _endpoint: string,
    _handler: DeliveryHandler,
    _options: ConsumeOptions,
  ): Promise<QueueConsumer> {
    throw notImplemented('consume');
  }

  /** Optional: messages waiting for a consumer. Delete it if the broker cannot tell. */
  async depth(_endpoint: string): Promise<number> {
    throw notImplemented('depth');
  }

  async close(): Promise<void> {
    throw notImplemented('close');
  }
}

export function createExampleQueue(options: ExampleQueueOptions = {}): ExampleJobQueue {
  return new ExampleJobQueue(options);
}
