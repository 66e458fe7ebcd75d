/**
 * Every statement of the repository, named and in one place (as graphile-worker's `src/sql/` and pg-boss's
 * plans). Built once per repository for its quoted schema; parameters are always bound, never spliced.
 *
 * Conventions:
 * - Times are read as epoch milliseconds (independent of the session's DateStyle and TimeZone) and written as
 *   the database clock truncated to milliseconds, what a JavaScript Date holds, so values round-trip exactly.
 * - Batch statements take one array per field (`unnest`) and lock their rows in id order first, so two batches
 *   touching the same jobs never deadlock.
 * - Every change of a job sends `pg_notify` in the same statement with the job's new state (see `notice`);
 *   the notification is delivered when the transaction commits.
 * - Reads that need no input or output use the header projection (no jsonb payloads are read).
 */

/** The database clock at millisecond precision. */
const NOW = `date_trunc('milliseconds', now())`;
/** updated_at of a changed row: strictly increasing per job, so two changes in one millisecond differ. */
const TOUCH = `greatest(${NOW}, j.updated_at + interval '1 millisecond')`;
const plusMs = (value: string) => `date_trunc('milliseconds', now() + ${value} * interval '1 millisecond')`;
const epochMs = (column: string) => `(extract(epoch from ${column}) * 1000)::int8`;
const FINAL = `('succeeded', 'failed', 'canceled')`;
/** A final job past its retention is absent for every operation but expiry. */
const LIVE = `(j.expires_at IS NULL OR j.expires_at > now())`;

const TIME_COLUMNS = [
  'created_at',
  'updated_at',
  'started_at',
  'finished_at',
  'expires_at',
  'estimated_completion_at',
  'run_at',
  'dispatched_at',
  'lease_expires_at',
];

/** Every column but input and output, times as epoch milliseconds, for a row aliased `j`. */
export const HEADER_COLUMNS = [
  'j.id',
  'j.endpoint',
  'j.status',
  'j.error',
  'j.progress',
  'j.owner',
  'j.idempotency_key',
  'j.input_hash',
  'j.priority',
  'j.attempt',
  'j.max_attempts',
  'j.cancel_requested',
  'j.lease_token',
  'j.trace_context',
  ...TIME_COLUMNS.map((column) => `${epochMs(`j.${column}`)} AS ${column}`),
].join(', ');

const ALL_COLUMNS = `${HEADER_COLUMNS}, j.input, j.output`;

/**
 * The change notification of a row aliased `j`: `status|attempt|cancel|updatedAt|runAt|id` (status empty for a
 * removal, runAt only for a queued job). The id comes last, so it may contain `|`.
 */
function notice(channel: string, removed = false): string {
  const status = removed ? `''` : 'j.status';
  const runAt = removed
    ? `''`
    : `CASE WHEN j.status = 'queued' THEN ${epochMs('j.run_at')}::text ELSE '' END`;
  const updatedAt = removed ? epochMs('now()') : epochMs('j.updated_at');
  return `pg_notify(${channel}, ${status} || '|' || j.attempt || '|' || j.cancel_requested::int || '|' || ${updatedAt} || '|' || ${runAt} || '|' || j.id)`;
}

/** The JSON header a pending cleanup keeps of its job, for the worker's `cleanup({ job })`. */
const CLEANUP_HEADER = `jsonb_build_object(${[
  `'id', j.id`,
  `'endpoint', j.endpoint`,
  `'status', j.status`,
  `'error', j.error`,
  `'progress', j.progress`,
  `'owner', j.owner`,
  `'idempotencyKey', j.idempotency_key`,
  `'inputHash', j.input_hash`,
  `'priority', j.priority`,
  `'attempt', j.attempt`,
  `'maxAttempts', j.max_attempts`,
  `'cancelRequested', j.cancel_requested`,
  `'traceContext', j.trace_context`,
  ...TIME_COLUMNS.map((column) => `'${column}', ${epochMs(`j.${column}`)}`),
].join(', ')})`;

export interface Statements {
  insert: string;
  findByKeys: string;
  findByUniqueKeys: string;
  uniqueHolderOf: string;
  releaseExpiredKeys: string;
  exists: string;
  get: string;
  getHeader: string;
  claim: string;
  heartbeat: string;
  settle: string;
  requestCancel: string;
  retry: string;
  remove: string;
  dispatchTake: string;
  dispatchMark: string;
  limitedLock: string;
  limitedCandidates: string;
  limitedInflight: string;
  limitedForget: string;
  limitedRecent: string;
  limitedHold: string;
  limitedRecord: string;
  limitedNextDue: string;
  deleteExpired: string;
  claimCleanups: string;
  finishCleanup: string;
  retryCleanup: string;
  readSchedules: string;
  advanceSchedule: string;
}

/** The statements for the jobs of schema `s` (quoted); `$channel` placeholders are the notification channel. */
export function buildStatements(s: string): Statements {
  const jobs = `${s}.jobs`;
  const cleanups = `${s}.cleanups`;
  /** Locks the jobs of the batch's ids (parameter $1, text[]) in id order. */
  const lockBatch = `locked AS (SELECT l.id FROM ${jobs} l WHERE l.id = ANY($1::text[]) ORDER BY l.id FOR UPDATE)`;
  /** Removes the given rows (a CTE `gone` of deleted rows), keeping their pending cleanups, announcing them. */
  const keepCleanups = (channel: string) => `
    pending AS (
      INSERT INTO ${cleanups} AS c (id, endpoint, job, input, output, attempt, due_at)
      SELECT j.id, j.endpoint, ${CLEANUP_HEADER}, j.input, j.output, 0, ${NOW}
      FROM gone j WHERE j.cleanup AND j.status = 'succeeded'
      ON CONFLICT (id) DO NOTHING
    )
    SELECT ${HEADER_COLUMNS}, ${notice(channel, true)} FROM gone j`;

  return {
    // $1 ids, $2 endpoints, $3 inputs (JSON text), $4 owners, $5 keys, $6 hashes, $7 max attempts, $8 run at
    // (ISO, null: now + delay), $9 delays (ms), $10 priorities, $11 channel, $12 limit keys, $13 unique keys,
    // $14 trace contexts (JSON text or null).
    // A row whose id, idempotency key or unique key is taken is not inserted (create.ts finds out which).
    insert: `
      INSERT INTO ${jobs} AS j (id, endpoint, status, input, owner, idempotency_key, input_hash, attempt,
        max_attempts, priority, created_at, updated_at, run_at, limit_key, unique_key, trace_context)
      SELECT r.id, r.endpoint, 'queued', r.input::jsonb, r.owner, r.key, r.hash, 0, r.max_attempts, r.priority,
        ${NOW}, ${NOW}, coalesce(date_trunc('milliseconds', r.run_at), ${plusMs('coalesce(r.delay, 0)')}), r.limit_key,
        r.unique_key, r.trace_context::jsonb
      FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[],
                  $8::timestamptz[], $9::float8[], $10::int[], $12::text[], $13::text[], $14::text[])
        WITH ORDINALITY AS r(id, endpoint, input, owner, key, hash, max_attempts, run_at, delay, priority, limit_key,
                             unique_key, trace_context, position)
      ORDER BY r.position
      ON CONFLICT DO NOTHING
      RETURNING ${HEADER_COLUMNS}, ${notice('$11')}`,
    // $1 endpoints, $2 owners, $3 keys: the jobs holding these idempotency keys, live or expired.
    findByKeys: `
      SELECT ${HEADER_COLUMNS}, NOT ${LIVE} AS expired
      FROM unnest($1::text[], $2::text[], $3::text[]) AS k(endpoint, owner, key)
      JOIN ${jobs} j ON j.endpoint = k.endpoint AND coalesce(j.owner, '') = coalesce(k.owner, '')
        AND (j.owner IS NULL) = (k.owner IS NULL) AND j.idempotency_key = k.key`,
    // $1 endpoints, $2 owners, $3 unique keys: the queued or running jobs holding these unique keys.
    findByUniqueKeys: `
      SELECT ${HEADER_COLUMNS}, j.unique_key
      FROM unnest($1::text[], $2::text[], $3::text[]) AS k(endpoint, owner, key)
      JOIN ${jobs} j ON j.endpoint = k.endpoint AND coalesce(j.owner, '') = coalesce(k.owner, '')
        AND (j.owner IS NULL) = (k.owner IS NULL) AND j.unique_key = k.key AND j.status IN ('queued', 'running')`,
    // $1 id: the queued or running job, other than this one, that holds this job's unique key.
    uniqueHolderOf: `
      SELECT h.id FROM ${jobs} j
      JOIN ${jobs} h ON h.endpoint = j.endpoint AND coalesce(h.owner, '') = coalesce(j.owner, '')
        AND (h.owner IS NULL) = (j.owner IS NULL) AND h.unique_key = j.unique_key AND h.status IN ('queued', 'running')
      WHERE j.id = $1 AND j.unique_key IS NOT NULL AND h.id <> j.id
      LIMIT 1`,
    // $1 ids: an expired job's idempotency key is free again (the job itself waits for the sweeper).
    releaseExpiredKeys: `
      UPDATE ${jobs} AS j SET idempotency_key = NULL
      WHERE j.id = ANY($1::text[]) AND NOT ${LIVE}`,
    exists: `SELECT j.id FROM ${jobs} j WHERE j.id = ANY($1::text[])`,
    get: `SELECT ${ALL_COLUMNS} FROM ${jobs} j WHERE j.id = $1 AND ${LIVE}`,
    getHeader: `SELECT ${HEADER_COLUMNS} FROM ${jobs} j WHERE j.id = $1 AND ${LIVE}`,
    // $1 ids, $2 tokens, $3 estimated durations (ms, null: unchanged), $4 lease ms, $5 channel.
    claim: `
      WITH ${lockBatch}
      UPDATE ${jobs} AS j
      SET status = 'running', attempt = j.attempt + 1, lease_token = r.token, lease_expires_at = ${plusMs('$4::float8')},
          started_at = ${NOW}, progress = NULL, dispatched_at = NULL, updated_at = ${TOUCH},
          estimated_completion_at = CASE WHEN r.estimate IS NULL THEN j.estimated_completion_at
                                         ELSE ${plusMs('r.estimate')} END
      FROM locked, unnest($1::text[], $2::text[], $3::float8[]) AS r(id, token, estimate)
      WHERE j.id = locked.id AND j.id = r.id
        AND ((j.status = 'queued' AND j.run_at <= ${NOW}) OR (j.status = 'running' AND j.lease_expires_at <= ${NOW}))
      RETURNING ${ALL_COLUMNS}, ${notice('$5')}`,
    // $1 ids, $2 tokens, $3 set progress, $4 progress, $5 set ETA, $6 remaining ms, $7 lease ms, $8 channel.
    // updatedAt moves (and subscribers hear of it) only when progress or the ETA actually changed.
    heartbeat: `
      WITH ${lockBatch}
      UPDATE ${jobs} AS j
      SET lease_expires_at = ${plusMs('$7::float8')},
          progress = CASE WHEN r.set_progress THEN r.progress::jsonb ELSE j.progress END,
          estimated_completion_at = CASE WHEN NOT r.set_eta THEN j.estimated_completion_at
                                         WHEN r.remaining IS NULL THEN NULL ELSE ${plusMs('r.remaining')} END,
          updated_at = CASE
            WHEN (r.set_progress AND j.progress IS DISTINCT FROM r.progress::jsonb)
              OR (r.set_eta AND j.estimated_completion_at IS DISTINCT FROM
                  CASE WHEN r.remaining IS NULL THEN NULL ELSE ${plusMs('r.remaining')} END)
            THEN ${TOUCH} ELSE j.updated_at END
      FROM locked, unnest($1::text[], $2::text[], $3::bool[], $4::text[], $5::bool[], $6::float8[])
        AS r(id, token, set_progress, progress, set_eta, remaining)
      WHERE j.id = locked.id AND j.id = r.id AND j.status = 'running' AND j.lease_token = r.token
      RETURNING j.id, j.cancel_requested, CASE WHEN j.updated_at >= ${NOW} THEN ${notice('$8')} END`,
    // $1 ids, $2 tokens, $3 statuses, $4 outputs, $5 errors, $6 retention ms, $7 delay ms, $8 refund,
    // $9 set progress, $10 progress, $11 cleanup, $12 set ETA, $13 remaining ms, $14 channel.
    settle: `
      WITH ${lockBatch}
      UPDATE ${jobs} AS j
      SET status = r.status,
          output = CASE WHEN r.status = 'succeeded' THEN r.output::jsonb ELSE NULL END,
          error = r.error::jsonb,
          progress = CASE WHEN r.status = 'queued' THEN NULL WHEN r.set_progress THEN r.progress::jsonb ELSE j.progress END,
          finished_at = CASE WHEN r.status = 'queued' THEN j.finished_at ELSE ${NOW} END,
          expires_at = CASE WHEN r.status = 'queued' THEN j.expires_at ELSE ${plusMs('r.retention')} END,
          run_at = CASE WHEN r.status = 'queued' THEN ${plusMs('r.delay')} ELSE j.run_at END,
          attempt = CASE WHEN r.status = 'queued' AND r.refund THEN greatest(j.attempt - 1, 0) ELSE j.attempt END,
          dispatched_at = CASE WHEN r.status = 'queued' THEN NULL ELSE j.dispatched_at END,
          estimated_completion_at = CASE WHEN r.status = 'queued' THEN NULL
                                         WHEN NOT r.set_eta THEN j.estimated_completion_at
                                         WHEN r.remaining IS NULL THEN NULL ELSE ${plusMs('r.remaining')} END,
          cleanup = r.cleanup, lease_token = NULL, lease_expires_at = NULL, updated_at = ${TOUCH}
      FROM locked, unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::float8[], $7::float8[],
                          $8::bool[], $9::bool[], $10::text[], $11::bool[], $12::bool[], $13::float8[])
        AS r(id, token, status, output, error, retention, delay, refund, set_progress, progress, cleanup, set_eta, remaining)
      WHERE j.id = locked.id AND j.id = r.id AND j.status = 'running' AND j.lease_token = r.token
      RETURNING j.id, ${notice('$14')}`,
    // $1 id, $2 error, $3 retention ms, $4 channel. queued → canceled, running → cancel requested, in one
    // compare-and-set; a job that is final (or already asked to cancel) is not touched.
    requestCancel: `
      UPDATE ${jobs} AS j
      SET status = CASE WHEN j.status = 'queued' THEN 'canceled' ELSE j.status END,
          error = CASE WHEN j.status = 'queued' THEN $2::jsonb ELSE j.error END,
          finished_at = CASE WHEN j.status = 'queued' THEN ${NOW} ELSE j.finished_at END,
          expires_at = CASE WHEN j.status = 'queued' THEN ${plusMs('$3::float8')} ELSE j.expires_at END,
          cancel_requested = CASE WHEN j.status = 'running' THEN true ELSE j.cancel_requested END,
          updated_at = ${TOUCH}
      WHERE j.id = $1 AND (j.status = 'queued' OR (j.status = 'running' AND NOT j.cancel_requested))
      RETURNING ${HEADER_COLUMNS}, ${notice('$4')}`,
    // $1 id, $2 attempts granted, $3 channel. failed or canceled → queued and due now, what the last run left
    // cleared, in one compare-and-set (of concurrent retries, one matches). Not while another live job holds its
    // unique key (one committed meanwhile is caught by jobs_unique_idx: 23505, see transitions.ts).
    retry: `
      UPDATE ${jobs} AS j
      SET status = 'queued', run_at = ${NOW}, max_attempts = j.attempt + $2::int, output = NULL, error = NULL,
          progress = NULL, estimated_completion_at = NULL, started_at = NULL, finished_at = NULL, expires_at = NULL,
          cancel_requested = false, dispatched_at = NULL, lease_token = NULL, lease_expires_at = NULL,
          cleanup = false, updated_at = ${TOUCH}
      WHERE j.id = $1 AND j.status IN ('failed', 'canceled') AND ${LIVE}
        AND (j.unique_key IS NULL OR NOT EXISTS (
          SELECT 1 FROM ${jobs} h
          WHERE h.endpoint = j.endpoint AND coalesce(h.owner, '') = coalesce(j.owner, '')
            AND (h.owner IS NULL) = (j.owner IS NULL) AND h.unique_key = j.unique_key
            AND h.status IN ('queued', 'running') AND h.id <> j.id))
      RETURNING ${HEADER_COLUMNS}, ${notice('$3')}`,
    // $1 id, $2 channel.
    remove: `
      WITH gone AS (
        DELETE FROM ${jobs} AS j WHERE j.id = $1 AND j.status IN ${FINAL} AND ${LIVE} RETURNING j.*
      ), ${keepCleanups('$2')}`,
    // $1 limit, $2 endpoints (null: all), $3 re-dispatch after ms (null: never), $4 max ahead (null: no bound;
    // with one endpoint in $2), $5 endpoints left out (an array, maybe empty). Each kind of dispatchable job is taken through its own index, in its own order,
    // skipping jobs another dispatch holds; the caller holds them in its transaction while it publishes. Also
    // says when the next delayed job is due.
    dispatchTake: `
      WITH ahead AS (
        SELECT count(*) AS n FROM (
          SELECT 1 FROM ${jobs} a
          WHERE $4::int IS NOT NULL AND a.endpoint = ($2::text[])[1] AND a.status = 'queued' AND a.dispatched_at IS NOT NULL
          LIMIT $4::int) w
      ), fresh AS (
        SELECT j.id, j.endpoint, j.run_at, j.priority, j.trace_context FROM ${jobs} j
        WHERE j.status = 'queued' AND j.dispatched_at IS NULL AND j.limit_key IS NULL AND j.run_at <= now()
          AND ($2::text[] IS NULL OR j.endpoint = ANY($2::text[])) AND NOT (j.endpoint = ANY($5::text[]))
        ORDER BY j.priority DESC, j.run_at, j.id
        LIMIT (SELECT least($1::int, greatest(0, coalesce($4::int, $1::int) - n)) FROM ahead) FOR UPDATE SKIP LOCKED
      ), orphaned AS (
        SELECT j.id, j.endpoint, j.run_at, j.trace_context FROM ${jobs} j
        WHERE j.status = 'running' AND j.lease_expires_at <= now() AND j.limit_key IS NULL
          AND (j.dispatched_at IS NULL OR j.dispatched_at <= now() - $3::float8 * interval '1 millisecond')
          AND ($2::text[] IS NULL OR j.endpoint = ANY($2::text[])) AND NOT (j.endpoint = ANY($5::text[]))
        ORDER BY j.run_at, j.id LIMIT $1::int FOR UPDATE SKIP LOCKED
      ), stale AS (
        SELECT j.id, j.endpoint, j.run_at, j.trace_context FROM ${jobs} j
        WHERE $3::float8 IS NOT NULL AND j.status = 'queued' AND j.dispatched_at IS NOT NULL
          AND j.dispatched_at <= now() - $3::float8 * interval '1 millisecond' AND j.run_at <= now()
          AND j.limit_key IS NULL AND ($2::text[] IS NULL OR j.endpoint = ANY($2::text[])) AND NOT (j.endpoint = ANY($5::text[]))
        ORDER BY j.dispatched_at, j.id LIMIT $1::int FOR UPDATE SKIP LOCKED
      ), taken AS (
        SELECT * FROM (
          SELECT id, endpoint, run_at, priority, trace_context, 0 AS kind FROM fresh
          UNION ALL SELECT id, endpoint, run_at, 0, trace_context, 1 FROM orphaned
          UNION ALL SELECT id, endpoint, run_at, 0, trace_context, 2 FROM stale) t
        ORDER BY kind, priority DESC, run_at, id LIMIT $1::int
      )
      SELECT t.id, t.endpoint, t.trace_context, n.next_due FROM (
        SELECT (extract(epoch from (min(j.run_at) - now())) * 1000)::float8 AS next_due FROM ${jobs} j
        WHERE j.status = 'queued' AND j.dispatched_at IS NULL AND j.run_at > now()
          AND ($2::text[] IS NULL OR j.endpoint = ANY($2::text[])) AND NOT (j.endpoint = ANY($5::text[]))
      ) n LEFT JOIN taken t ON true`,
    // Flow limits (issue 14). A dispatch of one endpoint's keyed jobs first takes the endpoint's advisory lock
    // ($1 lock namespace, $2 schema.endpoint), so dispatches of that endpoint in every process run one at a time
    // and each counts what the previous ones handed out.
    limitedLock: `SELECT pg_advisory_xact_lock($1::int, hashtext($2::text))`,
    // $1 endpoint, $2 at most this many per key, $3 re-dispatch after ms (null: never). Due keyed jobs never
    // handed out (each key's first $2, through jobs_limited_idx), then those already counted whose message or
    // worker may be lost; not the rows another transaction holds.
    limitedCandidates: `
      SELECT c.id, c.limit_key, c.priority, ${epochMs('c.run_at')} AS run_at, false AS holds_slot FROM (
        SELECT j.id, j.limit_key, j.priority, j.run_at,
               row_number() OVER (PARTITION BY j.limit_key ORDER BY j.priority DESC, j.run_at, j.id) AS rn
        FROM ${jobs} j
        WHERE j.endpoint = $1 AND j.status = 'queued' AND j.dispatched_at IS NULL AND j.limit_key IS NOT NULL
          AND j.run_at <= now()) c
      WHERE c.rn <= $2::int
      UNION ALL
      SELECT j.id, j.limit_key, j.priority, ${epochMs('j.run_at')}, true FROM ${jobs} j
      WHERE j.endpoint = $1 AND j.limit_key IS NOT NULL AND (
        (j.status = 'running' AND j.lease_expires_at <= now()
          AND (j.dispatched_at IS NULL OR j.dispatched_at <= now() - $3::float8 * interval '1 millisecond'))
        OR ($3::float8 IS NOT NULL AND j.status = 'queued' AND j.dispatched_at IS NOT NULL AND j.run_at <= now()
          AND j.dispatched_at <= now() - $3::float8 * interval '1 millisecond'))`,
    // $1 endpoint: per key, its jobs handed out and not final (through jobs_inflight_idx), and how many of them
    // wait in the queue unclaimed.
    limitedInflight: `
      SELECT j.limit_key, count(*)::int AS n, count(*) FILTER (WHERE j.status = 'queued')::int AS ahead
      FROM ${jobs} j
      WHERE j.endpoint = $1 AND j.limit_key IS NOT NULL
        AND (j.status = 'running' OR (j.status = 'queued' AND j.dispatched_at IS NOT NULL))
      GROUP BY j.limit_key`,
    // $1 endpoint, $2 window ms: hand-outs older than every rate interval no longer count.
    limitedForget: `DELETE FROM ${s}.dispatches d WHERE d.endpoint = $1 AND d.at <= now() - $2::float8 * interval '1 millisecond'`,
    // $1 endpoint.
    limitedRecent: `SELECT d.limit_key, ${epochMs('d.at')} AS at FROM ${s}.dispatches d WHERE d.endpoint = $1`,
    // $1 ids chosen: locked, and still as they were chosen (a claim or a cancel may have come between).
    limitedHold: `
      SELECT j.id, j.trace_context FROM ${jobs} j
      WHERE j.id = ANY($1::text[]) AND j.limit_key IS NOT NULL
        AND ((j.status = 'queued' AND j.run_at <= now()) OR (j.status = 'running' AND j.lease_expires_at <= now()))
      ORDER BY j.id FOR UPDATE SKIP LOCKED`,
    // $1 endpoint, $2 keys: one row per hand-out, for the rate limits.
    limitedRecord: `INSERT INTO ${s}.dispatches (endpoint, limit_key, at) SELECT $1::text, k, clock_timestamp() FROM unnest($2::text[]) AS k`,
    // $1 endpoint: when its next delayed keyed job is due.
    limitedNextDue: `
      SELECT (extract(epoch from (min(j.run_at) - now())) * 1000)::float8 AS next_due FROM ${jobs} j
      WHERE j.status = 'queued' AND j.dispatched_at IS NULL AND j.run_at > now() AND j.endpoint = $1
        AND j.limit_key IS NOT NULL`,
    // $1 ids published. The rows are held by this transaction, so they are still as taken.
    dispatchMark: `UPDATE ${jobs} AS j SET dispatched_at = ${NOW} WHERE j.id = ANY($1::text[])`,
    // $1 limit, $2 channel. Bounded, skipping rows locked by someone else (never waiting).
    deleteExpired: `
      WITH gone AS (
        DELETE FROM ${jobs} AS j
        WHERE j.id IN (SELECT e.id FROM ${jobs} e WHERE e.expires_at <= now() AND e.status IN ${FINAL}
                       ORDER BY e.expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)
        RETURNING j.*
      ), ${keepCleanups('$2')}`,
    // $1 endpoints, $2 limit, $3 token, $4 lease ms.
    claimCleanups: `
      UPDATE ${cleanups} AS c SET attempt = c.attempt + 1, lease_token = $3, lease_expires_at = ${plusMs('$4::float8')}
      WHERE c.id IN (SELECT p.id FROM ${cleanups} p
                     WHERE p.endpoint = ANY($1::text[]) AND p.due_at <= now()
                       AND (p.lease_token IS NULL OR p.lease_expires_at <= now())
                     ORDER BY p.due_at, p.id LIMIT $2 FOR UPDATE SKIP LOCKED)
      RETURNING c.job, c.input, c.output, c.attempt`,
    // $1 id, $2 token.
    finishCleanup: `DELETE FROM ${cleanups} c WHERE c.id = $1 AND c.lease_token = $2 AND c.lease_expires_at > now() RETURNING c.id`,
    // $1 id, $2 token, $3 delay ms.
    retryCleanup: `
      UPDATE ${cleanups} AS c SET lease_token = NULL, lease_expires_at = NULL, due_at = ${plusMs('$3::float8')}
      WHERE c.id = $1 AND c.lease_token = $2 AND c.lease_expires_at > now() RETURNING c.id`,
    // $1 names.
    readSchedules: `SELECT name, ${epochMs('last_occurrence')} AS last_ms FROM ${s}.schedules WHERE name = ANY($1::text[])`,
    // $1 name, $2 occurrence: only forward (a row is returned when it moved).
    advanceSchedule: `
      INSERT INTO ${s}.schedules AS t (name, last_occurrence) VALUES ($1, $2)
      ON CONFLICT (name) DO UPDATE SET last_occurrence = EXCLUDED.last_occurrence
        WHERE t.last_occurrence < EXCLUDED.last_occurrence
      RETURNING t.name`,
  };
}

/** `list`: one owner's jobs of one endpoint, newest first, keyset-paginated (built per query: the filters vary). */
export function listStatement(
  s: string,
  filters: { owner: boolean; status: boolean; cursor: boolean },
): { text: string; parameters: string[] } {
  const parameters = ['endpoint', 'limit'];
  const where = ['j.endpoint = $1', LIVE];
  const next = (name: string) => {
    parameters.push(name);
    return `$${parameters.length}`;
  };
  where.push(filters.owner ? `j.owner = ${next('owner')}` : 'j.owner IS NULL');
  if (filters.status) where.push(`j.status = ${next('status')}`);
  if (filters.cursor) {
    const time = next('cursorTime');
    where.push(`(j.created_at, j.id) < (${time}::timestamptz, ${next('cursorId')})`);
  }
  return {
    text: `SELECT ${HEADER_COLUMNS} FROM ${s}.jobs j WHERE ${where.join(' AND ')}
           ORDER BY j.created_at DESC, j.id DESC LIMIT $2`,
    parameters,
  };
}

/** Which filters a `search` or `stats` query has (each shape is its own statement, so each gets its own plan). */
export interface SearchFilters {
  /** null: every endpoint; 1: one (`= $`, so a plan can use the list index); more: `= ANY($)`. */
  endpoints: number | null;
  /** 'any': no owner filter; 'none': jobs without an owner; 'equal': one owner's. */
  owner: 'any' | 'none' | 'equal';
}

/** A statement built per query: its text and the names of its parameters, in order. */
export interface BuiltStatement {
  text: string;
  parameters: string[];
}

function builder(initial: string[] = []) {
  const parameters = [...initial];
  const next = (name: string) => {
    parameters.push(name);
    return `$${parameters.length}`;
  };
  return { parameters, next };
}

/** The endpoint and owner conditions of a search or stats query, on a row aliased `j`. */
function filterConditions(filters: SearchFilters, next: (name: string) => string): string[] {
  const where: string[] = [];
  if (filters.endpoints === 1) where.push(`j.endpoint = ${next('endpoint')}`);
  else if (filters.endpoints !== null) where.push(`j.endpoint = ANY(${next('endpoints')}::text[])`);
  if (filters.owner === 'none') where.push('j.owner IS NULL');
  else if (filters.owner === 'equal') where.push(`j.owner = ${next('owner')}`);
  return where;
}

/**
 * `search`: live jobs of any endpoints and owners, newest first, keyset-paginated. Walks jobs_created_idx (or,
 * for one endpoint and owner, jobs_list_idx) from the cursor down and stops after `limit` matches.
 */
export function searchStatement(
  s: string,
  filters: SearchFilters & { status: boolean; from: boolean; before: boolean; cursor: boolean },
): BuiltStatement {
  const { parameters, next } = builder(['limit']);
  const where = [LIVE, ...filterConditions(filters, next)];
  if (filters.status) where.push(`j.status = ${next('status')}`);
  if (filters.from) where.push(`j.created_at >= ${next('from')}::timestamptz`);
  if (filters.before) where.push(`j.created_at < ${next('before')}::timestamptz`);
  if (filters.cursor) {
    const time = next('cursorTime');
    where.push(`(j.created_at, j.id) < (${time}::timestamptz, ${next('cursorId')})`);
  }
  return {
    text: `SELECT ${HEADER_COLUMNS} FROM ${s}.jobs j WHERE ${where.join(' AND ')}
           ORDER BY j.created_at DESC, j.id DESC LIMIT $1`,
    parameters,
  };
}

/**
 * `stats`, in one statement of three parts, each through a small index: the live queued jobs (through the
 * partial indexes of undispatched and dispatched ones) and running jobs per endpoint; the final jobs finished
 * since the window's start (jobs_finished_idx) per endpoint, status and bucket; and their run-time percentiles.
 * Rows: kind 'live' (status, n), 'bucket' (status, bucket, n), 'runs' (n, p50, p90, p99, max).
 */
export function statsStatement(s: string, filters: SearchFilters): BuiltStatement {
  const { parameters, next } = builder(['since', 'bucketMs']);
  const conditions = filterConditions(filters, next);
  const and = conditions.map((condition) => ` AND ${condition}`).join('');
  const finishedMs = epochMs('j.finished_at');
  const window = `j.finished_at >= $1::timestamptz AND j.status IN ${FINAL} AND ${LIVE}${and}`;
  const runMs = `${epochMs('j.finished_at')} - ${epochMs('j.started_at')}`;
  const text = `
    SELECT 'live' AS kind, q.endpoint, q.status, NULL::int8 AS bucket, count(*)::int8 AS n,
           NULL::int8 AS p50, NULL::int8 AS p90, NULL::int8 AS p99, NULL::int8 AS max
    FROM (
      SELECT j.endpoint, 'queued' AS status FROM ${s}.jobs j
        WHERE j.status = 'queued' AND j.dispatched_at IS NULL${and}
      UNION ALL SELECT j.endpoint, 'queued' FROM ${s}.jobs j
        WHERE j.status = 'queued' AND j.dispatched_at IS NOT NULL${and}
      UNION ALL SELECT j.endpoint, 'running' FROM ${s}.jobs j WHERE j.status = 'running'${and}
    ) q GROUP BY q.endpoint, q.status
    UNION ALL
    SELECT 'bucket', j.endpoint, j.status,
           ((${finishedMs} - ${epochMs('$1::timestamptz')}) / $2::int8) AS bucket, count(*)::int8,
           NULL, NULL, NULL, NULL
    FROM ${s}.jobs j WHERE ${window}
    GROUP BY j.endpoint, j.status, 4
    UNION ALL
    SELECT 'runs', r.endpoint, NULL, NULL, count(*)::int8,
           percentile_disc(0.5) WITHIN GROUP (ORDER BY r.ms), percentile_disc(0.9) WITHIN GROUP (ORDER BY r.ms),
           percentile_disc(0.99) WITHIN GROUP (ORDER BY r.ms), max(r.ms)
    FROM (SELECT j.endpoint, ${runMs} AS ms FROM ${s}.jobs j
          WHERE ${window} AND j.status IN ('succeeded', 'failed') AND j.started_at IS NOT NULL) r
    GROUP BY r.endpoint`;
  return { text, parameters };
}
