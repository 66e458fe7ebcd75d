/**
 * Every SQL statement of the repository, in one place. Parameters are always bound (`?`), never spliced.
 *
 * Conventions:
 * - Times are INTEGER epoch milliseconds from the repository's clock, passed in as parameters: SQLite has no
 *   clock of its own worth trusting, and the processes sharing a file share the machine's clock.
 * - Payloads (input, output, error, progress) are JSON text, checked and serialized by `toStorableJson` before
 *   they get here, and parsed on the way out: SQLite's JSON functions never touch them.
 * - Booleans are 0/1 (the drivers bind no booleans).
 * - Every write runs in a short `BEGIN IMMEDIATE` transaction that reads the row, decides in JavaScript (as the
 *   memory repository does) and writes it back; the transaction never spans an `await`.
 */

const HEADER = [
  'id',
  'endpoint',
  'status',
  'error',
  'progress',
  'owner',
  'idempotency_key',
  'input_hash',
  'priority',
  'attempt',
  'max_attempts',
  'cancel_requested',
  'lease_token',
  'trace_context',
  'created_at',
  'updated_at',
  'started_at',
  'finished_at',
  'expires_at',
  'estimated_completion_at',
  'run_at',
  'dispatched_at',
  'lease_expires_at',
].join(', ');

/** A final job past its retention is absent for every operation but expiry (parameter: now). */
const LIVE = '(expires_at IS NULL OR expires_at > ?)';
/** An endpoint filter from a JSON array parameter (null: every endpoint), given twice. */
/** Of the endpoints asked for (parameters: JSON array or null, twice) and not left out (a JSON array). */
const ENDPOINTS =
  '(? IS NULL OR endpoint IN (SELECT value FROM json_each(?))) AND endpoint NOT IN (SELECT value FROM json_each(?))';
/** Not held by a dispatch that is publishing it (parameter: now). */
const NOT_HELD = '(dispatching_until IS NULL OR dispatching_until <= ?)';

export const SQL = {
  // id, endpoint, input, owner, key, hash, max attempts, priority, created, updated, run at, limit key, unique key,
  // trace context.
  insert: `INSERT INTO jobs (id, endpoint, status, input, owner, idempotency_key, input_hash, attempt, max_attempts,
             priority, created_at, updated_at, run_at, limit_key, unique_key, trace_context)
           VALUES (?, ?, 'queued', ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?)`,
  // endpoint, unique key, owner, id: the queued or running job (other than id) holding the unique key.
  uniqueHolder: `SELECT ${HEADER} FROM jobs INDEXED BY jobs_unique
                 WHERE endpoint = ? AND unique_key = ? AND ifnull(owner, char(0)) = ifnull(?, char(0))
                   AND unique_key IS NOT NULL AND status IN ('queued', 'running') AND id <> ?`,
  // endpoint, key, owner: the job holding the key, live or expired.
  findByKey: `SELECT ${HEADER} FROM jobs
              WHERE endpoint = ? AND idempotency_key = ? AND ifnull(owner, char(0)) = ifnull(?, char(0))`,
  releaseKey: 'UPDATE jobs SET idempotency_key = NULL WHERE id = ?',
  exists: 'SELECT 1 AS found FROM jobs WHERE id = ?',
  // id, now.
  get: `SELECT ${HEADER}, input, output FROM jobs WHERE id = ? AND ${LIVE}`,
  getHeader: `SELECT ${HEADER} FROM jobs WHERE id = ? AND ${LIVE}`,
  /** The row a transition decides on (no payloads), live or not. */
  row: `SELECT ${HEADER}, cleanup, unique_key FROM jobs WHERE id = ?`,
  // attempt, token, lease expiry, started, ETA, updated, id. A claim also ends a dispatch's hold.
  claim: `UPDATE jobs SET status = 'running', attempt = ?, lease_token = ?, lease_expires_at = ?, started_at = ?,
            progress = NULL, dispatched_at = NULL, dispatch_token = NULL, dispatching_until = NULL,
            estimated_completion_at = ?, updated_at = ?
          WHERE id = ?`,
  // lease expiry, progress, ETA, updated, id.
  heartbeat: `UPDATE jobs SET lease_expires_at = ?, progress = ?, estimated_completion_at = ?, updated_at = ?
              WHERE id = ?`,
  // status, output, error, progress, finished, expires, run at, attempt, dispatched, ETA, cleanup, updated, id.
  settle: `UPDATE jobs SET status = ?, output = ?, error = ?, progress = ?, finished_at = ?, expires_at = ?, run_at = ?,
             attempt = ?, dispatched_at = ?, estimated_completion_at = ?, cleanup = ?, updated_at = ?,
             lease_token = NULL, lease_expires_at = NULL, dispatch_token = NULL, dispatching_until = NULL
           WHERE id = ?`,
  // error, finished, expires, updated, id.
  cancelQueued: `UPDATE jobs SET status = 'canceled', error = ?, finished_at = ?, expires_at = ?, updated_at = ?,
                   dispatch_token = NULL, dispatching_until = NULL
                 WHERE id = ?`,
  // updated, id.
  cancelRunning: 'UPDATE jobs SET cancel_requested = 1, updated_at = ? WHERE id = ?',
  // run at, max attempts, updated, id: failed or canceled → queued, what the last run left cleared.
  retry: `UPDATE jobs SET status = 'queued', run_at = ?, max_attempts = ?, output = NULL, error = NULL, progress = NULL,
            estimated_completion_at = NULL, started_at = NULL, finished_at = NULL, expires_at = NULL,
            cancel_requested = 0, dispatched_at = NULL, lease_token = NULL, lease_expires_at = NULL, cleanup = 0,
            dispatch_token = NULL, dispatching_until = NULL, updated_at = ?
          WHERE id = ?`,
  // header JSON, due at, id: keeps a removed succeeded job's cleanup (its input and output copied in SQL).
  keepCleanup: `INSERT INTO cleanups (id, endpoint, job, input, output, attempt, due_at)
                SELECT id, endpoint, ?, input, output, 0, ? FROM jobs WHERE id = ?
                ON CONFLICT (id) DO NOTHING`,
  delete: 'DELETE FROM jobs WHERE id = ?',
  // now, limit: final jobs past their retention, soonest first.
  expired: `SELECT ${HEADER}, cleanup FROM jobs WHERE expires_at IS NOT NULL AND expires_at <= ?
            ORDER BY expires_at, id LIMIT ?`,
  /**
   * Dispatchable jobs not held by another dispatch: first the queued and due jobs never handed out (by priority,
   * highest first, then runAt, then id; at most `fresh limit` of them), then the running ones with an expired lease
   * not handed out since, and the queued ones handed out at or before the stale time (each kind in its own order,
   * as PostgreSQL's statement does). The first kind is read through jobs_by_priority, in its order: the scan stops
   * after `fresh limit` rows however long the backlog. Parameters: now ×2, endpoints ×3, fresh limit; now,
   * stale ×2, now, endpoints ×3, limit; stale, now ×2, endpoints ×3, limit; limit.
   */
  dispatchable: `SELECT id, endpoint, trace_context FROM (
      SELECT * FROM (SELECT id, endpoint, trace_context, run_at, priority, 0 AS kind FROM jobs INDEXED BY jobs_by_priority
        WHERE status = 'queued' AND dispatched_at IS NULL AND limit_key IS NULL AND run_at <= ? AND ${NOT_HELD}
          AND ${ENDPOINTS} ORDER BY priority DESC, run_at, id LIMIT ?)
      UNION ALL
      SELECT * FROM (SELECT id, endpoint, trace_context, run_at, 0 AS priority, 1 AS kind FROM jobs
        WHERE status = 'running' AND lease_expires_at <= ? AND limit_key IS NULL
          AND (dispatched_at IS NULL OR (? IS NOT NULL AND dispatched_at <= ?))
          AND ${NOT_HELD} AND ${ENDPOINTS} ORDER BY run_at, id LIMIT ?)
      UNION ALL
      SELECT * FROM (SELECT id, endpoint, trace_context, run_at, 0 AS priority, 2 AS kind FROM jobs
        WHERE status = 'queued' AND dispatched_at IS NOT NULL AND dispatched_at <= ? AND run_at <= ?
          AND limit_key IS NULL AND ${NOT_HELD} AND ${ENDPOINTS} ORDER BY dispatched_at, id LIMIT ?)
    ) ORDER BY kind, priority DESC, run_at, id LIMIT ?`,
  // endpoint, bound: how many of the endpoint's jobs wait in the queue, handed out and not claimed (up to bound).
  ahead: `SELECT count(*) AS n FROM (SELECT 1 FROM jobs
            WHERE endpoint = ? AND status = 'queued' AND dispatched_at IS NOT NULL LIMIT ?)`,
  // now, endpoints ×3: when the earliest queued job that is not due yet becomes due.
  nextDue: `SELECT min(run_at) AS next FROM jobs
            WHERE status = 'queued' AND dispatched_at IS NULL AND run_at > ? AND ${ENDPOINTS}`,
  // Flow limits (issue 14). endpoint: the endpoint's keyed jobs that are not final (through jobs_limited).
  limitedJobs: `SELECT id, limit_key, status, priority, run_at, dispatched_at, lease_expires_at, dispatching_until,
                       trace_context
                FROM jobs WHERE endpoint = ? AND limit_key IS NOT NULL AND status IN ('queued', 'running')`,
  // endpoint, before: hand-outs older than every rate interval no longer count.
  forgetDispatches: 'DELETE FROM dispatches WHERE endpoint = ? AND at <= ?',
  // endpoint.
  recentDispatches: 'SELECT limit_key, at FROM dispatches WHERE endpoint = ?',
  // endpoint, key, at.
  recordDispatch: 'INSERT INTO dispatches (endpoint, limit_key, at) VALUES (?, ?, ?)',
  // token, held until, id.
  hold: 'UPDATE jobs SET dispatch_token = ?, dispatching_until = ? WHERE id = ?',
  // dispatched at, id, token, now: only if this dispatch still holds it and it is still dispatchable.
  markDispatched: `UPDATE jobs SET dispatched_at = ?, dispatch_token = NULL, dispatching_until = NULL
                   WHERE id = ? AND dispatch_token = ?
                     AND (status = 'queued' OR (status = 'running' AND lease_expires_at <= ?))`,
  // id, token.
  release: `UPDATE jobs SET dispatch_token = NULL, dispatching_until = NULL WHERE id = ? AND dispatch_token = ?`,
  // endpoints (JSON), now ×2, limit.
  dueCleanups: `SELECT id, job, input, output, attempt FROM cleanups
                WHERE endpoint IN (SELECT value FROM json_each(?)) AND due_at <= ?
                  AND (lease_token IS NULL OR lease_expires_at <= ?)
                ORDER BY due_at, id LIMIT ?`,
  // token, lease expiry, id.
  holdCleanup:
    'UPDATE cleanups SET attempt = attempt + 1, lease_token = ?, lease_expires_at = ? WHERE id = ?',
  // id, token, now.
  // name: a schedule's last handled occurrence.
  readSchedule: 'SELECT last_occurrence FROM schedules WHERE name = ?',
  // name, occurrence: only forward (a change is counted when it moved).
  advanceSchedule: `INSERT INTO schedules (name, last_occurrence) VALUES (?, ?)
    ON CONFLICT (name) DO UPDATE SET last_occurrence = excluded.last_occurrence
      WHERE schedules.last_occurrence < excluded.last_occurrence`,
  finishCleanup: 'DELETE FROM cleanups WHERE id = ? AND lease_token = ? AND lease_expires_at > ?',
  // due at, id, token, now.
  retryCleanup: `UPDATE cleanups SET lease_token = NULL, lease_expires_at = NULL, due_at = ?
                 WHERE id = ? AND lease_token = ? AND lease_expires_at > ?`,
  // origin, id, status, updated, attempt, cancel requested, run at, at.
  logChange: `INSERT INTO changes (origin, id, status, updated_at, attempt, cancel_requested, run_at, at)
              VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  // after seq: the changes logged since, oldest first.
  changesSince: `SELECT seq, origin, id, status, updated_at, attempt, cancel_requested, run_at FROM changes
                 WHERE seq > ? ORDER BY seq LIMIT 1000`,
  changeRange:
    'SELECT min(seq) AS first, (SELECT seq FROM sqlite_sequence WHERE name = ?) AS last FROM changes',
  // before: changes older than this are dropped (a reader that far behind sees a gap and rechecks).
  pruneChanges: 'DELETE FROM changes WHERE at < ?',
  dataVersion: 'PRAGMA data_version',
} as const;

/** `list`: one owner's jobs of one endpoint, newest first, keyset-paginated (the filters vary per query). */
export function listStatement(filters: { status: boolean; cursor: boolean }): string {
  const where = ['endpoint = ?', 'owner IS ?', LIVE];
  if (filters.status) where.push('status = ?');
  if (filters.cursor) where.push('(created_at < ? OR (created_at = ? AND id < ?))');
  return `SELECT ${HEADER} FROM jobs WHERE ${where.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT ?`;
}

/** The endpoint and owner filters of `search` and `stats` (each shape is its own prepared statement). */
export interface SearchFilters {
  /** null: every endpoint; 1: one (`endpoint = ?`); more: a JSON array. */
  endpoints: number | null;
  /** false: every owner; true: `owner IS ?` (null: the jobs without an owner). */
  owner: boolean;
}

function filterConditions(filters: SearchFilters): string[] {
  const where: string[] = [];
  if (filters.endpoints === 1) where.push('endpoint = ?');
  else if (filters.endpoints !== null) where.push('endpoint IN (SELECT value FROM json_each(?))');
  if (filters.owner) where.push('owner IS ?');
  return where;
}

/**
 * `search`: live jobs of any endpoints and owners, newest first, keyset-paginated, through jobs_created (or
 * jobs_list). Parameters: now, the filters (endpoint or endpoints JSON, owner), status, from, before, cursor
 * time ×2 and id, limit, each when its filter is there.
 */
export function searchStatement(
  filters: SearchFilters & { status: boolean; from: boolean; before: boolean; cursor: boolean },
): string {
  const where = [LIVE, ...filterConditions(filters)];
  if (filters.status) where.push('status = ?');
  if (filters.from) where.push('created_at >= ?');
  if (filters.before) where.push('created_at < ?');
  if (filters.cursor) where.push('(created_at < ? OR (created_at = ? AND id < ?))');
  return `SELECT ${HEADER} FROM jobs WHERE ${where.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT ?`;
}

/**
 * `stats`: the live queued (through the partial indexes of undispatched and dispatched jobs) and running jobs per
 * endpoint (parameters: the filters, three times), and the final jobs finished since the window's start, through
 * jobs_finished (parameters: since, now, the filters).
 */
export function statsStatements(filters: SearchFilters): { live: string; window: string } {
  const and = filterConditions(filters)
    .map((condition) => ` AND ${condition}`)
    .join('');
  return {
    live: `SELECT endpoint, status, count(*) AS n FROM (
        SELECT endpoint, status FROM jobs WHERE status = 'queued' AND dispatched_at IS NULL${and}
        UNION ALL SELECT endpoint, status FROM jobs WHERE status = 'queued' AND dispatched_at IS NOT NULL${and}
        UNION ALL SELECT endpoint, status FROM jobs WHERE status = 'running'${and}
      ) GROUP BY endpoint, status`,
    window: `SELECT endpoint, status, started_at, finished_at FROM jobs
      WHERE finished_at >= ? AND status IN ('succeeded', 'failed', 'canceled') AND ${LIVE}${and}`,
  };
}
