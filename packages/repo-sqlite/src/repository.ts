import { resolve } from 'node:path';
import {
  type CancelOptions,
  type ClaimRequest,
  type CleanupQuery,
  type CreateResult,
  consoleLogger,
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
  type Logger,
  type NewJob,
  numberOption,
  type PendingCleanup,
  type RetryOptions,
  type RetryResult,
  type SearchQuery,
  type SettleRequest,
  type StatsQuery,
  type SubscribeOptions,
  type Unsubscribe,
} from '@jobs/core';
import { closedError, Database } from './database.js';
import { DRIVERS, defaultDriver, type SqliteDriver } from './driver.js';
import { deliver, joinChannel, LogReader, ORIGIN } from './notifier.js';
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
import { asJobRow, toChange, toHeader, toRecord } from './rows.js';
import { SQL } from './statements.js';
import {
  cancelJob,
  claimJob,
  createJob,
  deleteExpiredJobs,
  heartbeatJob,
  type Log,
  removeJob,
  retryJob,
  settleJob,
  type Transaction,
} from './transitions.js';
import { attemptsOf, duration, item, limitOf, text, Values } from './values.js';

export interface SqliteRepositoryOptions {
  /** The database file (created with its folder's permissions if missing), or `:memory:` for a private one. */
  path: string;
  /** Default: `bun:sqlite` on Bun, `node:sqlite` on Deno, `better-sqlite3` on Node. */
  driver?: SqliteDriver;
  /**
   * How long a statement waits for another process's write lock before failing with `UnavailableError`
   * (SQLite's busy timeout; the wait blocks the calling thread, as every call of a synchronous driver does).
   * Default 5000.
   */
  busyTimeoutMs?: number;
  /**
   * `full` (default): a commit is on disk before the call returns, so a job answered 202 survives a power loss.
   * `normal`: faster; still safe against a crashed or killed process, but a power loss may undo the last commits.
   */
  synchronous?: 'full' | 'normal';
  /** Milliseconds since the epoch; every time the repository stores or compares comes from it. Default `Date.now`. */
  clock?: () => number;
  /** Largest JSON text accepted for an input, output, error or progress (UTF-8 bytes). Default 1 MiB. */
  maxPayloadBytes?: number;
  /**
   * How long a dispatch holds the jobs it publishes (another dispatch skips them meanwhile). A process that dies
   * while publishing leaves its jobs dispatchable again after this. Longer than any publish takes. Default 30 s.
   */
  dispatchHoldMs?: number;
  /**
   * How often a repository with subscribers looks for changes made by other processes on the same file (0: never;
   * changes of this process are announced at once either way). Default 100.
   */
  notificationPollMs?: number;
  logger?: Logger;
}

/** A `JobRepository` in one SQLite file, with its lifecycle. */
export interface SqliteJobRepository extends JobRepository {
  readonly path: string;
  readonly driver: SqliteDriver;
  /** Opens the file and creates the schema now (the first operation does it otherwise); rejects when it cannot. */
  open(): Promise<void>;
}

export const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;

/**
 * Creates the SQLite repository. Nothing is opened yet: the first operation (or `open()`) loads the driver,
 * opens the file in WAL mode and creates the schema. Throws at once for invalid options.
 */
export function createSqliteRepository(options: SqliteRepositoryOptions): SqliteJobRepository {
  return new SqliteRepository(options);
}

const fail = (message: string) => new TypeError(`createSqliteRepository: ${message}`);

class SqliteRepository implements SqliteJobRepository {
  readonly path: string;
  readonly driver: SqliteDriver;
  readonly #clock: () => number;
  readonly #busyTimeoutMs: number;
  readonly #synchronous: 'full' | 'normal';
  readonly #holdMs: number;
  readonly #values: Values;
  readonly #logger: Logger;
  readonly #channel: ReturnType<typeof joinChannel>;
  readonly #subscriptions = new Set<(change: JobChange) => void>();
  readonly #reader: LogReader;
  #database: Database | null = null;
  #opening: Promise<Database> | null = null;
  #closed = false;
  #logged = 0;

  constructor(options: SqliteRepositoryOptions) {
    if (!options || typeof options.path !== 'string' || options.path === '') {
      throw fail('`path` is required: a file path, or ":memory:".');
    }
    this.path = options.path;
    this.driver = options.driver ?? defaultDriver();
    if (!DRIVERS.includes(this.driver)) throw fail(`driver must be one of ${DRIVERS.join(', ')}.`);
    this.#clock = options.clock ?? Date.now;
    if (typeof this.#clock !== 'function') throw fail('clock must be a function returning milliseconds.');
    const option = (
      name: string,
      value: number | undefined,
      rule: 'positive' | 'nonNegative',
      fallback: number,
    ) => numberOption(name, value, rule, fallback, fail);
    this.#busyTimeoutMs = option('busyTimeoutMs', options.busyTimeoutMs, 'nonNegative', 5_000);
    this.#holdMs = option('dispatchHoldMs', options.dispatchHoldMs, 'positive', 30_000);
    this.#values = new Values(
      option('maxPayloadBytes', options.maxPayloadBytes, 'positive', DEFAULT_MAX_PAYLOAD_BYTES),
    );
    const pollMs = option('notificationPollMs', options.notificationPollMs, 'nonNegative', 100);
    this.#synchronous = options.synchronous ?? 'full';
    if (this.#synchronous !== 'full' && this.#synchronous !== 'normal')
      throw fail("synchronous is 'full' or 'normal'.");
    this.#logger = options.logger ?? consoleLogger;
    const memory = this.path === ':memory:' || this.path.startsWith('file::memory:');
    this.#channel = joinChannel(memory ? null : resolve(this.path));
    this.#reader = new LogReader(() => this.#database, memory ? 0 : pollMs, this.#logger);
  }

  // ---------------------------------------------------------------------------------------------- lifecycle

  async open(): Promise<void> {
    await this.#db();
  }

  async #db(): Promise<Database> {
    if (this.#closed) throw closedError();
    if (this.#database) return this.#database;
    this.#opening ??= Database.open({
      path: this.path,
      driver: this.driver,
      busyTimeoutMs: this.#busyTimeoutMs,
      synchronous: this.#synchronous,
    }).then(
      (database) => {
        if (this.#closed) {
          database.close();
          throw closedError();
        }
        this.#database = database;
        return database;
      },
      (error: unknown) => {
        this.#opening = null; // try again on the next call
        throw error;
      },
    );
    return this.#opening;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#reader.stop();
    for (const listener of this.#subscriptions) this.#channel.channel.listeners.delete(listener);
    this.#subscriptions.clear();
    this.#channel.leave();
    const database = this.#database ?? (await this.#opening?.catch(() => null)) ?? null;
    this.#database = null;
    database?.close();
  }

  #now(): number {
    const now = this.#clock();
    if (typeof now !== 'number' || !Number.isFinite(now))
      throw new TypeError('The clock returned no valid time.');
    return Math.floor(now);
  }

  /** Runs a write transaction; the changes it logged are announced in this process once it committed. */
  #write<T>(database: Database, operation: string, body: (tx: Transaction) => T): T {
    const changes: JobChange[] = [];
    // Read once the write lock is held: a wait for another process's transaction must not age the time.
    let now = 0;
    const log: Log = (row, removedAt) => {
      const change = toChange(row, removedAt);
      database
        .statement(SQL.logChange)
        .run(
          ORIGIN,
          change.id,
          change.status,
          change.updatedAt.getTime(),
          change.attempt,
          change.cancelRequested ? 1 : 0,
          change.runAt?.getTime() ?? null,
          removedAt ?? Number(row.updated_at),
        );
      changes.push(change);
      if (++this.#logged % 1_000 === 0) database.statement(SQL.pruneChanges).run(now - 60_000);
    };
    const result = database.write(operation, () => {
      now = this.#now();
      return body({ database, log, now, values: this.#values });
    });
    deliver(this.#channel.channel.listeners, changes);
    return result;
  }

  // -------------------------------------------------------------------------------------------- operations

  async create(jobs: readonly NewJob[]): Promise<ItemResult<CreateResult>[]> {
    const database = await this.#db();
    return this.#write(database, 'create', (tx) => jobs.map((job) => item(() => createJob(tx, job))));
  }

  get(id: string): Promise<JobRecord | null>;
  get(id: string, projection: 'header'): Promise<JobRecordHeader | null>;
  async get(id: string, projection?: 'header'): Promise<JobRecord | JobRecordHeader | null> {
    const database = await this.#db();
    if (typeof id !== 'string') return null;
    const now = this.#now();
    return database.read('get', () => {
      const row = asJobRow(
        database.statement(projection === 'header' ? SQL.getHeader : SQL.get).get(id, now),
      );
      if (!row) return null;
      return projection === 'header' ? toHeader(row) : toRecord(row);
    });
  }

  async claim(requests: readonly ClaimRequest[]): Promise<Array<JobRecord | null>> {
    const database = await this.#db();
    const checked = requests.map((request) => ({
      id: request.id,
      token: text(request.leaseToken, 'leaseToken'),
      leaseMs: duration(request.leaseMs, 'leaseMs'),
      estimate:
        request.estimatedDurationMs == null
          ? null
          : duration(request.estimatedDurationMs, 'estimatedDurationMs'),
    }));
    return this.#write(database, 'claim', (tx) => checked.map((request) => claimJob(tx, request)));
  }

  async heartbeat(requests: readonly HeartbeatRequest[]): Promise<ItemResult<HeartbeatResult>[]> {
    const database = await this.#db();
    return this.#write(database, 'heartbeat', (tx) =>
      requests.map((request) => item(() => heartbeatJob(tx, request))),
    );
  }

  async settle(requests: readonly SettleRequest[]): Promise<ItemResult<boolean>[]> {
    const database = await this.#db();
    return this.#write(database, 'settle', (tx) =>
      requests.map((request) => item(() => settleJob(tx, request))),
    );
  }

  async requestCancel(id: string, options: CancelOptions): Promise<JobRecordHeader | null> {
    const database = await this.#db();
    const retentionMs = duration(options.retentionMs, 'retentionMs');
    const error = this.#values.json(options.error, 'error');
    if (typeof id !== 'string') return null;
    return this.#write(database, 'requestCancel', (tx) => cancelJob(tx, id, retentionMs, error));
  }

  async retry(id: string, options: RetryOptions): Promise<RetryResult | null> {
    const database = await this.#db();
    const attempts = attemptsOf(options.attempts);
    if (typeof id !== 'string') return null;
    return this.#write(database, 'retry', (tx) => retryJob(tx, id, attempts));
  }

  async remove(id: string): Promise<JobRecordHeader | null> {
    const database = await this.#db();
    if (typeof id !== 'string') return null;
    return this.#write(database, 'remove', (tx) => removeJob(tx, id));
  }

  async deleteExpired(limit: number): Promise<JobRecordHeader[]> {
    const database = await this.#db();
    const max = limitOf(limit);
    if (max === 0) return [];
    return this.#write(database, 'deleteExpired', (tx) => deleteExpiredJobs(tx, max));
  }

  async dispatch(query: DispatchQuery, publish: DispatchPublisher): Promise<DispatchResult> {
    const database = await this.#db();
    return dispatch(database, query, publish, { now: () => this.#now(), holdMs: this.#holdMs });
  }

  async list(query: ListQuery): Promise<ListPage> {
    const database = await this.#db();
    return list(database, query, this.#now());
  }

  async search(query: SearchQuery): Promise<ListPage> {
    const database = await this.#db();
    return search(database, query, this.#now());
  }

  async stats(query: StatsQuery): Promise<EndpointStats[]> {
    const database = await this.#db();
    return stats(database, query, this.#now());
  }

  async claimCleanups(query: CleanupQuery): Promise<PendingCleanup[]> {
    const database = await this.#db();
    return claimCleanups(database, query, () => this.#now());
  }

  async finishCleanup(id: string, leaseToken: string, retryAfterMs: number | null): Promise<boolean> {
    const database = await this.#db();
    return finishCleanup(database, id, leaseToken, retryAfterMs, () => this.#now());
  }

  async readSchedules(names: readonly string[]): Promise<Map<string, Date>> {
    return readSchedules(await this.#db(), names);
  }

  async advanceSchedule(name: string, occurrence: Date): Promise<boolean> {
    return advanceSchedule(await this.#db(), name, occurrence);
  }

  // ----------------------------------------------------------------------------------------- notifications

  async subscribe(listener: (change: JobChange) => void, options?: SubscribeOptions): Promise<Unsubscribe> {
    const database = await this.#db();
    if (typeof listener !== 'function') throw new TypeError('listener must be a function.');
    // A wrapper per subscription, so subscribing the same function twice gives two independent subscriptions.
    const subscription = (change: JobChange) => listener(change);
    this.#reader.add(subscription, options, database);
    this.#subscriptions.add(subscription);
    this.#channel.channel.listeners.add(subscription);
    return () => {
      this.#subscriptions.delete(subscription);
      this.#channel.channel.listeners.delete(subscription);
      this.#reader.remove(subscription);
    };
  }
}
