// The repository's operations besides the job transitions: reads, dispatch (one transaction holds the jobs it
// publishes), listing, the pending cleanups and the recurring schedules' state.
import {
  type CleanupQuery,
  checkScheduleName,
  type DispatchPublisher,
  type DispatchQuery,
  type DispatchResult,
  decodeCursor,
  type EndpointStats,
  encodeCursor,
  type FlowCandidate,
  InvalidInputError,
  isJobStatus,
  type JobRecord,
  type JobRecordHeader,
  type JobStatus,
  type ListPage,
  type ListQuery,
  type PendingCleanup,
  planDispatch,
  rateWindowMs,
  type SearchQuery,
  type StatsQuery,
  type TraceContext,
  zeroCounts,
} from '@jobs/core';
import type { Handle } from './handle.js';
import { MIGRATION_LOCK_NAMESPACE } from './migrations.js';
import { type HeaderRow, type JobRow, toHeader, toPendingCleanup, toRecord } from './rows.js';
import { listStatement, type SearchFilters, searchStatement, statsStatement } from './statements.js';
import {
  checkDuration,
  checkInteger,
  checkOptionalText,
  checkText,
  dateParam,
  isUsableText,
} from './values.js';

/** The live job (null when it is unknown or expired), or only its header. */
export async function getJob(
  db: Handle,
  id: string,
  projection?: 'header',
): Promise<JobRecord | JobRecordHeader | null> {
  if (!isUsableText(id)) return null;
  if (projection === 'header') {
    const result = await db.query<HeaderRow>('get', db.sql.getHeader, [id]);
    return result.rows[0] ? toHeader(result.rows[0]) : null;
  }
  const result = await db.query<JobRow>('get', db.sql.get, [id]);
  return result.rows[0] ? toRecord(result.rows[0]) : null;
}

export async function dispatch(
  db: Handle,
  query: DispatchQuery,
  publish: DispatchPublisher,
): Promise<DispatchResult> {
  if (query.limits !== undefined) return dispatchLimited(db, query, publish);
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
  await db.ensureReady();
  // The jobs are held (row locks) from the moment they are taken until the dispatch is recorded: another
  // dispatch skips them, and if publishing fails or this process dies, the transaction's rollback leaves them
  // dispatchable.
  return db.withClient('dispatch', async (client, drop) => {
    await db.query('dispatch', 'BEGIN', [], client);
    try {
      const taken = await db.query<DispatchRow>(
        'dispatch',
        db.sql.dispatchTake,
        [limit, endpoints, redispatch, maxAhead, excluded],
        client,
      );
      const nextDue = taken.rows[0]?.next_due ?? null;
      const items = taken.rows
        .filter((row): row is DispatchRow & { id: string } => row.id !== null)
        .map((row) => ({ id: row.id, endpoint: row.endpoint, traceContext: row.trace_context }));
      const nextDueInMs = nextDue === null ? null : Math.max(0, nextDue);
      if (items.length === 0) {
        await db.query('dispatch', 'COMMIT', [], client);
        return { dispatched: 0, found: 0, nextDueInMs };
      }
      const published = await publish(items);
      const ids = items.filter((_item, index) => published[index] === true).map((item) => item.id);
      if (ids.length > 0) await db.query('dispatch', db.sql.dispatchMark, [ids], client);
      await db.query('dispatch', 'COMMIT', [], client);
      return { dispatched: ids.length, found: items.length, nextDueInMs };
    } catch (error) {
      // Bounded like every statement (a connection that stopped answering must not hold the call forever); a
      // connection whose rollback failed is in an unknown state and is dropped, not reused.
      await db.query('dispatch', 'ROLLBACK', [], client).catch((rollbackError: Error) => drop(rollbackError));
      throw error;
    }
  });
}

/** A job taken by the general dispatch (no id: none was due; the row still says when the next one is). */
interface DispatchRow {
  id: string | null;
  endpoint: string;
  trace_context: TraceContext | null;
  next_due: number | null;
}

/** The advisory lock's first key for a dispatch with limits ("jobl"); the second is hashtext(schema.endpoint). */
const LIMITS_LOCK_NAMESPACE = MIGRATION_LOCK_NAMESPACE + 1;

/**
 * A dispatch of one endpoint's keyed jobs within its limits: under the endpoint's advisory lock (so dispatches of
 * it in every process run one after another, each counting what the others handed out), it reads the candidates,
 * the jobs in flight per key and the recent hand-outs, lets `planDispatch` choose, holds the chosen rows, publishes
 * them and records their dispatch and their hand-outs, in one transaction.
 */
async function dispatchLimited(
  db: Handle,
  query: DispatchQuery,
  publish: DispatchPublisher,
): Promise<DispatchResult> {
  const limit = checkInteger(query.limit, 'limit', 0, 100_000);
  const limits = query.limits!;
  const redispatch =
    query.redispatchAfterMs === null ? null : checkDuration(query.redispatchAfterMs, 'redispatchAfterMs');
  const maxAhead = query.maxAhead === undefined ? null : checkInteger(query.maxAhead, 'maxAhead', 0);
  const endpoint = query.endpoints?.length === 1 ? checkText(query.endpoints[0]!, 'endpoint', 200) : null;
  if (endpoint === null || limit === 0) return { dispatched: 0, found: 0, nextDueInMs: null };
  const window = rateWindowMs(limits);
  const perKey = Math.min(limit, limits.concurrencyPerKey ?? limit);
  await db.ensureReady();
  return db.withClient('dispatch', async (client, drop) => {
    await db.query('dispatch', 'BEGIN', [], client);
    try {
      await db.query(
        'dispatch',
        db.sql.limitedLock,
        [LIMITS_LOCK_NAMESPACE, `${db.quotedSchema}.${endpoint}`],
        client,
      );
      const candidates = await db.query<{
        id: string;
        limit_key: string;
        priority: number;
        run_at: string;
        holds_slot: boolean;
      }>('dispatch', db.sql.limitedCandidates, [endpoint, perKey, redispatch], client);
      const counts = await db.query<{ limit_key: string; n: number; ahead: number }>(
        'dispatch',
        db.sql.limitedInflight,
        [endpoint],
        client,
      );
      if (window > 0) await db.query('dispatch', db.sql.limitedForget, [endpoint, window], client);
      const recentRows =
        window > 0
          ? (
              await db.query<{ limit_key: string; at: string }>(
                'dispatch',
                db.sql.limitedRecent,
                [endpoint],
                client,
              )
            ).rows
          : [];
      const nextDue = await db.query<{ next_due: number | null }>(
        'dispatch',
        db.sql.limitedNextDue,
        [endpoint],
        client,
      );
      const clock = await db.query<{ now: string }>('dispatch', `SELECT ${nowMs} AS now`, [], client);
      const now = Number(clock.rows[0]!.now);
      const inflight = new Map(counts.rows.map((row) => [row.limit_key, Number(row.n)]));
      const ahead = counts.rows.reduce((total, row) => total + Number(row.ahead), 0);
      const plan = planDispatch({
        candidates: candidates.rows.map(
          (row): FlowCandidate => ({
            id: row.id,
            key: row.limit_key,
            priority: Number(row.priority),
            runAt: Number(row.run_at),
            holdsSlot: row.holds_slot,
          }),
        ),
        inflight,
        ahead,
        recent: recentRows.map((row) => ({ key: row.limit_key, at: Number(row.at) })),
        limits,
        limit,
        maxAhead,
        now,
      });
      const due = nextDue.rows[0]?.next_due ?? null;
      const waits = [due === null ? null : Math.max(0, due), plan.rateWaitMs].filter(
        (ms): ms is number => ms !== null,
      );
      const nextDueInMs = waits.length === 0 ? null : Math.min(...waits);
      const held =
        plan.chosen.length === 0
          ? new Map<string, TraceContext | null>()
          : new Map(
              (
                await db.query<{ id: string; trace_context: TraceContext | null }>(
                  'dispatch',
                  db.sql.limitedHold,
                  [plan.chosen.map((candidate) => candidate.id)],
                  client,
                )
              ).rows.map((row) => [row.id, row.trace_context]),
            );
      const chosen = plan.chosen.filter((candidate) => held.has(candidate.id));
      if (chosen.length === 0) {
        await db.query('dispatch', 'COMMIT', [], client);
        return { dispatched: 0, found: 0, nextDueInMs };
      }
      const published = await publish(
        chosen.map((candidate) => ({
          id: candidate.id,
          endpoint,
          traceContext: held.get(candidate.id) ?? null,
        })),
      );
      const ok = chosen.filter((_candidate, index) => published[index] === true);
      if (ok.length > 0) {
        await db.query('dispatch', db.sql.dispatchMark, [ok.map((candidate) => candidate.id)], client);
        if (window > 0) {
          await db.query(
            'dispatch',
            db.sql.limitedRecord,
            [endpoint, ok.map((candidate) => candidate.key)],
            client,
          );
        }
      }
      await db.query('dispatch', 'COMMIT', [], client);
      return { dispatched: ok.length, found: chosen.length, nextDueInMs };
    } catch (error) {
      await db.query('dispatch', 'ROLLBACK', [], client).catch((rollbackError: Error) => drop(rollbackError));
      throw error;
    }
  });
}

/** The clock after the advisory lock was taken (now() is the start of the transaction, maybe long before). */
const nowMs = `(extract(epoch from clock_timestamp()) * 1000)::int8`;

export async function list(db: Handle, query: ListQuery): Promise<ListPage> {
  const endpoint = checkText(query.endpoint, 'endpoint', 200);
  const owner = checkOptionalText(query.owner, 'owner');
  const limit = checkInteger(query.limit, 'limit', 1, 10_000);
  if (query.status !== undefined && !isJobStatus(query.status)) {
    throw InvalidInputError.field('status', `Unknown status ${JSON.stringify(query.status)}.`);
  }
  const cursor = query.cursor === undefined ? null : decodeCursor(query.cursor);
  const statement = listStatement(db.quotedSchema, {
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
  const result = await db.query<HeaderRow>(
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

/** The endpoint and owner filters of a search or stats query, checked, with the statement shape they make. */
function checkFilters(query: SearchQuery | StatsQuery) {
  const endpoints =
    query.endpoints === undefined ? null : query.endpoints.map((e) => checkText(e, 'endpoints', 200));
  const owner = query.owner === undefined ? undefined : checkOptionalText(query.owner, 'owner');
  const shape: SearchFilters = {
    endpoints: endpoints === null ? null : endpoints.length === 1 ? 1 : endpoints.length,
    owner: owner === undefined ? 'any' : owner === null ? 'none' : 'equal',
  };
  return { endpoints, owner, shape, values: { endpoint: endpoints?.[0], endpoints, owner } };
}

export async function search(db: Handle, query: SearchQuery): Promise<ListPage> {
  const filters = checkFilters(query);
  const limit = checkInteger(query.limit, 'limit', 1, 10_000);
  if (query.status !== undefined && !isJobStatus(query.status)) {
    throw InvalidInputError.field('status', `Unknown status ${JSON.stringify(query.status)}.`);
  }
  const from = query.createdFrom === undefined ? null : dateParam(query.createdFrom, 'createdFrom');
  const before = query.createdBefore === undefined ? null : dateParam(query.createdBefore, 'createdBefore');
  const cursor = query.cursor === undefined ? null : decodeCursor(query.cursor);
  // An empty list of endpoints matches nothing (and `= ANY('{}')` would say so after a scan).
  if (filters.endpoints?.length === 0) return { jobs: [], nextCursor: null };
  const statement = searchStatement(db.quotedSchema, {
    ...filters.shape,
    status: query.status !== undefined,
    from: from !== null,
    before: before !== null,
    cursor: cursor !== null,
  });
  const parameters: Record<string, unknown> = {
    ...filters.values,
    limit: limit + 1,
    status: query.status,
    from,
    before,
    cursorTime: cursor?.createdAt.toISOString(),
    cursorId: cursor?.id,
  };
  const result = await db.query<HeaderRow>(
    'search',
    statement.text,
    statement.parameters.map((name) => parameters[name]),
  );
  const jobs = result.rows.slice(0, limit).map(toHeader);
  const last = jobs[jobs.length - 1];
  const nextCursor =
    result.rows.length > limit && last ? encodeCursor({ createdAt: last.createdAt, id: last.id }) : null;
  return { jobs, nextCursor };
}

interface StatsRow {
  kind: 'live' | 'bucket' | 'runs';
  endpoint: string;
  status: JobStatus | null;
  bucket: number | null;
  n: number;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
}

export async function stats(db: Handle, query: StatsQuery): Promise<EndpointStats[]> {
  const filters = checkFilters(query);
  const since = dateParam(query.since, 'since');
  const sinceMs = query.since.getTime();
  const bucketMs = checkInteger(query.bucketMs, 'bucketMs', 1);
  if (filters.endpoints?.length === 0) return [];
  const statement = statsStatement(db.quotedSchema, filters.shape);
  const parameters: Record<string, unknown> = { ...filters.values, since, bucketMs };
  const result = await db.query<StatsRow>(
    'stats',
    statement.text,
    statement.parameters.map((name) => parameters[name]),
  );
  const byEndpoint = new Map<string, EndpointStats>();
  const of = (endpoint: string) => {
    let entry = byEndpoint.get(endpoint);
    if (!entry) {
      entry = { endpoint, counts: zeroCounts(), buckets: [], runTime: null };
      byEndpoint.set(endpoint, entry);
    }
    return entry;
  };
  const buckets = new Map<string, Map<number, EndpointStats['buckets'][number]>>();
  for (const row of result.rows) {
    const entry = of(row.endpoint);
    if (row.kind === 'live' && row.status) entry.counts[row.status] += row.n;
    else if (row.kind === 'bucket' && row.status && row.bucket !== null) {
      entry.counts[row.status] += row.n;
      let own = buckets.get(row.endpoint);
      if (!own) {
        own = new Map();
        buckets.set(row.endpoint, own);
      }
      let bucket = own.get(row.bucket);
      if (!bucket) {
        bucket = { start: new Date(sinceMs + row.bucket * bucketMs), succeeded: 0, failed: 0, canceled: 0 };
        own.set(row.bucket, bucket);
      }
      bucket[row.status as 'succeeded' | 'failed' | 'canceled'] += row.n;
    } else if (row.kind === 'runs') {
      entry.runTime = { count: row.n, p50: row.p50!, p90: row.p90!, p99: row.p99!, max: row.max! };
    }
  }
  for (const [endpoint, own] of buckets) {
    of(endpoint).buckets = [...own.entries()].sort(([a], [b]) => a - b).map(([, bucket]) => bucket);
  }
  return [...byEndpoint.values()].sort((a, b) =>
    a.endpoint < b.endpoint ? -1 : a.endpoint > b.endpoint ? 1 : 0,
  );
}

export async function claimCleanups(db: Handle, query: CleanupQuery): Promise<PendingCleanup[]> {
  const endpoints = query.endpoints.map((endpoint) => checkText(endpoint, 'endpoint', 200));
  const limit = checkInteger(query.limit, 'limit', 0, 10_000);
  const leaseMs = checkDuration(query.leaseMs, 'leaseMs');
  const token = checkText(query.leaseToken, 'leaseToken', 200);
  if (limit === 0 || endpoints.length === 0) return [];
  const result = await db.query<{
    job: Record<string, unknown>;
    input: unknown;
    output: unknown;
    attempt: number;
  }>('claimCleanups', db.sql.claimCleanups, [endpoints, limit, token, leaseMs]);
  return result.rows.map(toPendingCleanup);
}

export async function finishCleanup(
  db: Handle,
  id: string,
  leaseToken: string,
  retryAfterMs: number | null,
): Promise<boolean> {
  const delay = retryAfterMs === null ? null : checkDuration(retryAfterMs, 'retryAfterMs');
  if (!isUsableText(id) || !isUsableText(leaseToken)) return false;
  const result =
    delay === null
      ? await db.query('finishCleanup', db.sql.finishCleanup, [id, leaseToken])
      : await db.query('finishCleanup', db.sql.retryCleanup, [id, leaseToken, delay]);
  return (result.rowCount ?? 0) > 0;
}

export async function readSchedules(db: Handle, names: readonly string[]): Promise<Map<string, Date>> {
  const checked = names.map(checkScheduleName);
  const found = new Map<string, Date>();
  if (checked.length === 0) return found;
  const result = await db.query<{ name: string; last_ms: number }>('readSchedules', db.sql.readSchedules, [
    checked,
  ]);
  for (const row of result.rows) found.set(row.name, new Date(row.last_ms));
  return found;
}

export async function advanceSchedule(db: Handle, name: string, occurrence: Date): Promise<boolean> {
  const checked = checkScheduleName(name);
  const at = dateParam(occurrence, 'occurrence');
  const result = await db.query('advanceSchedule', db.sql.advanceSchedule, [checked, at]);
  return (result.rowCount ?? 0) > 0;
}
