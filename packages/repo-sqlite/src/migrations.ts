/**
 * The schema's migrations, oldest first. Append-only: a released migration is never edited or removed, so every
 * file reaches the same schema whatever version it starts from. `PRAGMA user_version` holds the version of the last
 * migration applied to a file; opening a file applies the later ones, in order, in one write transaction.
 * Each migration is a list of statements (some drivers run one statement per call).
 */
export interface Migration {
  version: number;
  description: string;
  statements: readonly string[];
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'jobs, pending cleanups, the change log',
    statements: [
      `CREATE TABLE IF NOT EXISTS jobs (
      id TEXT PRIMARY KEY,
      endpoint TEXT NOT NULL,
      status TEXT NOT NULL,
      input TEXT NOT NULL,
      output TEXT,
      error TEXT,
      progress TEXT,
      owner TEXT,
      idempotency_key TEXT,
      input_hash TEXT,
      attempt INTEGER NOT NULL,
      max_attempts INTEGER NOT NULL,
      cancel_requested INTEGER NOT NULL DEFAULT 0,
      cleanup INTEGER NOT NULL DEFAULT 0,
      lease_token TEXT,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL,
      started_at INTEGER,
      finished_at INTEGER,
      expires_at INTEGER,
      estimated_completion_at INTEGER,
      run_at INTEGER NOT NULL,
      dispatched_at INTEGER,
      lease_expires_at INTEGER,
      dispatch_token TEXT,
      dispatching_until INTEGER
    )`,
      // One live key per (owner, endpoint, key); owner NULL is one owner (U+0000 is never a stored owner).
      `CREATE UNIQUE INDEX IF NOT EXISTS jobs_idempotency
      ON jobs (endpoint, idempotency_key, ifnull(owner, char(0))) WHERE idempotency_key IS NOT NULL`,
      // The dispatcher's three kinds of dispatchable jobs, each through a small partial index.
      `CREATE INDEX IF NOT EXISTS jobs_undispatched ON jobs (run_at, id)
      WHERE status = 'queued' AND dispatched_at IS NULL`,
      `CREATE INDEX IF NOT EXISTS jobs_dispatched ON jobs (dispatched_at, id)
      WHERE status = 'queued' AND dispatched_at IS NOT NULL`,
      `CREATE INDEX IF NOT EXISTS jobs_running ON jobs (lease_expires_at) WHERE status = 'running'`,
      `CREATE INDEX IF NOT EXISTS jobs_expiry ON jobs (expires_at) WHERE expires_at IS NOT NULL`,
      `CREATE INDEX IF NOT EXISTS jobs_list ON jobs (endpoint, owner, created_at DESC, id DESC)`,
      // Worker cleanups still to run for removed or expired succeeded jobs.
      `CREATE TABLE IF NOT EXISTS cleanups (
      id TEXT PRIMARY KEY,
      endpoint TEXT NOT NULL,
      job TEXT NOT NULL,
      input TEXT NOT NULL,
      output TEXT,
      attempt INTEGER NOT NULL DEFAULT 0,
      due_at INTEGER NOT NULL,
      lease_token TEXT,
      lease_expires_at INTEGER
    )`,
      `CREATE INDEX IF NOT EXISTS cleanups_due ON cleanups (endpoint, due_at)`,
      // The change log other processes read (AUTOINCREMENT: a sequence number is never reused after a prune).
      `CREATE TABLE IF NOT EXISTS changes (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      origin TEXT NOT NULL,
      id TEXT NOT NULL,
      status TEXT,
      updated_at INTEGER NOT NULL,
      attempt INTEGER NOT NULL,
      cancel_requested INTEGER NOT NULL,
      run_at INTEGER,
      at INTEGER NOT NULL
    )`,
      `CREATE INDEX IF NOT EXISTS changes_at ON changes (at)`,
    ],
  },
  {
    version: 2,
    description:
      'scheduling: the priority column, dispatch in priority order, jobs waiting in the queue per endpoint, the recurring schedules',
    statements: [
      'ALTER TABLE jobs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0 CHECK (priority BETWEEN -1000 AND 1000)',
      // The dispatcher takes never-dispatched due jobs in (priority desc, run_at, id) order. jobs_undispatched
      // (run_at, id) stays: it finds the next delayed job (min(run_at) past now) without reading the backlog.
      `CREATE INDEX IF NOT EXISTS jobs_by_priority ON jobs (priority DESC, run_at, id)
        WHERE status = 'queued' AND dispatched_at IS NULL`,
      // Jobs handed to the queue and not claimed yet, counted per endpoint to keep the queue short (maxAhead).
      `CREATE INDEX IF NOT EXISTS jobs_ahead ON jobs (endpoint)
        WHERE status = 'queued' AND dispatched_at IS NOT NULL`,
      // Each recurring schedule's last handled occurrence (ms since the epoch).
      'CREATE TABLE IF NOT EXISTS schedules (name TEXT PRIMARY KEY, last_occurrence INTEGER NOT NULL) STRICT',
      // --- Flow limits (issue 14): global and per-key concurrency, fair turns between keys, rate limits. ---
      // A job's key for its endpoint's limits (null: none). Keyed jobs are handed out only by a dispatch that keeps
      // to the endpoint's limits, so the general dispatch index leaves them out.
      'ALTER TABLE jobs ADD COLUMN limit_key TEXT',
      'DROP INDEX IF EXISTS jobs_by_priority',
      `CREATE INDEX IF NOT EXISTS jobs_by_priority ON jobs (priority DESC, run_at, id)
        WHERE status = 'queued' AND dispatched_at IS NULL AND limit_key IS NULL`,
      // An endpoint's keyed jobs that are not final: waiting for their turn, handed out or running.
      `CREATE INDEX IF NOT EXISTS jobs_limited ON jobs (endpoint, limit_key)
        WHERE limit_key IS NOT NULL AND status IN ('queued', 'running')`,
      // Recent hand-outs of keyed jobs, for the rate limits (ms since the epoch).
      `CREATE TABLE IF NOT EXISTS dispatches (endpoint TEXT NOT NULL, limit_key TEXT NOT NULL, at INTEGER NOT NULL)
        STRICT`,
      'CREATE INDEX IF NOT EXISTS dispatches_endpoint ON dispatches (endpoint, at)',
      // --- dashboard (issue 15): search() walks every job newest first from a cursor (jobs_list serves one endpoint
      // and owner); stats() reads the jobs finished in its window (the last hour) by finished_at.
      'CREATE INDEX IF NOT EXISTS jobs_created ON jobs (created_at DESC, id DESC)',
      'CREATE INDEX IF NOT EXISTS jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL',
    ],
  },
  {
    version: 3,
    description: 'unique jobs: at most one queued or running job per (endpoint, owner, unique key)',
    statements: [
      'ALTER TABLE jobs ADD COLUMN unique_key TEXT',
      // Owner NULL is one owner (U+0000 is never a stored owner). A final job leaves the index: its key is free.
      `CREATE UNIQUE INDEX IF NOT EXISTS jobs_unique ON jobs (endpoint, unique_key, ifnull(owner, char(0)))
        WHERE unique_key IS NOT NULL AND status IN ('queued', 'running')`,
    ],
  },
  {
    version: 4,
    description: 'telemetry: the trace context of the span that submitted each job',
    // W3C trace context ({ traceparent, tracestate }) as JSON text, so that the job's dispatch and run join the
    // submit's trace in any process.
    statements: ['ALTER TABLE jobs ADD COLUMN trace_context TEXT'],
  },
];

/** Version of the schema this code creates and understands (`PRAGMA user_version`): the last migration's. */
export const SCHEMA_VERSION: number = MIGRATIONS[MIGRATIONS.length - 1]!.version;
