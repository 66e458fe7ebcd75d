import {
  type CancelOptions,
  type ClaimOptions,
  type CreateResult,
  consoleLogger,
  type DispatchQuery,
  decodeCursor,
  encodeCursor,
  type HeartbeatOptions,
  type HeartbeatResult,
  InvalidInputError,
  JOB_STATUSES,
  type JobRecord,
  type JobRepository,
  type JobStatus,
  type ListPage,
  type ListQuery,
  type Logger,
  type NewJob,
  type SettleOutcome,
  UnavailableError,
  type Unsubscribe,
} from '@jobs/core';
import pg from 'pg';
import { isConnectionError, mapDatabaseError } from './errors.js';
import { quoteIdentifier, quoteSchemaName } from './identifiers.js';
import { ChangeListener } from './listener.js';
import { type MigrationResult, runMigrations, verifySchema } from './migrations.js';
import {
  checkDuration,
  checkInteger,
  checkOptionalText,
  checkText,
  dateParam,
  isStorableString,
  toJsonParam,
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
  /** Poll interval of the backstop that replaces notifications while the LISTEN connection is down. Default 1000. */
  pollIntervalMs?: number;
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
  /** Whether the LISTEN connection is up (notifications are pushed; otherwise the polling backstop runs). */
  readonly listening: boolean;
}

export const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;

const FINAL = `('succeeded', 'failed', 'canceled')`;
/** The database clock at millisecond precision: what a JavaScript Date can hold, so values round-trip exactly. */
const NOW = `date_trunc('milliseconds', now())`;
/** updated_at of a changed row: strictly increasing per job, so two changes in one millisecond differ. */
const TOUCH = `greatest(${NOW}, j.updated_at + interval '1 millisecond')`;
const plusMs = (param: string) =>
  `date_trunc('milliseconds', now() + ${param}::float8 * interval '1 millisecond')`;
const epochMs = (column: string) => `(extract(epoch from j.${column}) * 1000)::int8 AS ${column}`;

/** Every column, times as epoch milliseconds (independent of the session's DateStyle and TimeZone). */
const COLUMNS = [
  'j.id',
  'j.endpoint',
  'j.status',
  'j.input',
  'j.output',
  'j.error',
  'j.progress',
  'j.owner',
  'j.idempotency_key',
  'j.input_hash',
  'j.attempt',
  'j.max_attempts',
  'j.cancel_requested',
  'j.lease_token',
  ...[
    'created_at',
    'updated_at',
    'started_at',
    'finished_at',
    'expires_at',
    'estimated_completion_at',
    'run_at',
    'dispatched_at',
    'lease_expires_at',
  ].map(epochMs),
].join(', ');

interface JobRow {
  id: string;
  endpoint: string;
  status: JobStatus;
  input: unknown;
  output: unknown;
  error: JobRecord['error'];
  progress: JobRecord['progress'];
  owner: string | null;
  idempotency_key: string | null;
  input_hash: string | null;
  attempt: number;
  max_attempts: number;
  cancel_requested: boolean;
  lease_token: string | null;
  created_at: number;
  updated_at: number;
  started_at: number | null;
  finished_at: number | null;
  expires_at: number | null;
  estimated_completion_at: number | null;
  run_at: number;
  dispatched_at: number | null;
  lease_expires_at: number | null;
}

const identity = (value: string) => value;
/**
 * Parsers for this repository's own statements, set per query so that global pg.types changes made by the
 * application (dates as strings, numeric parsers, ...) never change what the repository returns.
 */
const TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number) => {
    switch (oid) {
      case 16: // bool
        return (value: string) => value === 't';
      case 20: // int8
      case 21: // int2
      case 23: // int4
        return (value: string) => Number(value);
      case 114: // json
      case 3802: // jsonb
        return (value: string) => JSON.parse(value);
      default:
        return identity;
    }
  }) as pg.CustomTypesConfig['getTypeParser'],
};

const toDate = (ms: number | null): Date | null => (ms === null ? null : new Date(ms));

function toRecord(row: JobRow): JobRecord {
  return {
    id: row.id,
    endpoint: row.endpoint,
    status: row.status,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
    startedAt: toDate(row.started_at),
    finishedAt: toDate(row.finished_at),
    expiresAt: toDate(row.expires_at),
    attempt: row.attempt,
    maxAttempts: row.max_attempts,
    progress: row.progress,
    estimatedCompletionAt: toDate(row.estimated_completion_at),
    error: row.error,
    cancelRequested: row.cancel_requested,
    input: row.input,
    output: row.output,
    owner: row.owner,
    idempotencyKey: row.idempotency_key,
    inputHash: row.input_hash,
    runAt: new Date(row.run_at),
    dispatchedAt: toDate(row.dispatched_at),
    leaseToken: row.lease_token,
    leaseExpiresAt: toDate(row.lease_expires_at),
  };
}

function checkPositiveOption(value: number | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0)
    throw new TypeError(`createPostgresRepository: ${name} must be a number > 0.`);
  return value;
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
  private readonly table: string;
  private readonly channel: string;
  private readonly ownsPool: boolean;
  private readonly autoMigrate: boolean;
  private readonly maxPayloadBytes: number;
  private readonly pollIntervalMs: number;
  private readonly logger: Logger;
  private readonly listener: ChangeListener;
  private readonly onPoolError: (error: Error) => void;
  private ready: Promise<void> | null = null;
  private closed = false;
  private pollTimer: NodeJS.Timeout | null = null;
  private pollSince: number | null = null;
  private polling: Promise<void> | null = null;

  constructor(options: PostgresRepositoryOptions) {
    const schema = options.schema === undefined ? 'jobs' : options.schema;
    this.s = quoteSchemaName(schema);
    this.schema = schema;
    this.table = `${this.s}.jobs`;
    this.channel = options.notifyChannel ?? `${schema}_changes`.slice(0, 63);
    const quotedChannel = quoteIdentifier(this.channel, 'notification channel');
    if (options.pool && options.connectionString) {
      throw new TypeError('createPostgresRepository: give either `pool` or `connectionString`, not both.');
    }
    this.maxPayloadBytes = checkPositiveOption(
      options.maxPayloadBytes,
      'maxPayloadBytes',
      DEFAULT_MAX_PAYLOAD_BYTES,
    );
    this.pollIntervalMs = checkPositiveOption(options.pollIntervalMs, 'pollIntervalMs', 1000);
    const reconnectDelayMs = checkPositiveOption(options.reconnectDelayMs, 'reconnectDelayMs', 100);
    const maxReconnectDelayMs = checkPositiveOption(options.maxReconnectDelayMs, 'maxReconnectDelayMs', 5000);
    this.autoMigrate = options.migrate ?? true;
    this.logger = options.logger ?? consoleLogger;

    if (options.pool) {
      this.pool = options.pool;
      this.ownsPool = false;
    } else {
      this.pool = new pg.Pool({
        connectionTimeoutMillis: 10_000,
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
      reconnectDelayMs,
      maxReconnectDelayMs,
      onDown: () => this.startPolling(),
      onUp: () => this.stopPolling(),
    });
  }

  get listening(): boolean {
    return this.listener.listening;
  }

  // ---------------------------------------------------------------------------------------------- lifecycle

  async migrate(): Promise<MigrationResult> {
    this.assertOpen();
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw mapDatabaseError(error, 'migrate');
    }
    // A checked-out client has no error listener of the pool's: without this, a connection dropped between
    // two migration statements would be an unhandled 'error' event.
    let broken: Error | undefined;
    const onError = (error: Error) => {
      broken = error;
    };
    client.on('error', onError);
    try {
      const result = await runMigrations(client, this.schema, this.s);
      if (result.applied.length > 0) {
        this.logger.info('jobs repository: schema migrated', { schema: this.schema, ...result });
      }
      this.ready ??= Promise.resolve();
      return result;
    } catch (error) {
      if (isConnectionError(error)) broken ??= error as Error;
      throw mapDatabaseError(error, 'migrate');
    } finally {
      client.removeListener('error', onError);
      client.release(broken);
    }
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

  private async query<R extends pg.QueryResultRow>(operation: string, text: string, values: unknown[]) {
    this.assertOpen();
    await this.ensureReady();
    try {
      return await this.pool.query<R>({ text, values, types: TYPES });
    } catch (error) {
      throw mapDatabaseError(error, operation);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopPolling();
    await this.listener.close();
    await this.polling?.catch(() => {});
    if (this.ownsPool) {
      await this.pool.end().catch((error: unknown) => {
        this.logger.warn('jobs repository: error while closing the pool', { error: String(error) });
      });
    }
    this.pool.removeListener('error', this.onPoolError);
  }

  // ------------------------------------------------------------------------------------------------ values

  private json(value: unknown, field: string): string {
    return toJsonParam(value, field, this.maxPayloadBytes);
  }

  private jsonOrNull(value: unknown, field: string): string | null {
    return value === null || value === undefined ? null : this.json(value, field);
  }

  // -------------------------------------------------------------------------------------------- operations

  async create(job: NewJob): Promise<CreateResult> {
    const id = checkText(job.id, 'id', 200);
    const endpoint = checkText(job.endpoint, 'endpoint', 200);
    const owner = checkOptionalText(job.owner, 'owner');
    const key = checkOptionalText(job.idempotencyKey, 'idempotencyKey');
    const inputHash = checkOptionalText(job.inputHash, 'inputHash');
    const maxAttempts = checkInteger(job.maxAttempts, 'maxAttempts', 1);
    const eta = dateParam(job.estimatedCompletionAt, 'estimatedCompletionAt');
    const input = this.json(job.input, 'input');

    const insert = `
      INSERT INTO ${this.table} AS j (id, endpoint, status, input, owner, idempotency_key, input_hash, attempt,
        max_attempts, estimated_completion_at, created_at, updated_at, run_at)
      VALUES ($1, $2, 'queued', $3::jsonb, $4, $5, $6, 0, $7, date_trunc('milliseconds', $8::timestamptz), ${NOW}, ${NOW}, ${NOW})
      ON CONFLICT (endpoint, (coalesce(owner, '')), ((owner IS NULL)), idempotency_key)
        WHERE idempotency_key IS NOT NULL DO NOTHING
      RETURNING ${COLUMNS}, pg_notify($9, j.id)`;
    const existing = `
      SELECT ${COLUMNS} FROM ${this.table} j
      WHERE j.endpoint = $1 AND coalesce(j.owner, '') = coalesce($2::text, '') AND (j.owner IS NULL) = ($2::text IS NULL)
        AND j.idempotency_key = $3`;
    // The insert waits for a concurrent insert of the same key and then does nothing; the existing job is read
    // in a new statement (a new snapshot) so it is visible. A loop covers the rare case of it being deleted
    // in between.
    for (let round = 0; ; round++) {
      let inserted: pg.QueryResult<JobRow>;
      try {
        inserted = await this.query<JobRow>('create', insert, [
          id,
          endpoint,
          input,
          owner,
          key,
          inputHash,
          maxAttempts,
          eta,
          this.channel,
        ]);
      } catch (error) {
        // Only the primary key can still conflict (the idempotency index is handled by ON CONFLICT).
        if ((error as { code?: unknown }).code === '23505') {
          throw new InvalidInputError('A job with this id already exists.', [
            { path: ['id'], message: 'Duplicate id', code: 'duplicate' },
          ]);
        }
        throw error;
      }
      if (inserted.rows[0]) return { job: toRecord(inserted.rows[0]), created: true };
      const found = await this.query<JobRow>('create', existing, [endpoint, owner, key]);
      if (found.rows[0]) return { job: toRecord(found.rows[0]), created: false };
      if (round >= 5) throw new UnavailableError('The job could not be created; try again.');
    }
  }

  async get(id: string): Promise<JobRecord | null> {
    if (typeof id !== 'string' || !isStorableString(id)) return null;
    const result = await this.query<JobRow>('get', `SELECT ${COLUMNS} FROM ${this.table} j WHERE j.id = $1`, [
      id,
    ]);
    return result.rows[0] ? toRecord(result.rows[0]) : null;
  }

  async claim(id: string, options: ClaimOptions): Promise<JobRecord | null> {
    const leaseToken = checkText(options.leaseToken, 'leaseToken', 200);
    const leaseMs = checkDuration(options.leaseMs, 'leaseMs');
    if (typeof id !== 'string' || !isStorableString(id)) return null;
    // One compare-and-set statement, committed at once: no transaction stays open while the job runs.
    // A plain UPDATE (not SKIP LOCKED): a claim racing a markDispatched/heartbeat on the same row waits a few
    // milliseconds for it instead of wrongly answering "not claimable"; of concurrent claims, the later ones
    // re-check the row after the first commits and find it running.
    const result = await this.query<JobRow>(
      'claim',
      `UPDATE ${this.table} AS j
       SET status = 'running', attempt = j.attempt + 1, lease_token = $2, lease_expires_at = ${plusMs('$3')},
           started_at = ${NOW}, progress = NULL, dispatched_at = NULL, updated_at = ${TOUCH}
       WHERE j.id = $1
         AND ((j.status = 'queued' AND j.run_at <= ${NOW}) OR (j.status = 'running' AND j.lease_expires_at <= ${NOW}))
       RETURNING ${COLUMNS}, pg_notify($4, j.id)`,
      [id, leaseToken, leaseMs, this.channel],
    );
    return result.rows[0] ? toRecord(result.rows[0]) : null;
  }

  async heartbeat(id: string, leaseToken: string, options: HeartbeatOptions): Promise<HeartbeatResult> {
    const leaseMs = checkDuration(options.leaseMs, 'leaseMs');
    const setProgress = options.progress !== undefined;
    const progress = setProgress ? this.progressParam(options.progress ?? null) : null;
    const setEta = options.estimatedCompletionAt !== undefined;
    const eta = setEta ? dateParam(options.estimatedCompletionAt, 'estimatedCompletionAt') : null;
    if (
      typeof id !== 'string' ||
      !isStorableString(id) ||
      typeof leaseToken !== 'string' ||
      !isStorableString(leaseToken)
    ) {
      return { held: false, cancelRequested: false };
    }
    // updatedAt moves (and subscribers hear of it) only when progress or ETA actually changed; a plain lease
    // renewal is not a change anyone waits for.
    const changed = `(($4::boolean AND j.progress IS DISTINCT FROM $5::jsonb)
      OR ($6::boolean AND j.estimated_completion_at IS DISTINCT FROM date_trunc('milliseconds', $7::timestamptz)))`;
    const result = await this.query<{ cancel_requested: boolean }>(
      'heartbeat',
      `UPDATE ${this.table} AS j
       SET lease_expires_at = ${plusMs('$3')},
           progress = CASE WHEN $4::boolean THEN $5::jsonb ELSE j.progress END,
           estimated_completion_at = CASE WHEN $6::boolean THEN date_trunc('milliseconds', $7::timestamptz)
                                          ELSE j.estimated_completion_at END,
           updated_at = CASE WHEN ${changed} THEN ${TOUCH} ELSE j.updated_at END
       WHERE j.id = $1 AND j.status = 'running' AND j.lease_token = $2
       RETURNING j.cancel_requested, CASE WHEN j.updated_at >= ${NOW} THEN pg_notify($8, j.id) END`,
      [id, leaseToken, leaseMs, setProgress, progress, setEta, eta, this.channel],
    );
    const row = result.rows[0];
    return row
      ? { held: true, cancelRequested: row.cancel_requested }
      : { held: false, cancelRequested: false };
  }

  private progressParam(progress: HeartbeatOptions['progress']): string | null {
    if (progress === null || progress === undefined) return null;
    const fraction = progress.fraction;
    if (typeof fraction !== 'number' || !Number.isFinite(fraction)) {
      throw new InvalidInputError('The progress fraction must be a finite number.', [
        { path: ['progress', 'fraction'], message: 'Expected a finite number' },
      ]);
    }
    if (progress.message !== undefined && typeof progress.message !== 'string') {
      throw new InvalidInputError('The progress message must be a string.', [
        { path: ['progress', 'message'], message: 'Expected a string' },
      ]);
    }
    return this.json(progress, 'progress');
  }

  async settle(id: string, leaseToken: string, outcome: SettleOutcome): Promise<JobRecord | null> {
    let set: string;
    let values: unknown[];
    switch (outcome.status) {
      case 'succeeded':
      case 'failed':
      case 'canceled': {
        const retentionMs = checkDuration(outcome.retentionMs, 'retentionMs');
        const output = outcome.status === 'succeeded' ? this.json(outcome.output, 'output') : null;
        const error = outcome.status === 'succeeded' ? null : this.jsonOrNull(outcome.error, 'error');
        set = `status = $3, output = $4::jsonb, error = $5::jsonb, finished_at = ${NOW}, expires_at = ${plusMs('$6')},
               lease_token = NULL, lease_expires_at = NULL, updated_at = ${TOUCH}`;
        values = [outcome.status, output, error, retentionMs];
        break;
      }
      case 'queued': {
        const delayMs = checkDuration(outcome.delayMs, 'delayMs');
        const error = this.jsonOrNull(outcome.error, 'error');
        set = `status = 'queued', run_at = ${plusMs('$3')}, error = $4::jsonb,
               attempt = CASE WHEN $5::boolean THEN greatest(j.attempt - 1, 0) ELSE j.attempt END,
               lease_token = NULL, lease_expires_at = NULL, dispatched_at = NULL, progress = NULL,
               estimated_completion_at = NULL, updated_at = ${TOUCH}`;
        values = [delayMs, error, outcome.refundAttempt === true];
        break;
      }
      default:
        throw new InvalidInputError('Unknown settle outcome.', [
          { path: ['status'], message: 'Unknown status' },
        ]);
    }
    if (
      typeof id !== 'string' ||
      !isStorableString(id) ||
      typeof leaseToken !== 'string' ||
      !isStorableString(leaseToken)
    ) {
      return null;
    }
    const channelParam = `$${values.length + 3}`;
    const result = await this.query<JobRow>(
      'settle',
      `UPDATE ${this.table} AS j SET ${set}
       WHERE j.id = $1 AND j.status = 'running' AND j.lease_token = $2
       RETURNING ${COLUMNS}, pg_notify(${channelParam}, j.id)`,
      [id, leaseToken, ...values, this.channel],
    );
    return result.rows[0] ? toRecord(result.rows[0]) : null;
  }

  async requestCancel(id: string, options: CancelOptions): Promise<JobRecord | null> {
    const retentionMs = checkDuration(options.retentionMs, 'retentionMs');
    const error = this.json(options.error, 'error');
    if (typeof id !== 'string' || !isStorableString(id)) return null;
    // queued → canceled, running → cancel requested, in one compare-and-set; a job that is final (or already
    // asked to cancel) is not touched and is read as it is.
    const result = await this.query<JobRow>(
      'requestCancel',
      `UPDATE ${this.table} AS j
       SET status = CASE WHEN j.status = 'queued' THEN 'canceled' ELSE j.status END,
           error = CASE WHEN j.status = 'queued' THEN $2::jsonb ELSE j.error END,
           finished_at = CASE WHEN j.status = 'queued' THEN ${NOW} ELSE j.finished_at END,
           expires_at = CASE WHEN j.status = 'queued' THEN ${plusMs('$3')} ELSE j.expires_at END,
           cancel_requested = CASE WHEN j.status = 'running' THEN true ELSE j.cancel_requested END,
           updated_at = ${TOUCH}
       WHERE j.id = $1 AND (j.status = 'queued' OR (j.status = 'running' AND NOT j.cancel_requested))
       RETURNING ${COLUMNS}, pg_notify($4, j.id)`,
      [id, error, retentionMs, this.channel],
    );
    if (result.rows[0]) return toRecord(result.rows[0]);
    return this.get(id);
  }

  async remove(id: string): Promise<JobRecord | null> {
    if (typeof id !== 'string' || !isStorableString(id)) return null;
    const result = await this.query<JobRow>(
      'remove',
      `DELETE FROM ${this.table} AS j WHERE j.id = $1 AND j.status IN ${FINAL}
       RETURNING ${COLUMNS}, pg_notify($2, j.id)`,
      [id, this.channel],
    );
    return result.rows[0] ? toRecord(result.rows[0]) : null;
  }

  async markDispatched(id: string): Promise<void> {
    if (typeof id !== 'string' || !isStorableString(id)) return;
    // Bookkeeping for the sweeper, not a change anyone waits for: no notification, updatedAt unchanged.
    await this.query(
      'markDispatched',
      `UPDATE ${this.table} AS j SET dispatched_at = ${NOW}
       WHERE j.id = $1 AND (j.status = 'queued' OR (j.status = 'running' AND j.lease_expires_at <= ${NOW}))`,
      [id],
    );
  }

  async findDispatchable(query: DispatchQuery): Promise<Array<{ id: string; endpoint: string }>> {
    const grace = checkDuration(query.undispatchedGraceMs, 'undispatchedGraceMs');
    const redispatch =
      query.redispatchAfterMs === null ? null : checkDuration(query.redispatchAfterMs, 'redispatchAfterMs');
    const endpoint = query.endpoint === undefined ? null : checkText(query.endpoint, 'endpoint', 200);
    const limit = checkInteger(query.limit, 'limit', 0, 100_000);
    if (limit === 0) return [];
    const ms = (param: string) => `${param}::float8 * interval '1 millisecond'`;
    // A null $2 (never re-dispatch) makes every "dispatched_at <= now - $2" comparison null, i.e. false.
    const result = await this.query<{ id: string; endpoint: string }>(
      'findDispatchable',
      `SELECT j.id, j.endpoint FROM ${this.table} j
       WHERE ($4::text IS NULL OR j.endpoint = $4)
         AND ((j.status = 'queued' AND j.run_at <= ${NOW}
               AND ((j.dispatched_at IS NULL AND j.run_at <= ${NOW} - ${ms('$1')})
                    OR j.dispatched_at <= ${NOW} - ${ms('$2')}))
           OR (j.status = 'running' AND j.lease_expires_at <= ${NOW}
               AND (j.dispatched_at IS NULL OR j.dispatched_at <= ${NOW} - ${ms('$2')})))
       ORDER BY j.created_at, j.id
       LIMIT $3`,
      [grace, redispatch, limit, endpoint],
    );
    return result.rows.map((row) => ({ id: row.id, endpoint: row.endpoint }));
  }

  async deleteExpired(limit: number): Promise<JobRecord[]> {
    checkInteger(limit, 'limit', 0, 100_000);
    if (limit === 0) return [];
    // One bounded statement: at most `limit` rows, rows locked by someone else are skipped (not waited for),
    // so a large backlog is worked off in short batches that never lock the table for long.
    const result = await this.query<JobRow>(
      'deleteExpired',
      `DELETE FROM ${this.table} AS j
       WHERE j.id IN (SELECT e.id FROM ${this.table} e
                      WHERE e.expires_at <= ${NOW} AND e.status IN ${FINAL}
                      ORDER BY e.expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)
       RETURNING ${COLUMNS}, pg_notify($2, j.id)`,
      [limit, this.channel],
    );
    return result.rows.map(toRecord).sort((a, b) => a.expiresAt!.getTime() - b.expiresAt!.getTime());
  }

  async list(query: ListQuery): Promise<ListPage> {
    const endpoint = checkText(query.endpoint, 'endpoint', 200);
    const owner = checkOptionalText(query.owner, 'owner');
    const limit = checkInteger(query.limit, 'limit', 1, 10_000);
    if (query.status !== undefined && !JOB_STATUSES.includes(query.status)) {
      throw new InvalidInputError(`Unknown status ${JSON.stringify(query.status)}.`, [
        { path: ['status'], message: 'Unknown status' },
      ]);
    }
    const cursor = query.cursor === undefined ? null : decodeCursor(query.cursor);
    const values: unknown[] = [endpoint, limit + 1];
    const where = ['j.endpoint = $1'];
    if (owner === null) {
      where.push('j.owner IS NULL');
    } else {
      values.push(owner);
      where.push(`j.owner = $${values.length}`);
    }
    if (query.status !== undefined) {
      values.push(query.status);
      where.push(`j.status = $${values.length}`);
    }
    if (cursor) {
      values.push(cursor.createdAt.toISOString(), cursor.id);
      where.push(`(j.created_at, j.id) < ($${values.length - 1}::timestamptz, $${values.length})`);
    }
    const result = await this.query<JobRow>(
      'list',
      `SELECT ${COLUMNS} FROM ${this.table} j WHERE ${where.join(' AND ')}
       ORDER BY j.created_at DESC, j.id DESC LIMIT $2`,
      values,
    );
    const jobs = result.rows.slice(0, limit).map(toRecord);
    const last = jobs[jobs.length - 1];
    const nextCursor =
      result.rows.length > limit && last ? encodeCursor({ createdAt: last.createdAt, id: last.id }) : null;
    return { jobs, nextCursor };
  }

  // ----------------------------------------------------------------------------------------- notifications

  async subscribe(listener: (id: string) => void): Promise<Unsubscribe> {
    this.assertOpen();
    if (typeof listener !== 'function') throw new TypeError('subscribe: listener must be a function');
    return this.listener.subscribe(listener);
  }

  /**
   * The backstop while LISTEN is down: every pollIntervalMs, subscribers hear of the jobs whose updatedAt
   * moved since the previous poll (with a margin for transactions that committed late). Deletions are not
   * seen this way; waiters poll on their own as well.
   */
  private startPolling(): void {
    if (this.closed || this.pollTimer) return;
    this.pollSince = null;
    this.pollTimer = setInterval(() => {
      if (this.polling || this.listener.subscriberCount === 0) return;
      this.polling = this.pollChanges().finally(() => {
        this.polling = null;
      });
    }, this.pollIntervalMs);
    this.pollTimer.unref?.();
  }

  private stopPolling(): void {
    const wasPolling = this.pollTimer !== null;
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = null;
    // One last round catches what changed between the last poll and LISTEN being active again.
    if (wasPolling && !this.closed && this.listener.subscriberCount > 0) {
      const previous = this.polling ?? Promise.resolve();
      this.polling = previous
        .then(() => this.pollChanges())
        .finally(() => {
          this.polling = null;
        });
    }
  }

  private async pollChanges(): Promise<void> {
    try {
      const since = this.pollSince;
      const result = await this.pool.query<{ now: number; ids: string[] }>({
        text: `SELECT (extract(epoch from now()) * 1000)::int8 AS now,
                 coalesce((SELECT jsonb_agg(c.id) FROM (
                   SELECT j.id FROM ${this.table} j
                   WHERE j.updated_at > coalesce($1::timestamptz, now() - $2::float8 * interval '1 millisecond')
                                        - interval '2 seconds'
                   ORDER BY j.updated_at DESC LIMIT 1000) c), '[]'::jsonb) AS ids`,
        values: [since === null ? null : new Date(since).toISOString(), this.pollIntervalMs + 5000],
        types: TYPES,
      });
      const row = result.rows[0];
      if (!row) return;
      this.pollSince = row.now;
      for (const id of row.ids) this.listener.deliver(id);
    } catch (error) {
      this.logger.debug('jobs repository: change poll failed', { error: String(error) });
    }
  }
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
