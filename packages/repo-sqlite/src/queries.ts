// The repository's operations that write no job state of their own: dispatch (a hold, then a mark), listing and
// the pending cleanups, the recurring schedules' state.
import {
  type CleanupQuery,
  checkNumber,
  checkScheduleName,
  checkStorableDate,
  type DispatchItem,
  type DispatchPublisher,
  type DispatchQuery,
  type DispatchResult,
  decodeCursor,
  type EndpointStats,
  encodeCursor,
  type FlowCandidate,
  InvalidInputError,
  isJobStatus,
  type JobStatus,
  type ListPage,
  type ListQuery,
  newLeaseToken,
  type PendingCleanup,
  planDispatch,
  rateWindowMs,
  runTimeStats,
  type SearchQuery,
  type StatsBucket,
  type StatsQuery,
  type TraceContext,
  zeroCounts,
} from '@jobs/core';
import type { Database } from './database.js';
import { asJobRow, toHeader, toPendingCleanup } from './rows.js';
import { listStatement, type SearchFilters, SQL, searchStatement, statsStatements } from './statements.js';
import { duration, limitOf, optionalText, text } from './values.js';

/**
 * `dispatch` without a transaction open across `await`: SQLite has one writer at a time, so a transaction held
 * while `publish` runs would stop every other write (in every process) for as long. Instead:
 *
 * 1. one short transaction takes the dispatchable jobs no other dispatch holds, and holds them: a random token
 *    and `dispatching_until = now + holdMs` on each row;
 * 2. `publish` runs, no transaction open;
 * 3. one short transaction records `dispatched_at` for the published jobs this dispatch still holds and that are
 *    still dispatchable, and ends the hold of the others. A claim, settle or cancel meanwhile ends the hold
 *    (clears the token), so such a job is never marked.
 *
 * If `publish` rejects, the hold ends at once and nothing is recorded. If the process dies while publishing,
 * the hold expires after `holdMs` and the jobs are dispatchable again: the price of not blocking every writer.
 */
export async function dispatch(
  database: Database,
  query: DispatchQuery,
  publish: DispatchPublisher,
  { now: clock, holdMs }: { now: () => number; holdMs: number },
): Promise<DispatchResult> {
  if (query.limits !== undefined) return dispatchLimited(database, query, publish, { now: clock, holdMs });
  const limit = limitOf(query.limit);
  const stale =
    query.redispatchAfterMs === null ? null : duration(query.redispatchAfterMs, 'redispatchAfterMs');
  const names = query.endpoints === undefined ? null : query.endpoints.map((name) => text(name, 'endpoint'));
  const endpoints = names === null ? null : JSON.stringify(names);
  const excluded = JSON.stringify((query.exceptEndpoints ?? []).map((name) => text(name, 'endpoint')));
  // The bound on jobs waiting in the queue applies to a dispatch of exactly one endpoint.
  const maxAhead =
    query.maxAhead === undefined
      ? null
      : checkNumber('maxAhead', query.maxAhead, 'nonNegativeInteger', (message) =>
          InvalidInputError.field('maxAhead', message),
        );
  const bounded = maxAhead !== null && names?.length === 1 ? { endpoint: names[0]!, maxAhead } : null;
  const token = newLeaseToken();
  let now = 0;
  const { items, next } = database.write('dispatch', () => {
    now = clock(); // once the write lock is held
    const staleAt = stale === null ? null : now - stale;
    const e = [endpoints, endpoints, excluded] as const;
    // Never-dispatched jobs only while fewer than maxAhead of the endpoint's jobs wait in the queue unclaimed.
    const ahead = bounded
      ? Number(database.statement(SQL.ahead).get(bounded.endpoint, bounded.maxAhead)?.n ?? 0)
      : 0;
    const fresh = bounded ? Math.min(limit, Math.max(0, bounded.maxAhead - ahead)) : limit;
    const rows =
      limit === 0
        ? []
        : database
            .statement(SQL.dispatchable)
            .all(
              now,
              now,
              ...e,
              fresh,
              now,
              staleAt,
              staleAt,
              now,
              ...e,
              limit,
              staleAt,
              now,
              now,
              ...e,
              limit,
              limit,
            );
    for (const row of rows) database.statement(SQL.hold).run(token, now + holdMs, row.id as string);
    const next = database.statement(SQL.nextDue).get(now, ...e)?.next;
    const items: DispatchItem[] = rows.map((row) => ({
      id: String(row.id),
      endpoint: String(row.endpoint),
      traceContext: traceContextOf(row.trace_context),
    }));
    return { items, next: next === null || next === undefined ? null : Number(next) };
  });
  const nextDueInMs = next === null ? null : Math.max(0, next - now);
  if (items.length === 0) return { dispatched: 0, found: 0, nextDueInMs };
  return publishHeld(database, items, token, clock, publish, nextDueInMs);
}

/** Publishes the items this dispatch holds and records those the queue took; a failed publish releases them all. */
async function publishHeld(
  database: Database,
  items: readonly DispatchItem[],
  token: string,
  clock: () => number,
  publish: DispatchPublisher,
  nextDueInMs: number | null,
): Promise<DispatchResult> {
  let published: readonly boolean[];
  try {
    published = await publish(items);
  } catch (error) {
    releaseAll(database, items, token);
    throw error;
  }
  return {
    dispatched: markPublished(database, items, published, token, clock),
    found: items.length,
    nextDueInMs,
  };
}

/** Records the dispatch of the published items this dispatch still holds, and ends the hold of every item. */
function markPublished(
  database: Database,
  items: readonly DispatchItem[],
  published: readonly boolean[],
  token: string,
  clock: () => number,
): number {
  const at = clock();
  return database.write('dispatch', () => {
    let count = 0;
    items.forEach((item, index) => {
      if (published[index] === true) {
        count += Number(database.statement(SQL.markDispatched).run(at, item.id, token, at).changes);
      }
      database.statement(SQL.release).run(item.id, token);
    });
    return count;
  });
}

/** Ends the hold of items whose publish failed (else the hold expires by itself). */
function releaseAll(database: Database, items: readonly DispatchItem[], token: string): void {
  try {
    database.write('dispatch', () => {
      for (const item of items) database.statement(SQL.release).run(item.id, token);
    });
  } catch {
    // The hold expires by itself.
  }
}

/**
 * A dispatch of one endpoint's keyed jobs within its limits: in one write transaction (one writer per file, so
 * dispatches in every process see each other), it reads the endpoint's keyed jobs that are not final and the recent
 * hand-outs, lets `planDispatch` choose, holds the chosen jobs and records their hand-outs (a held job counts as
 * handed out for every other dispatch); then publishes and marks them as `dispatch` does. A hand-out whose publish
 * failed still counts against the rates for their interval.
 */
async function dispatchLimited(
  database: Database,
  query: DispatchQuery,
  publish: DispatchPublisher,
  { now: clock, holdMs }: { now: () => number; holdMs: number },
): Promise<DispatchResult> {
  const limit = limitOf(query.limit);
  const limits = query.limits!;
  const stale =
    query.redispatchAfterMs === null ? null : duration(query.redispatchAfterMs, 'redispatchAfterMs');
  const maxAhead =
    query.maxAhead === undefined
      ? null
      : checkNumber('maxAhead', query.maxAhead, 'nonNegativeInteger', (message) =>
          InvalidInputError.field('maxAhead', message),
        );
  const endpoint = query.endpoints?.length === 1 ? text(query.endpoints[0], 'endpoint') : null;
  if (endpoint === null) return { dispatched: 0, found: 0, nextDueInMs: null };
  const window = rateWindowMs(limits);
  const token = newLeaseToken();
  const { items, nextDueInMs } = database.write('dispatch', () => {
    const now = clock();
    const staleAt = stale === null ? null : now - stale;
    const inflight = new Map<string, number>();
    let ahead = 0;
    let nextDue: number | null = null;
    const candidates: FlowCandidate[] = [];
    const traceContexts = new Map<string, unknown>();
    for (const raw of database.statement(SQL.limitedJobs).all(endpoint)) {
      traceContexts.set(String(raw.id), raw.trace_context);
      const key = String(raw.limit_key);
      const status = String(raw.status);
      const runAt = Number(raw.run_at);
      const dispatchedAt = raw.dispatched_at === null ? null : Number(raw.dispatched_at);
      const held = raw.dispatching_until !== null && Number(raw.dispatching_until) > now;
      if (status === 'running' || dispatchedAt !== null || held)
        inflight.set(key, (inflight.get(key) ?? 0) + 1);
      if (status === 'queued' && (dispatchedAt !== null || held)) ahead++;
      if (status === 'queued' && dispatchedAt === null && runAt > now) {
        nextDue = Math.min(nextDue ?? Infinity, runAt);
      }
      if (held) continue;
      const candidate = (holdsSlot: boolean) =>
        candidates.push({ id: String(raw.id), key, priority: Number(raw.priority), runAt, holdsSlot });
      if (status === 'queued' && runAt <= now) {
        if (dispatchedAt === null) candidate(false);
        else if (staleAt !== null && dispatchedAt <= staleAt) candidate(true);
      } else if (status === 'running' && Number(raw.lease_expires_at) <= now) {
        if (dispatchedAt === null || (staleAt !== null && dispatchedAt <= staleAt)) candidate(true);
      }
    }
    let recent: Array<{ key: string; at: number }> = [];
    if (window > 0) {
      database.statement(SQL.forgetDispatches).run(endpoint, now - window);
      recent = database
        .statement(SQL.recentDispatches)
        .all(endpoint)
        .map((row) => ({ key: String(row.limit_key), at: Number(row.at) }));
    }
    const plan = planDispatch({ candidates, inflight, ahead, recent, limits, limit, maxAhead, now });
    for (const chosen of plan.chosen) {
      database.statement(SQL.hold).run(token, now + holdMs, chosen.id);
      if (window > 0) database.statement(SQL.recordDispatch).run(endpoint, chosen.key, now);
    }
    const waits = [nextDue === null ? null : nextDue - now, plan.rateWaitMs].filter(
      (ms): ms is number => ms !== null,
    );
    return {
      items: plan.chosen.map(
        (chosen): DispatchItem => ({
          id: chosen.id,
          endpoint,
          traceContext: traceContextOf(traceContexts.get(chosen.id)),
        }),
      ),
      nextDueInMs: waits.length === 0 ? null : Math.max(0, Math.min(...waits)),
    };
  });
  if (items.length === 0) return { dispatched: 0, found: 0, nextDueInMs };
  return publishHeld(database, items, token, clock, publish, nextDueInMs);
}

export function list(database: Database, query: ListQuery, now: number): ListPage {
  const limit = limitOf(query.limit);
  if (query.status !== undefined && !isJobStatus(query.status)) {
    throw InvalidInputError.field('status', `Unknown status ${String(query.status)}.`);
  }
  const cursor = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
  const sql = listStatement({ status: query.status !== undefined, cursor: cursor !== undefined });
  const params: Array<string | number | null> = [query.endpoint, query.owner ?? null, now];
  if (query.status !== undefined) params.push(query.status);
  if (cursor) {
    const time = cursor.createdAt.getTime();
    params.push(time, time, cursor.id);
  }
  params.push(limit + 1);
  const rows = database.read('list', () => database.statement(sql).all(...params));
  const jobs = rows.slice(0, limit).map((row) => toHeader(asJobRow(row)!));
  const last = jobs.at(-1);
  return {
    jobs,
    nextCursor: rows.length > limit && last ? encodeCursor({ createdAt: last.createdAt, id: last.id }) : null,
  };
}

/** The endpoint and owner filters of a search or stats query, checked: the statement shape and its parameters. */
function checkFilters(query: SearchQuery | StatsQuery) {
  const endpoints = query.endpoints === undefined ? null : query.endpoints.map((e) => text(e, 'endpoints'));
  const owner = query.owner === undefined ? undefined : optionalText(query.owner, 'owner');
  const shape: SearchFilters = {
    endpoints: endpoints === null ? null : endpoints.length === 1 ? 1 : endpoints.length,
    owner: owner !== undefined,
  };
  const params: Array<string | null> = [];
  if (endpoints !== null) params.push(endpoints.length === 1 ? endpoints[0]! : JSON.stringify(endpoints));
  if (owner !== undefined) params.push(owner);
  return { empty: endpoints?.length === 0, shape, params };
}

export function search(database: Database, query: SearchQuery, now: number): ListPage {
  const limit = limitOf(query.limit);
  const filters = checkFilters(query);
  if (query.status !== undefined && !isJobStatus(query.status)) {
    throw InvalidInputError.field('status', `Unknown status ${String(query.status)}.`);
  }
  const from =
    query.createdFrom === undefined ? null : checkStorableDate(query.createdFrom, 'createdFrom').getTime();
  const before =
    query.createdBefore === undefined
      ? null
      : checkStorableDate(query.createdBefore, 'createdBefore').getTime();
  const cursor = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
  if (filters.empty) return { jobs: [], nextCursor: null };
  const sql = searchStatement({
    ...filters.shape,
    status: query.status !== undefined,
    from: from !== null,
    before: before !== null,
    cursor: cursor !== undefined,
  });
  const params: Array<string | number | null> = [now, ...filters.params];
  if (query.status !== undefined) params.push(query.status);
  if (from !== null) params.push(from);
  if (before !== null) params.push(before);
  if (cursor) {
    const time = cursor.createdAt.getTime();
    params.push(time, time, cursor.id);
  }
  params.push(limit + 1);
  const rows = database.read('search', () => database.statement(sql).all(...params));
  const jobs = rows.slice(0, limit).map((row) => toHeader(asJobRow(row)!));
  const last = jobs.at(-1);
  return {
    jobs,
    nextCursor: rows.length > limit && last ? encodeCursor({ createdAt: last.createdAt, id: last.id }) : null,
  };
}

export function stats(database: Database, query: StatsQuery, now: number): EndpointStats[] {
  const filters = checkFilters(query);
  const since = checkStorableDate(query.since, 'since').getTime();
  const bucketMs = checkNumber('bucketMs', query.bucketMs, 'positiveInteger', (message) =>
    InvalidInputError.field('bucketMs', message),
  );
  if (filters.empty) return [];
  const sql = statsStatements(filters.shape);
  const { live, finished } = database.read('stats', () => ({
    live: database.statement(sql.live).all(...filters.params, ...filters.params, ...filters.params),
    finished: database.statement(sql.window).all(since, now, ...filters.params),
  }));
  const byEndpoint = new Map<
    string,
    { counts: Record<JobStatus, number>; buckets: Map<number, StatsBucket>; runs: number[] }
  >();
  const of = (endpoint: string) => {
    let entry = byEndpoint.get(endpoint);
    if (!entry) {
      entry = { counts: zeroCounts(), buckets: new Map(), runs: [] };
      byEndpoint.set(endpoint, entry);
    }
    return entry;
  };
  for (const row of live) of(String(row.endpoint)).counts[row.status as JobStatus] += Number(row.n);
  for (const row of finished) {
    const entry = of(String(row.endpoint));
    const status = row.status as 'succeeded' | 'failed' | 'canceled';
    const finishedAt = Number(row.finished_at);
    entry.counts[status] += 1;
    const index = Math.floor((finishedAt - since) / bucketMs);
    let bucket = entry.buckets.get(index);
    if (!bucket) {
      bucket = { start: new Date(since + index * bucketMs), succeeded: 0, failed: 0, canceled: 0 };
      entry.buckets.set(index, bucket);
    }
    bucket[status] += 1;
    if (status !== 'canceled' && row.started_at !== null)
      entry.runs.push(finishedAt - Number(row.started_at));
  }
  return [...byEndpoint.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([endpoint, entry]) => ({
      endpoint,
      counts: entry.counts,
      buckets: [...entry.buckets.entries()].sort(([a], [b]) => a - b).map(([, bucket]) => bucket),
      runTime: runTimeStats(entry.runs),
    }));
}

export function claimCleanups(
  database: Database,
  query: CleanupQuery,
  clock: () => number,
): PendingCleanup[] {
  const limit = limitOf(query.limit);
  const leaseMs = duration(query.leaseMs, 'leaseMs');
  const token = text(query.leaseToken, 'leaseToken');
  const endpoints = query.endpoints.map((endpoint) => text(endpoint, 'endpoint'));
  if (limit === 0 || endpoints.length === 0) return [];
  return database.write('claimCleanups', () => {
    const now = clock();
    const rows = database.statement(SQL.dueCleanups).all(JSON.stringify(endpoints), now, now, limit);
    return rows.map((row) => {
      database.statement(SQL.holdCleanup).run(token, now + leaseMs, row.id as string);
      return toPendingCleanup({ ...row, attempt: Number(row.attempt) + 1 });
    });
  });
}

export function finishCleanup(
  database: Database,
  id: string,
  leaseToken: string,
  retryAfterMs: number | null,
  clock: () => number,
): boolean {
  const delay = retryAfterMs === null ? null : duration(retryAfterMs, 'retryAfterMs');
  if (typeof id !== 'string' || typeof leaseToken !== 'string') return false;
  return database.write('finishCleanup', () => {
    const now = clock();
    const result =
      delay === null
        ? database.statement(SQL.finishCleanup).run(id, leaseToken, now)
        : database.statement(SQL.retryCleanup).run(now + delay, id, leaseToken, now);
    return Number(result.changes) > 0;
  });
}

export function readSchedules(database: Database, names: readonly string[]): Map<string, Date> {
  const checked = names.map(checkScheduleName);
  return database.read('readSchedules', () => {
    const found = new Map<string, Date>();
    for (const name of checked) {
      const row = database.statement(SQL.readSchedule).get(name) as { last_occurrence: number } | undefined;
      if (row) found.set(name, new Date(Number(row.last_occurrence)));
    }
    return found;
  });
}

export function advanceSchedule(database: Database, name: string, occurrence: Date): boolean {
  const checked = checkScheduleName(name);
  const at = checkStorableDate(occurrence, 'occurrence').getTime();
  return database.write(
    'advanceSchedule',
    () => Number(database.statement(SQL.advanceSchedule).run(checked, at).changes) > 0,
  );
}

/** A stored trace context (JSON text) as the dispatch hands it on. */
function traceContextOf(stored: unknown): TraceContext | null {
  return typeof stored === 'string' ? (JSON.parse(stored) as TraceContext) : null;
}
