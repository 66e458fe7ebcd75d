import {
  type CancelOptions,
  type ClaimRequest,
  type CleanupQuery,
  type CreateResult,
  checkPriority,
  checkScheduleName,
  consoleLogger,
  type DispatchPublisher,
  type DispatchQuery,
  type DispatchResult,
  decodeCursor,
  encodeCursor,
  type HeartbeatRequest,
  type HeartbeatResult,
  InvalidInputError,
  type ItemResult,
  isJobStatus,
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
  type SettleRequest,
  type SubscribeOptions,
  toStorableJson,
  UnavailableError,
  type Unsubscribe,
  withTimeout,
} from '@jobs/core';
import pg from 'pg';
import { isConnectionError, mapDatabaseError } from './errors.js';
import { quoteIdentifier, quoteSchemaName } from './identifiers.js';
import { ChangeListener } from './listener.js';
import { type MigrationResult, runMigrations, verifySchema } from './migrations.js';
import { type HeaderRow, type JobRow, TYPES, toHeader, toPendingCleanup, toRecord } from './rows.js';
import { buildStatements, listStatement, type Statements } from './statements.js';
import {
  checkDuration,
  checkInteger,
  checkOptionalText,
  checkProgress,
  checkText,
  dateParam,
} from './values.js';

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

/** Rounds of a batch: each id once per round, in order (a job twice in one batch is handled as two calls). */
function rounds<T extends { id: string }>(items: readonly T[]): T[][] {
  const result: T[][] = [];
  const seen = new Map<string, number>();
  for (const item of items) {
    const round = seen.get(item.id) ?? 0;
    seen.set(item.id, round + 1);
    if (round === result.length) result.push([]);
    result[round]!.push(item);
  }
  return result;
}

function refused(error: unknown): ItemResult<never> {
  return { ok: false, error: error instanceof Error ? error : new Error(String(error)) };
}

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
  private readonly sql: Statements;
  private readonly channel: string;
  private readonly ownsPool: boolean;
  private readonly autoMigrate: boolean;
  private readonly maxPayloadBytes: number;
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
    this.sql = buildStatements(this.s);
    this.channel = options.notifyChannel ?? `${schema}_changes`.slice(0, 63);
    const quotedChannel = quoteIdentifier(this.channel, 'notification channel');
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
    this.maxPayloadBytes = option('maxPayloadBytes', options.maxPayloadBytes, DEFAULT_MAX_PAYLOAD_BYTES);
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
      this.logger.warn('jobs repository: an idle database connection failed', { error: error.message });
    };
    this.pool.on('error', this.onPoolError);

    this.listener = new ChangeListener({
      clientConfig: listenClientConfig(options, this.pool),
      channel: this.channel,
      quotedChannel,
      logger: this.logger,
      reconnectDelayMs: option('reconnectDelayMs', options.reconnectDelayMs, 100),
      maxReconnectDelayMs: option('maxReconnectDelayMs', options.maxReconnectDelayMs, 5000),
      healthCheckIntervalMs: option('listenHealthCheckMs', options.listenHealthCheckMs, 15_000),
    });
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
        this.logger.info('jobs repository: schema migrated', { schema: this.schema, ...result });
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
        this.logger.warn('jobs repository: error while closing the pool', { error: String(error) });
      });
    }
    this.pool.removeListener('error', this.onPoolError);
  }

  // ------------------------------------------------------------------------------------------------ values

  private json(value: unknown, field: string): string {
    return toStorableJson(value, field, this.maxPayloadBytes);
  }

  private jsonOrNull(value: unknown, field: string): string | null {
    return value === null || value === undefined ? null : this.json(value, field);
  }

  // -------------------------------------------------------------------------------------------- operations

  async create(jobs: readonly NewJob[]): Promise<ItemResult<CreateResult>[]> {
    interface Item {
      index: number;
      id: string;
      endpoint: string;
      input: string;
      owner: string | null;
      key: string | null;
      hash: string | null;
      maxAttempts: number;
      runAt: string | null;
      delay: number | null;
      priority: number;
    }
    const results: Array<ItemResult<CreateResult> | undefined> = new Array(jobs.length);
    let pending: Item[] = [];
    jobs.forEach((job, index) => {
      try {
        pending.push({
          index,
          id: checkText(job.id, 'id', 200),
          endpoint: checkText(job.endpoint, 'endpoint', 200),
          owner: checkOptionalText(job.owner, 'owner'),
          key: checkOptionalText(job.idempotencyKey, 'idempotencyKey'),
          hash: checkOptionalText(job.inputHash, 'inputHash'),
          maxAttempts: checkInteger(job.maxAttempts, 'maxAttempts', 1),
          runAt: job.runAt == null ? null : dateParam(job.runAt, 'runAt'),
          delay: job.runAt == null && job.delayMs != null ? checkDuration(job.delayMs, 'delayMs') : null,
          priority: checkPriority(job.priority ?? 0, (message) =>
            InvalidInputError.field('priority', message),
          ),
          input: this.json(job.input, 'input'),
        });
      } catch (error) {
        results[index] = refused(error);
      }
    });
    // Inserted in key order, so two batches with the same keys wait for each other instead of deadlocking.
    pending.sort((a, b) => (a.key ?? '').localeCompare(b.key ?? '') || a.index - b.index);
    const duplicateId = (item: Item) => {
      results[item.index] = refused(
        InvalidInputError.field('id', `A job with id ${item.id} already exists.`, 'duplicate'),
      );
    };
    for (let round = 0; pending.length > 0; round++) {
      if (round >= 5) {
        // Keys that keep changing hands (created and deleted by others meanwhile): let the caller try again.
        for (const item of pending)
          results[item.index] = refused(new UnavailableError('The job could not be created; try again.'));
        break;
      }
      const inserted = await this.query<HeaderRow>('create', this.sql.insert, [
        pending.map((item) => item.id),
        pending.map((item) => item.endpoint),
        pending.map((item) => item.input),
        pending.map((item) => item.owner),
        pending.map((item) => item.key),
        pending.map((item) => item.hash),
        pending.map((item) => item.maxAttempts),
        pending.map((item) => item.runAt),
        pending.map((item) => item.delay),
        pending.map((item) => item.priority),
        this.channel,
      ]);
      const byId = new Map(inserted.rows.map((row) => [row.id, row]));
      const missing: Item[] = [];
      for (const item of pending) {
        const row = byId.get(item.id);
        if (row?.endpoint === item.endpoint && row.idempotency_key === item.key) {
          byId.delete(item.id);
          results[item.index] = { ok: true, value: { job: toHeader(row), created: true } };
        } else if (item.key === null) duplicateId(item);
        else missing.push(item);
      }
      pending = missing.length === 0 ? [] : await this.resolveKeys(missing, results, duplicateId);
    }
    return results as ItemResult<CreateResult>[];
  }

  /**
   * Jobs not inserted although they carry an idempotency key: the key's live job answers them; an expired job's
   * key is released and they are inserted again; an id already taken refuses them. Returns those to retry.
   */
  private async resolveKeys<
    Item extends { index: number; id: string; endpoint: string; owner: string | null; key: string | null },
  >(
    items: Item[],
    results: Array<ItemResult<CreateResult> | undefined>,
    duplicateId: (item: Item) => void,
  ): Promise<Item[]> {
    const found = await this.query<HeaderRow & { expired: boolean }>('create', this.sql.findByKeys, [
      items.map((item) => item.endpoint),
      items.map((item) => item.owner),
      items.map((item) => item.key),
    ]);
    const keyOf = (endpoint: string, owner: string | null, key: string | null) =>
      JSON.stringify([endpoint, owner, key]);
    const byKey = new Map(
      found.rows.map((row) => [keyOf(row.endpoint, row.owner, row.idempotency_key), row]),
    );
    const retry: Item[] = [];
    const expired: string[] = [];
    const unexplained: Item[] = [];
    for (const item of items) {
      const row = byKey.get(keyOf(item.endpoint, item.owner, item.key));
      if (row && !row.expired)
        results[item.index] = { ok: true, value: { job: toHeader(row), created: false } };
      else if (row) {
        expired.push(row.id);
        retry.push(item);
      } else unexplained.push(item);
    }
    if (expired.length > 0) await this.query('create', this.sql.releaseExpiredKeys, [expired]);
    if (unexplained.length > 0) {
      // Its id is taken, or the job holding its key was deleted meanwhile (then it is inserted next round).
      const taken = await this.query<{ id: string }>('create', this.sql.exists, [
        unexplained.map((item) => item.id),
      ]);
      const takenIds = new Set(taken.rows.map((row) => row.id));
      for (const item of unexplained) {
        if (takenIds.has(item.id)) duplicateId(item);
        else retry.push(item);
      }
    }
    return retry;
  }

  get(id: string): Promise<JobRecord | null>;
  get(id: string, projection: 'header'): Promise<JobRecordHeader | null>;
  async get(id: string, projection?: 'header'): Promise<JobRecord | JobRecordHeader | null> {
    if (!isUsableText(id)) return null;
    if (projection === 'header') {
      const result = await this.query<HeaderRow>('get', this.sql.getHeader, [id]);
      return result.rows[0] ? toHeader(result.rows[0]) : null;
    }
    const result = await this.query<JobRow>('get', this.sql.get, [id]);
    return result.rows[0] ? toRecord(result.rows[0]) : null;
  }

  async claim(requests: readonly ClaimRequest[]): Promise<Array<JobRecord | null>> {
    const checked = requests.map((request, index) => ({
      index,
      id: request.id,
      token: checkText(request.leaseToken, 'leaseToken', 200),
      leaseMs: checkDuration(request.leaseMs, 'leaseMs'),
      estimate:
        request.estimatedDurationMs == null
          ? null
          : checkDuration(request.estimatedDurationMs, 'estimatedDurationMs'),
    }));
    const results: Array<JobRecord | null> = requests.map(() => null);
    // One lease length per statement: the host's requests all share it; others are split by it.
    const usable = checked.filter((request) => isUsableText(request.id));
    for (const round of rounds(usable)) {
      for (const group of groupBy(round, (request) => request.leaseMs)) {
        const claimed = await this.query<JobRow>('claim', this.sql.claim, [
          group.map((request) => request.id),
          group.map((request) => request.token),
          group.map((request) => request.estimate),
          group[0]!.leaseMs,
          this.channel,
        ]);
        const byId = new Map(claimed.rows.map((row) => [row.id, row]));
        for (const request of group) {
          const row = byId.get(request.id);
          if (row && row.lease_token === request.token) results[request.index] = toRecord(row);
        }
      }
    }
    return results;
  }

  async heartbeat(requests: readonly HeartbeatRequest[]): Promise<ItemResult<HeartbeatResult>[]> {
    interface Checked {
      indexes: number[];
      id: string;
      token: string;
      leaseMs: number;
      setProgress: boolean;
      progress: string | null;
      setEta: boolean;
      remaining: number | null;
    }
    const results: Array<ItemResult<HeartbeatResult>> = requests.map(() => ({
      ok: true,
      value: { held: false, cancelRequested: false },
    }));
    // Requests for the same run (a renewal and a progress report) are merged into one update.
    const merged = new Map<string, Checked>();
    const separate: Checked[] = [];
    requests.forEach((request, index) => {
      if (!isUsableText(request.id) || !isUsableText(request.leaseToken)) return;
      let checked: Checked;
      try {
        const setProgress = request.progress !== undefined;
        const setEta = request.estimatedRemainingMs !== undefined;
        checked = {
          indexes: [index],
          id: request.id,
          token: request.leaseToken,
          leaseMs: checkDuration(request.leaseMs, 'leaseMs'),
          setProgress,
          progress:
            setProgress && request.progress ? this.json(checkProgress(request.progress), 'progress') : null,
          setEta,
          remaining:
            setEta && request.estimatedRemainingMs !== null
              ? checkDuration(request.estimatedRemainingMs!, 'estimatedRemainingMs')
              : null,
        };
      } catch (error) {
        results[index] = refused(error);
        return;
      }
      const key = `${checked.leaseMs}\u0000${checked.token}\u0000${checked.id}`;
      const earlier = merged.get(key);
      if (!earlier) merged.set(key, checked);
      else if (earlier.token === checked.token) {
        earlier.indexes.push(index);
        if (checked.setProgress) Object.assign(earlier, { setProgress: true, progress: checked.progress });
        if (checked.setEta) Object.assign(earlier, { setEta: true, remaining: checked.remaining });
      } else separate.push(checked);
    });
    for (const round of rounds([...merged.values(), ...separate])) {
      for (const group of groupBy(round, (request) => request.leaseMs)) {
        const renewed = await this.query<{ id: string; cancel_requested: boolean }>(
          'heartbeat',
          this.sql.heartbeat,
          [
            group.map((request) => request.id),
            group.map((request) => request.token),
            group.map((request) => request.setProgress),
            group.map((request) => request.progress),
            group.map((request) => request.setEta),
            group.map((request) => request.remaining),
            group[0]!.leaseMs,
            this.channel,
          ],
        );
        const byId = new Map(renewed.rows.map((row) => [row.id, row]));
        for (const request of group) {
          const row = byId.get(request.id);
          if (!row) continue;
          for (const index of request.indexes) {
            results[index] = { ok: true, value: { held: true, cancelRequested: row.cancel_requested } };
          }
        }
      }
    }
    return results;
  }

  async settle(requests: readonly SettleRequest[]): Promise<ItemResult<boolean>[]> {
    interface Checked {
      index: number;
      id: string;
      token: string;
      status: string;
      output: string | null;
      error: string | null;
      retention: number | null;
      delay: number | null;
      refund: boolean;
      setProgress: boolean;
      progress: string | null;
      cleanup: boolean;
      setEta: boolean;
      remaining: number | null;
    }
    const results: Array<ItemResult<boolean>> = requests.map(() => ({ ok: true, value: false }));
    const checked: Checked[] = [];
    requests.forEach((request, index) => {
      try {
        const item = this.checkSettle(request, index);
        if (isUsableText(request.id) && isUsableText(request.leaseToken)) checked.push(item);
      } catch (error) {
        results[index] = refused(error);
      }
    });
    for (const round of rounds(checked)) {
      const settled = await this.query<{ id: string }>('settle', this.sql.settle, [
        round.map((item) => item.id),
        round.map((item) => item.token),
        round.map((item) => item.status),
        round.map((item) => item.output),
        round.map((item) => item.error),
        round.map((item) => item.retention),
        round.map((item) => item.delay),
        round.map((item) => item.refund),
        round.map((item) => item.setProgress),
        round.map((item) => item.progress),
        round.map((item) => item.cleanup),
        round.map((item) => item.setEta),
        round.map((item) => item.remaining),
        this.channel,
      ]);
      const ids = new Set(settled.rows.map((row) => row.id));
      for (const item of round) results[item.index] = { ok: true, value: ids.has(item.id) };
    }
    return results;
  }

  private checkSettle(request: SettleRequest, index: number) {
    const outcome = request.outcome;
    const base = {
      index,
      id: request.id,
      token: request.leaseToken,
      status: outcome.status,
      output: null as string | null,
      error: null as string | null,
      retention: null as number | null,
      delay: null as number | null,
      refund: false,
      setProgress: false,
      progress: null as string | null,
      cleanup: false,
      setEta: false,
      remaining: null as number | null,
    };
    switch (outcome.status) {
      case 'succeeded':
        return {
          ...base,
          retention: checkDuration(outcome.retentionMs, 'retentionMs'),
          output: this.json(outcome.output, 'output'),
          setProgress: outcome.progress !== undefined,
          progress: outcome.progress ? this.json(checkProgress(outcome.progress), 'progress') : null,
          cleanup: outcome.cleanup === true,
          setEta: outcome.estimatedRemainingMs !== undefined,
          remaining:
            outcome.estimatedRemainingMs == null
              ? null
              : checkDuration(outcome.estimatedRemainingMs, 'estimatedRemainingMs'),
        };
      case 'failed':
      case 'canceled':
        return {
          ...base,
          retention: checkDuration(outcome.retentionMs, 'retentionMs'),
          error: this.jsonOrNull(outcome.error, 'error'),
        };
      case 'queued':
        return {
          ...base,
          delay: checkDuration(outcome.delayMs, 'delayMs'),
          error: this.jsonOrNull(outcome.error, 'error'),
          refund: outcome.refundAttempt === true,
        };
      default:
        throw InvalidInputError.field('status', 'Unknown settle outcome.');
    }
  }

  async requestCancel(id: string, options: CancelOptions): Promise<JobRecordHeader | null> {
    const retentionMs = checkDuration(options.retentionMs, 'retentionMs');
    const error = this.json(options.error, 'error');
    if (!isUsableText(id)) return null;
    const result = await this.query<HeaderRow>('requestCancel', this.sql.requestCancel, [
      id,
      error,
      retentionMs,
      this.channel,
    ]);
    if (result.rows[0]) return toHeader(result.rows[0]);
    return this.get(id, 'header');
  }

  async remove(id: string): Promise<JobRecordHeader | null> {
    if (!isUsableText(id)) return null;
    const result = await this.query<HeaderRow>('remove', this.sql.remove, [id, this.channel]);
    return result.rows[0] ? toHeader(result.rows[0]) : null;
  }

  async dispatch(query: DispatchQuery, publish: DispatchPublisher): Promise<DispatchResult> {
    const limit = checkInteger(query.limit, 'limit', 0, 100_000);
    const redispatch =
      query.redispatchAfterMs === null ? null : checkDuration(query.redispatchAfterMs, 'redispatchAfterMs');
    const endpoints =
      query.endpoints === undefined ? null : query.endpoints.map((e) => checkText(e, 'endpoint', 200));
    const excluded = (query.exceptEndpoints ?? []).map((e) => checkText(e, 'exceptEndpoints', 200));
    const maxAhead =
      query.maxAhead === undefined || endpoints?.length !== 1
        ? null
        : checkInteger(query.maxAhead, 'maxAhead', 0);
    await this.ensureReady();
    // The jobs are held (row locks) from the moment they are taken until the dispatch is recorded: another
    // dispatch skips them, and if publishing fails or this process dies, the transaction's rollback leaves them
    // dispatchable.
    return this.withClient('dispatch', async (client, drop) => {
      await this.query('dispatch', 'BEGIN', [], client);
      try {
        const taken = await this.query<{ id: string | null; endpoint: string; next_due: number | null }>(
          'dispatch',
          this.sql.dispatchTake,
          [limit, endpoints, redispatch, maxAhead, excluded],
          client,
        );
        const nextDue = taken.rows[0]?.next_due ?? null;
        const items = taken.rows
          .filter((row): row is { id: string; endpoint: string; next_due: number | null } => row.id !== null)
          .map((row) => ({ id: row.id, endpoint: row.endpoint }));
        const nextDueInMs = nextDue === null ? null : Math.max(0, nextDue);
        if (items.length === 0) {
          await this.query('dispatch', 'COMMIT', [], client);
          return { dispatched: 0, found: 0, nextDueInMs };
        }
        const published = await publish(items);
        const ids = items.filter((_item, index) => published[index] === true).map((item) => item.id);
        if (ids.length > 0) await this.query('dispatch', this.sql.dispatchMark, [ids], client);
        await this.query('dispatch', 'COMMIT', [], client);
        return { dispatched: ids.length, found: items.length, nextDueInMs };
      } catch (error) {
        // Bounded like every statement (a connection that stopped answering must not hold the call forever); a
        // connection whose rollback failed is in an unknown state and is dropped, not reused.
        await this.query('dispatch', 'ROLLBACK', [], client).catch((rollbackError: Error) =>
          drop(rollbackError),
        );
        throw error;
      }
    });
  }

  async deleteExpired(limit: number): Promise<JobRecordHeader[]> {
    checkInteger(limit, 'limit', 0, 100_000);
    if (limit === 0) return [];
    const result = await this.query<HeaderRow>('deleteExpired', this.sql.deleteExpired, [
      limit,
      this.channel,
    ]);
    return result.rows.map(toHeader).sort((a, b) => a.expiresAt!.getTime() - b.expiresAt!.getTime());
  }

  async list(query: ListQuery): Promise<ListPage> {
    const endpoint = checkText(query.endpoint, 'endpoint', 200);
    const owner = checkOptionalText(query.owner, 'owner');
    const limit = checkInteger(query.limit, 'limit', 1, 10_000);
    if (query.status !== undefined && !isJobStatus(query.status)) {
      throw InvalidInputError.field('status', `Unknown status ${JSON.stringify(query.status)}.`);
    }
    const cursor = query.cursor === undefined ? null : decodeCursor(query.cursor);
    const statement = listStatement(this.s, {
      owner: owner !== null,
      status: query.status !== undefined,
      cursor: cursor !== null,
    });
    const parameters: Record<string, unknown> = {
      endpoint,
      limit: limit + 1,
      owner,
      status: query.status,
      cursorTime: cursor?.createdAt.toISOString(),
      cursorId: cursor?.id,
    };
    const result = await this.query<HeaderRow>(
      'list',
      statement.text,
      statement.parameters.map((name) => parameters[name]),
    );
    const jobs = result.rows.slice(0, limit).map(toHeader);
    const last = jobs[jobs.length - 1];
    const nextCursor =
      result.rows.length > limit && last ? encodeCursor({ createdAt: last.createdAt, id: last.id }) : null;
    return { jobs, nextCursor };
  }

  async claimCleanups(query: CleanupQuery): Promise<PendingCleanup[]> {
    const endpoints = query.endpoints.map((endpoint) => checkText(endpoint, 'endpoint', 200));
    const limit = checkInteger(query.limit, 'limit', 0, 10_000);
    const leaseMs = checkDuration(query.leaseMs, 'leaseMs');
    const token = checkText(query.leaseToken, 'leaseToken', 200);
    if (limit === 0 || endpoints.length === 0) return [];
    const result = await this.query<{
      job: Record<string, unknown>;
      input: unknown;
      output: unknown;
      attempt: number;
    }>('claimCleanups', this.sql.claimCleanups, [endpoints, limit, token, leaseMs]);
    return result.rows.map(toPendingCleanup);
  }

  async finishCleanup(id: string, leaseToken: string, retryAfterMs: number | null): Promise<boolean> {
    const delay = retryAfterMs === null ? null : checkDuration(retryAfterMs, 'retryAfterMs');
    if (!isUsableText(id) || !isUsableText(leaseToken)) return false;
    const result =
      delay === null
        ? await this.query('finishCleanup', this.sql.finishCleanup, [id, leaseToken])
        : await this.query('finishCleanup', this.sql.retryCleanup, [id, leaseToken, delay]);
    return (result.rowCount ?? 0) > 0;
  }

  // ----------------------------------------------------------------------------------------- schedules

  async readSchedules(names: readonly string[]): Promise<Map<string, Date>> {
    const checked = names.map(checkScheduleName);
    const found = new Map<string, Date>();
    if (checked.length === 0) return found;
    const result = await this.query<{ name: string; last_ms: number }>(
      'readSchedules',
      this.sql.readSchedules,
      [checked],
    );
    for (const row of result.rows) found.set(row.name, new Date(row.last_ms));
    return found;
  }

  async advanceSchedule(name: string, occurrence: Date): Promise<boolean> {
    const checked = checkScheduleName(name);
    const at = dateParam(occurrence, 'occurrence');
    const result = await this.query('advanceSchedule', this.sql.advanceSchedule, [checked, at]);
    return (result.rowCount ?? 0) > 0;
  }

  // ----------------------------------------------------------------------------------------- notifications

  async subscribe(listener: (change: JobChange) => void, options?: SubscribeOptions): Promise<Unsubscribe> {
    this.assertOpen();
    if (typeof listener !== 'function') throw new TypeError('subscribe: listener must be a function');
    return this.listener.subscribe(listener, options);
  }
}

/** An id or token that can match a stored one (anything else matches nothing, without asking the database). */
function isUsableText(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  try {
    checkText(value, 'id', 200);
    return true;
  } catch {
    return false;
  }
}

function groupBy<T>(items: readonly T[], key: (item: T) => unknown): T[][] {
  const groups = new Map<unknown, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return [...groups.values()];
}

function listenClientConfig(options: PostgresRepositoryOptions, pool: pg.Pool): pg.ClientConfig {
  const listen = options.listenConnection;
  if (typeof listen === 'string')
    return { connectionString: listen, keepAlive: true, connectionTimeoutMillis: 10_000 };
  if (listen) return { keepAlive: true, connectionTimeoutMillis: 10_000, ...listen };
  // The pool's own settings (password and ssl key are non-enumerable there: copy them explicitly).
  const source = pool.options as pg.PoolConfig;
  return {
    ...source,
    password: source.password,
    ssl: source.ssl,
    keepAlive: true,
    connectionTimeoutMillis: source.connectionTimeoutMillis || 10_000,
  } as pg.ClientConfig;
}
