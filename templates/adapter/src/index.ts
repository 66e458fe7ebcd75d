// Skeleton of a @jobs adapter: a JobRepository (a store that holds job state) and a JobQueue (a broker that
// carries job ids to workers). Most adapters are one or the other: delete the half you do not need.
//
// The doc comments of JobRepository (@jobs/core, repository.ts) and JobQueue (queue.ts) are the
// specification, and the @jobs/testing suites in src/contract.test.ts check every observable sentence of it.
// Make those suites pass; every method below throws until you implement it.
import {
  type CancelOptions,
  type ClaimOptions,
  type ConsumeOptions,
  type CreateResult,
  consoleLogger,
  type DeliveryHandler,
  type DispatchQuery,
  type HeartbeatOptions,
  type HeartbeatResult,
  type JobQueue,
  type JobRecord,
  type JobRepository,
  type ListPage,
  type ListQuery,
  type Logger,
  type NewJob,
  type QueueConsumer,
  type SettleOutcome,
  type Unsubscribe,
} from '@jobs/core';

export interface ExampleRepositoryOptions {
  /** Where the store is, e.g. a connection string. */
  url?: string;
  /** Receives warnings (connection lost) and info (reconnected). Default: console. */
  logger?: Logger;
}

function notImplemented(what: string): Error {
  return new Error(`${what} is not implemented yet`);
}

/** Use the store's clock for every timestamp, copy values in and out, and announce every change. */
export class ExampleJobRepository implements JobRepository {
  readonly url: string | undefined;
  readonly logger: Logger;

  constructor(options: ExampleRepositoryOptions = {}) {
    this.url = options.url;
    this.logger = options.logger ?? consoleLogger;
  }

  async create(_job: NewJob): Promise<CreateResult> {
    throw notImplemented('create');
  }

  async get(_id: string): Promise<JobRecord | null> {
    throw notImplemented('get');
  }

  async claim(_id: string, _options: ClaimOptions): Promise<JobRecord | null> {
    throw notImplemented('claim');
  }

  async heartbeat(_id: string, _leaseToken: string, _options: HeartbeatOptions): Promise<HeartbeatResult> {
    throw notImplemented('heartbeat');
  }

  async settle(_id: string, _leaseToken: string, _outcome: SettleOutcome): Promise<JobRecord | null> {
    throw notImplemented('settle');
  }

  async requestCancel(_id: string, _options: CancelOptions): Promise<JobRecord | null> {
    throw notImplemented('requestCancel');
  }

  async remove(_id: string): Promise<JobRecord | null> {
    throw notImplemented('remove');
  }

  async markDispatched(_id: string): Promise<void> {
    throw notImplemented('markDispatched');
  }

  async findDispatchable(_query: DispatchQuery): Promise<Array<{ id: string; endpoint: string }>> {
    throw notImplemented('findDispatchable');
  }

  async deleteExpired(_limit: number): Promise<JobRecord[]> {
    throw notImplemented('deleteExpired');
  }

  async list(_query: ListQuery): Promise<ListPage> {
    throw notImplemented('list');
  }

  async subscribe(_listener: (id: string) => void): Promise<Unsubscribe> {
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

/** Publish only once the message is durable; never crash the process on a broker error. */
export class ExampleJobQueue implements JobQueue {
  readonly url: string | undefined;
  readonly prefix: string;
  readonly logger: Logger;

  constructor(options: ExampleQueueOptions = {}) {
    this.url = options.url;
    this.prefix = options.prefix ?? 'jobs';
    this.logger = options.logger ?? consoleLogger;
  }

  async publish(_endpoint: string, _jobId: string): Promise<void> {
    throw notImplemented('publish');
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
