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
  toStorableJson,
  UnavailableError,
  type Unsubscribe,
  withTimeout,
} from '@jobs/core';
import pg from 'pg';
import { createJobs } from './create.js';
import { isConnectionError, mapDatabaseError } from './errors.js';
import type { Handle } from './handle.js';
import { quoteIdentifier, quoteSchemaName } from './identifiers.js';
import { ChangeListener, listenClientConfig } from './listener.js';
import { type MigrationResult, runMigrations, verifySchema } from './migrations.js';
import {
  advanceSchedule,
  claimCleanups,
  dispatch,
  finishCleanup,
  getJob,
  list,
  readSchedules,
  search,
  stats,
} from './queries.js';
import { TYPES } from './rows.js';
import { buildStatements } from './statements.js';
import {
  cancelJob,
  claimJobs,
  deleteExpiredJobs,
  heartbeatJobs,
  removeJob,
  retryJob,
  settleJobs,
} from './transitions.js';

export interface PostgresRepositoryOptions {
  /** A pool you own (you end it after `close()`). Give this or `connectionString`. */
  pool?: pg.Pool;
  /** The repository creates (and ends on `close()`) its own pool. Without `pool` or this, libpq's PG* variables apply. */
  connectionString?: string;
  /** Extra settings for the pool the repository creates (`max`, `ssl`, `application_name`, ...). */
  poolConfig?: pg.PoolConfig;
  /** Schema holding the tables: /^[a-z_][a-z0-9_]{0,62}$/, not `pg_...`. Default `jobs`. */
  schema?: string;
  /** Run the migrations on first use (default true). false: only verify that the schema is current. */
  migrate?: boolean;
  /** Largest JSON text accepted for an input, output, error or progress (UTF-8 bytes). Default 1 MiB. */
  maxPayloadBytes?: number;
  /**
   * Longest wait for one statement's answer (and for a connection from the pool); past it the call fails with
   * `UnavailableError` and its connection is dropped, so a database that stops answering never hangs a caller.
   * Default 30 s.
   */
  queryTimeoutMs?: number;
  /**
   * Use named prepared statements (parsed and planned once per connection). Default true; set false behind a
   * PgBouncer in transaction mode older than 1.21, which cannot keep them.
   */
  preparedStatements?: boolean;
  /** NOTIFY channel. Default `<schema>_changes`. Every process sharing the schema must use the same one. */
  notifyChannel?: string;
  /**
   * Connection for LISTEN, when it must differ from the pool's (a pool behind PgBouncer in transaction mode:
   * LISTEN needs a session, so point this at PostgreSQL or at a session-mode PgBouncer). A string is a
   * connection string; default: the pool's connection settings.
   */
  listenConnection?: string | pg.ClientConfig;
  /** First reconnect delay of the LISTEN connection (doubles up to `maxReconnectDelayMs`). Default 100. */
  reconnectDelayMs?: number;
  /** Default 5000. */
  maxReconnectDelayMs?: number;
  /** How often the LISTEN connection is checked with a query (a silent dead connection is replaced). Default 15 s. */
  listenHealthCheckMs?: number;
  logger?: Logger;
}

/** A `JobRepository` backed by PostgreSQL, with its lifecycle methods. */
export interface PostgresJobRepository extends JobRepository {
  /** The validated schema name. */
  readonly schema: string;
  /** The pool used for every statement (the one given, or the one created). */
  readonly pool: pg.Pool;
  /** Applies the pending migrations now (also done on first use unless `migrate: false`). */
  migrate(): Promise<MigrationResult>;
  /** Whether the LISTEN connection is up (notifications are pushed). */
  readonly listening: boolean;
}

export const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;

/** A stable, short statement name for a text (FNV-1a), so equal texts share one prepared statement. */
function statementName(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return `jobs_${(hash >>> 0).toString(36)}_${text.length.toString(36)}`;
}

/**
 * Creates the PostgreSQL repository. Nothing connects yet: the first operation runs the migrations (under an
 * advisory lock, so many nodes may start at once); `await repository.migrate()` does it eagerly.
 * Throws at once (before any SQL) for an invalid schema or channel name.
 */
export function createPostgresRepository(options: PostgresRepositoryOptions = {}): PostgresJobRepository {
  return new PostgresRepository(options);
}

class PostgresRepository implements PostgresJobRepository {
  readonly schema: string;
  readonly pool: pg.Pool;
  private readonly s: string;
  /** What the operations (create.ts, transitions.ts, queries.ts) work with. */
  private readonly db: Handle;
  private readonly ownsPool: boolean;
  private readonly autoMigrate: boolean;
  private readonly queryTimeoutMs: number;
  private readonly prepared: boolean;
  private readonly logger: Logger;
  private readonly listener: ChangeListener;
  private readonly onPoolError: (error: Error) => void;
  private ready: Promise<void> | null = null;
  private closed = false;

  constructor(options: PostgresRepositoryOptions) {
    const schema = options.schema === undefined ? 'jobs' : options.schema;
    this.s = quoteSchemaName(schema);
    this.schema = schema;
    const channel = options.notifyChannel ?? `${schema}_changes`.slice(0, 63);
    const quotedChannel = quoteIdentifier(channel, 'notification channel');
    if (options.pool && options.connectionString) {
      throw new TypeError('createPostgresRepository: give either `pool` or `connectionString`, not both.');
    }
    const option = (name: string, value: number | undefined, fallback: number) =>
      numberOption(
        name,
        value,
        'positive',
        fallback,
        (message) => new TypeError(`createPostgresRepository: ${message}`),
      );
    const maxPayloadBytes = option('maxPayloadBytes', options.maxPayloadBytes, DEFAULT_MAX_PAYLOAD_BYTES);
    this.queryTimeoutMs = option('queryTimeoutMs', options.queryTimeoutMs, 30_000);
    this.prepared = options.preparedStatements ?? true;
    this.autoMigrate = options.migrate ?? true;
    this.logger = options.logger ?? consoleLogger;

    if (options.pool) {
      this.pool = options.pool;
      this.ownsPool = false;
    } else {
      this.pool = new pg.Pool({
        connectionTimeoutMillis: Math.min(10_000, this.queryTimeoutMs),
        keepAlive: true,
        ...(options.connectionString === undefined ? {} : { connectionString: options.connectionString }),
        ...options.poolConfig,
      });
      this.ownsPool = true;
    }
    // An idle pooled connection that dies (server restart, pg_terminate_backend) is reported here; without a
    // listener Node would crash the process. The pool drops the connection and opens a new one when needed.
    this.onPoolError = (error) => {
      this.logger.warn({ error: error.message }, 'jobs repository: an idle database connection failed');
    };
    this.pool.on('error', this.onPoolError);

    this.listener = new ChangeListener({
      clientConfig: listenClientConfig(options.listenConnection, this.pool),
      channel,
      quotedChannel,
      logger: this.logger,
      reconnectDelayMs: option('reconnectDelayMs', options.reconnectDelayMs, 100),
      maxReconnectDelayMs: option('maxReconnectDelayMs', options.maxReconnectDelayMs, 5000),
      healthCheckIntervalMs: option('listenHealthCheckMs', options.listenHealthCheckMs, 15_000),
    });

    const json = (value: unknown, field: string) => toStorableJson(value, field, maxPayloadBytes);
    this.db = {
      sql: buildStatements(this.s),
      quotedSchema: this.s,
      channel,
      ensureReady: this.ensureReady.bind(this),
      query: this.query.bind(this),
      withClient: this.withClient.bind(this),
      json,
      jsonOrNull: (value, field) => (value === null || value === undefined ? null : json(value, field)),
    };
  }

  get listening(): boolean {
    return this.listener.listening;
  }

  // ---------------------------------------------------------------------------------------------- lifecycle

  async migrate(): Promise<MigrationResult> {
    this.assertOpen();
    return this.withClient('migrate', async (client) => {
      const result = await runMigrations(client, this.schema, this.s);
      if (result.applied.length > 0) {
        this.logger.info({ schema: this.schema, ...result }, 'jobs repository: schema migrated');
      }
      this.ready ??= Promise.resolve();
      return result;
    });
  }

  private ensureReady(): Promise<void> {
    this.ready ??= (this.autoMigrate ? this.migrate().then(() => {}) : this.verify()).catch(
      (error: unknown) => {
        this.ready = null; // try again on the next call (the database may be back, or migrated meanwhile)
        throw error;
      },
    );
    return this.ready;
  }

  private async verify(): Promise<void> {
    try {
      await verifySchema(this.pool, this.schema, this.s);
    } catch (error) {
      throw mapDatabaseError(error, 'verify schema');
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new UnavailableError('The job repository is closed.');
  }

  /** One statement on a pooled connection, bounded by the query timeout. */
  private async query<R extends pg.QueryResultRow>(
    operation: string,
    text: string,
    values: unknown[],
    client: pg.Pool | pg.PoolClient = this.pool,
  ): Promise<pg.QueryResult<R>> {
    this.assertOpen();
    await this.ensureReady();
    const config = {
      text,
      values,
      types: TYPES,
      query_timeout: this.queryTimeoutMs,
      // Statements with parameters are prepared once per connection (BEGIN and COMMIT are not worth it).
      ...(this.prepared && values.length > 0 ? { name: statementName(text) } : {}),
    };
    try {
      return await withTimeout(
        client.query<R>(config as pg.QueryConfig),
        this.queryTimeoutMs + 1_000,
        () => new UnavailableError('The job database did not answer in time.', { retryAfterSeconds: 2 }),
      );
    } catch (error) {
      throw mapDatabaseError(error, operation);
    }
  }

  /**
   * A connection of its own for a transaction, bounded while it is being obtained; a connection that failed is
   * dropped from the pool, not reused.
   */
  private async withClient<T>(
    operation: string,
    body: (client: pg.PoolClient, drop: (reason: Error) => void) => Promise<T>,
  ): Promise<T> {
    this.assertOpen();
    const connecting = this.pool.connect();
    let client: pg.PoolClient;
    try {
      client = await withTimeout(connecting, this.queryTimeoutMs, () => {
        connecting.then(
          (late) => late.release(),
          () => {},
        );
        return new UnavailableError('No database connection became available in time.', {
          retryAfterSeconds: 2,
        });
      });
    } catch (error) {
      throw mapDatabaseError(error, operation);
    }
    // A checked-out client has no error listener of the pool's: without this, a connection dropped mid-way
    // would be an unhandled 'error' event.
    let broken: Error | undefined;
    const onError = (error: Error) => {
      broken = error;
    };
    client.on('error', onError);
    try {
      return await body(client, onError);
    } catch (error) {
      if (isConnectionError(error) || error instanceof UnavailableError) broken ??= error as Error;
      throw mapDatabaseError(error, operation);
    } finally {
      client.removeListener('error', onError);
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.listener.close();
    if (this.ownsPool) {
      await this.pool.end().catch((error: unknown) => {
        this.logger.warn({ error: String(error) }, 'jobs repository: error while closing the pool');
      });
    }
    this.pool.removeListener('error', this.onPoolError);
  }

  // -------------------------------------------------------------------------------------------- operations

  create(jobs: readonly NewJob[]): Promise<ItemResult<CreateResult>[]> {
    return createJobs(this.db, jobs);
  }

  get(id: string): Promise<JobRecord | null>;
  get(id: string, projection: 'header'): Promise<JobRecordHeader | null>;
  get(id: string, projection?: 'header'): Promise<JobRecord | JobRecordHeader | null> {
    return getJob(this.db, id, projection);
  }

  claim(requests: readonly ClaimRequest[]): Promise<Array<JobRecord | null>> {
    return claimJobs(this.db, requests);
  }

  heartbeat(requests: readonly HeartbeatRequest[]): Promise<ItemResult<HeartbeatResult>[]> {
    return heartbeatJobs(this.db, requests);
  }

  settle(requests: readonly SettleRequest[]): Promise<ItemResult<boolean>[]> {
    return settleJobs(this.db, requests);
  }

  requestCancel(id: string, options: CancelOptions): Promise<JobRecordHeader | null> {
    return cancelJob(this.db, id, options);
  }

  retry(id: string, options: RetryOptions): Promise<RetryResult | null> {
    return retryJob(this.db, id, options);
  }

  remove(id: string): Promise<JobRecordHeader | null> {
    return removeJob(this.db, id);
  }

  dispatch(query: DispatchQuery, publish: DispatchPublisher): Promise<DispatchResult> {
    return dispatch(this.db, query, publish);
  }

  deleteExpired(limit: number): Promise<JobRecordHeader[]> {
    return deleteExpiredJobs(this.db, limit);
  }

  list(query: ListQuery): Promise<ListPage> {
    return list(this.db, query);
  }

  search(query: SearchQuery): Promise<ListPage> {
    return search(this.db, query);
  }

  stats(query: StatsQuery): Promise<EndpointStats[]> {
    return stats(this.db, query);
  }

  claimCleanups(query: CleanupQuery): Promise<PendingCleanup[]> {
    return claimCleanups(this.db, query);
  }

  finishCleanup(id: string, leaseToken: string, retryAfterMs: number | null): Promise<boolean> {
    return finishCleanup(this.db, id, leaseToken, retryAfterMs);
  }

  // ----------------------------------------------------------------------------------------- schedules

  readSchedules(names: readonly string[]): Promise<Map<string, Date>> {
    return readSchedules(this.db, names);
  }

  advanceSchedule(name: string, occurrence: Date): Promise<boolean> {
    return advanceSchedule(this.db, name, occurrence);
  }

  // ----------------------------------------------------------------------------------------- notifications

  async subscribe(listener: (change: JobChange) => void, options?: SubscribeOptions): Promise<Unsubscribe> {
    this.assertOpen();
    if (typeof listener !== 'function') throw new TypeError('subscribe: listener must be a function');
    return this.listener.subscribe(listener, options);
  }
}
