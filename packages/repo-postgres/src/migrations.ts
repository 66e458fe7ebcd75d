import type pg from 'pg';
import { SchemaVersionError } from './errors.js';

export interface Migration {
  version: number;
  description: string;
  /** Statements for a schema whose quoted name is `s`. Run in one transaction with the others due. */
  up(s: string): string[];
}

/**
 * The schema, as an append-only list: a released migration is never edited, a change is a new version.
 * Times are stored truncated to milliseconds (JavaScript's precision) so that a Date read back compares
 * equal to the stored value, and list cursors built from Dates round-trip exactly.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'jobs table',
    up: (s) => [
      `CREATE TABLE ${s}.jobs (
        id text COLLATE "C" PRIMARY KEY,
        endpoint text COLLATE "C" NOT NULL,
        status text NOT NULL CONSTRAINT jobs_status_check
          CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'canceled')),
        input jsonb NOT NULL,
        output jsonb,
        error jsonb,
        progress jsonb,
        owner text COLLATE "C",
        idempotency_key text COLLATE "C",
        input_hash text,
        attempt integer NOT NULL DEFAULT 0,
        max_attempts integer NOT NULL,
        cancel_requested boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        started_at timestamptz,
        finished_at timestamptz,
        expires_at timestamptz,
        estimated_completion_at timestamptz,
        run_at timestamptz NOT NULL,
        dispatched_at timestamptz,
        lease_token text,
        lease_expires_at timestamptz,
        CONSTRAINT jobs_running_lease_check
          CHECK (status <> 'running' OR (lease_token IS NOT NULL AND lease_expires_at IS NOT NULL))
      ) WITH (fillfactor = 85)`,
      // (owner, endpoint, key) unique, a null owner counting as one owner. The expression form works on every
      // supported PostgreSQL (NULLS NOT DISTINCT needs 15); create() names exactly these expressions.
      `CREATE UNIQUE INDEX jobs_idempotency_idx ON ${s}.jobs
        (endpoint, (coalesce(owner, '')), ((owner IS NULL)), idempotency_key) WHERE idempotency_key IS NOT NULL`,
      // list(): one owner's jobs of one endpoint, newest first, keyset-paginated.
      `CREATE INDEX jobs_list_idx ON ${s}.jobs (endpoint, owner, created_at DESC, id DESC)`,
      // Partial indexes stay small: only live jobs are in them.
      `CREATE INDEX jobs_queued_idx ON ${s}.jobs (run_at) WHERE status = 'queued'`,
      `CREATE INDEX jobs_running_idx ON ${s}.jobs (lease_expires_at) WHERE status = 'running'`,
      `CREATE INDEX jobs_expires_idx ON ${s}.jobs (expires_at) WHERE expires_at IS NOT NULL`,
      // Polling backstop while the LISTEN connection is down: "what changed since t".
      `CREATE INDEX jobs_updated_idx ON ${s}.jobs (updated_at)`,
    ],
  },
  {
    version: 2,
    description: 'batched lifecycle: priorities, dispatch and rescue indexes, durable cleanups',
    up: (s) => [
      `ALTER TABLE ${s}.jobs ADD COLUMN priority smallint NOT NULL DEFAULT 0
        CONSTRAINT jobs_priority_check CHECK (priority BETWEEN -1000 AND 1000)`,
      // The dispatcher takes never-dispatched due jobs in (priority desc, run_at, id) order; a backlog of dispatched
      // jobs waiting in the queue is not in this index, so it stays small however long the queue is.
      `CREATE INDEX jobs_undispatched_idx ON ${s}.jobs (priority DESC, run_at, id)
        WHERE status = 'queued' AND dispatched_at IS NULL`,
      // When the next delayed job is due (the index above cannot say: it is ordered by priority first).
      `CREATE INDEX jobs_delayed_idx ON ${s}.jobs (run_at) WHERE status = 'queued' AND dispatched_at IS NULL`,
      // Jobs handed to the queue and not claimed yet: re-dispatched, oldest first, when their message may be
      // lost; and counted per endpoint, to keep an endpoint's queue short (dispatchAhead).
      `CREATE INDEX jobs_dispatched_idx ON ${s}.jobs (dispatched_at, id)
        WHERE status = 'queued' AND dispatched_at IS NOT NULL`,
      `CREATE INDEX jobs_ahead_idx ON ${s}.jobs (endpoint) WHERE status = 'queued' AND dispatched_at IS NOT NULL`,
      `DROP INDEX ${s}.jobs_queued_idx`,
      // Running jobs (few: bounded by the workers' concurrency), without the lease's expiry in the index, so a
      // lease renewal changes no indexed column and stays a HOT update.
      `DROP INDEX ${s}.jobs_running_idx`,
      `CREATE INDEX jobs_running_idx ON ${s}.jobs (id) WHERE status = 'running'`,
      // Waiters no longer poll "what changed since t" (they re-check what they watch after a notification gap),
      // and this index made every progress update a non-HOT update.
      `DROP INDEX ${s}.jobs_updated_idx`,
      `ALTER TABLE ${s}.jobs ADD COLUMN cleanup boolean NOT NULL DEFAULT false`,
      `CREATE TABLE ${s}.cleanups (
        id text COLLATE "C" PRIMARY KEY,
        endpoint text COLLATE "C" NOT NULL,
        job jsonb NOT NULL,
        input jsonb NOT NULL,
        output jsonb,
        attempt integer NOT NULL DEFAULT 0,
        due_at timestamptz NOT NULL,
        lease_token text,
        lease_expires_at timestamptz
      )`,
      `CREATE INDEX cleanups_due_idx ON ${s}.cleanups (endpoint, due_at)`,
      // Each recurring schedule's last handled occurrence.
      `CREATE TABLE ${s}.schedules (
        name text COLLATE "C" PRIMARY KEY,
        last_occurrence timestamptz NOT NULL
      )`,
      // --- Flow limits (issue 14): global and per-key concurrency, fair turns between keys, rate limits. ---
      // A job's key for its endpoint's limits, computed at submit; null: not subject to limits. Keyed jobs are
      // handed out only by a dispatch that keeps to their endpoint's limits, so the general dispatch index leaves
      // them out (a backlog of keyed jobs costs the other endpoints' dispatches nothing).
      `ALTER TABLE ${s}.jobs ADD COLUMN limit_key text COLLATE "C"`,
      `DROP INDEX ${s}.jobs_undispatched_idx`,
      `CREATE INDEX jobs_undispatched_idx ON ${s}.jobs (priority DESC, run_at, id)
        WHERE status = 'queued' AND dispatched_at IS NULL AND limit_key IS NULL`,
      // An endpoint's keyed jobs waiting for their turn, per key in dispatch order.
      `CREATE INDEX jobs_limited_idx ON ${s}.jobs (endpoint, limit_key, priority DESC, run_at, id)
        WHERE status = 'queued' AND dispatched_at IS NULL AND limit_key IS NOT NULL`,
      // An endpoint's keyed jobs handed out and not final: what counts against its concurrency limits. Neither
      // column changes with a lease renewal, which stays a HOT update.
      `CREATE INDEX jobs_inflight_idx ON ${s}.jobs (endpoint, limit_key)
        WHERE limit_key IS NOT NULL AND (status = 'running' OR (status = 'queued' AND dispatched_at IS NOT NULL))`,
      // Recent hand-outs of keyed jobs, for the rate limits; older than every rate interval, they are deleted.
      `CREATE TABLE ${s}.dispatches (
        endpoint text COLLATE "C" NOT NULL,
        limit_key text COLLATE "C" NOT NULL,
        at timestamptz NOT NULL
      )`,
      `CREATE INDEX dispatches_endpoint_idx ON ${s}.dispatches (endpoint, at)`,
      // --- dashboard (issue 15): search() walks every job newest first from a cursor (jobs_list_idx serves one
      // endpoint and owner); stats() reads the jobs finished in its window (the last hour) by finished_at.
      `CREATE INDEX jobs_created_idx ON ${s}.jobs (created_at DESC, id DESC)`,
      `CREATE INDEX jobs_finished_idx ON ${s}.jobs (finished_at) WHERE finished_at IS NOT NULL`,
    ],
  },
  {
    version: 3,
    description: 'unique jobs: at most one queued or running job per (endpoint, owner, unique key)',
    up: (s) => [
      `ALTER TABLE ${s}.jobs ADD COLUMN unique_key text COLLATE "C"`,
      // (endpoint, owner, unique key) of the live jobs, a null owner counting as one owner (the expressions of
      // jobs_idempotency_idx). A job leaves the index when it is final (or deleted): its key is free again. The
      // create statement's ON CONFLICT DO NOTHING resolves a conflict to the job holding the key.
      `CREATE UNIQUE INDEX jobs_unique_idx ON ${s}.jobs
        (endpoint, (coalesce(owner, '')), ((owner IS NULL)), unique_key)
        WHERE unique_key IS NOT NULL AND status IN ('queued', 'running')`,
    ],
  },
  {
    version: 4,
    description: 'telemetry: the trace context of the span that submitted each job',
    // W3C trace context ({ traceparent, tracestate }), so that the job's dispatch and run join the submit's trace
    // in any process. Nullable without a default: adding it rewrites no row.
    up: (s) => [`ALTER TABLE ${s}.jobs ADD COLUMN trace_context jsonb`],
  },
];

export const LATEST_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** First key of the advisory lock (two-int form): "jobs" in ASCII; the second is hashtext(schema name). */
export const MIGRATION_LOCK_NAMESPACE = 0x6a6f6273;

export interface MigrationResult {
  /** Version before this run (0: the schema was empty). */
  from: number;
  to: number;
  applied: number[];
}

/**
 * Brings the schema to LATEST_VERSION. The whole run is one transaction holding a transaction-scoped
 * advisory lock, so concurrent starts serialize: the first applies the migrations, the others then find
 * them applied and do nothing. Refuses (SchemaVersionError) a schema newer than this code.
 */
export async function runMigrations(
  client: pg.ClientBase,
  schemaName: string,
  s: string,
): Promise<MigrationResult> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [
      MIGRATION_LOCK_NAMESPACE,
      schemaName,
    ]);
    // CREATE ... IF NOT EXISTS needs the CREATE privilege even when the object exists: look first, so that a
    // role that may only use a schema migrated by an administrator can still start.
    const exists = await client.query<{ has_schema: boolean; has_table: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS has_schema,
              to_regclass($2) IS NOT NULL AS has_table`,
      [schemaName, `${s}.schema_migrations`],
    );
    if (!exists.rows[0]?.has_schema) await client.query(`CREATE SCHEMA ${s}`);
    if (!exists.rows[0]?.has_table) {
      await client.query(
        `CREATE TABLE ${s}.schema_migrations (
          version integer PRIMARY KEY,
          description text NOT NULL,
          applied_at timestamptz NOT NULL DEFAULT now()
        )`,
      );
    }
    const from = await currentVersion(client, s);
    if (from > LATEST_VERSION) throw new SchemaVersionError(schemaName, from, LATEST_VERSION);
    const applied: number[] = [];
    for (const migration of MIGRATIONS) {
      if (migration.version <= from) continue;
      for (const statement of migration.up(s)) await client.query(statement);
      await client.query(`INSERT INTO ${s}.schema_migrations (version, description) VALUES ($1, $2)`, [
        migration.version,
        migration.description,
      ]);
      applied.push(migration.version);
    }
    await client.query('COMMIT');
    return { from, to: Math.max(from, LATEST_VERSION), applied };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}

export async function currentVersion(client: pg.ClientBase | pg.Pool, s: string): Promise<number> {
  const result = await client.query<{ version: number | null }>(
    `SELECT max(version) AS version FROM ${s}.schema_migrations`,
  );
  return result.rows[0]?.version ?? 0;
}

/**
 * For `migrate: false`: checks without changing anything that the schema is exactly at LATEST_VERSION.
 * Older (or missing) → run the migrations first; newer → upgrade this node.
 */
export async function verifySchema(pool: pg.Pool, schemaName: string, s: string): Promise<void> {
  const table = await pool.query<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', [
    `${s}.schema_migrations`,
  ]);
  const version = table.rows[0]?.exists ? await currentVersion(pool, s) : 0;
  if (version > LATEST_VERSION) throw new SchemaVersionError(schemaName, version, LATEST_VERSION);
  if (version < LATEST_VERSION) {
    throw new SchemaVersionError(
      schemaName,
      version,
      LATEST_VERSION,
      `The jobs schema "${schemaName}" is at version ${version}, this code needs version ${LATEST_VERSION}. ` +
        'Run the migrations (createPostgresRepository({ migrate: true }) or repository.migrate()) first.',
    );
  }
}
