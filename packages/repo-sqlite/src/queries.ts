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
  encodeCursor,
  InvalidInputError,
  isJobStatus,
  type ListPage,
  type ListQuery,
  newLeaseToken,
  type PendingCleanup,
} from '@jobs/core';
import type { Database } from './database.js';
import { asJobRow, toHeader, toPendingCleanup } from './rows.js';
import { listStatement, SQL } from './statements.js';
import { duration, limitOf, text } from './values.js';

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
    const items: DispatchItem[] = rows.map((row) => ({ id: String(row.id), endpoint: String(row.endpoint) }));
    return { items, next: next === null || next === undefined ? null : Number(next) };
  });
  const nextDueInMs = next === null ? null : Math.max(0, next - now);
  if (items.length === 0) return { dispatched: 0, found: 0, nextDueInMs };

  let published: readonly boolean[];
  try {
    published = await publish(items);
  } catch (error) {
    try {
      database.write('dispatch', () => {
        for (const item of items) database.statement(SQL.release).run(item.id, token);
      });
    } catch {
      // The hold expires by itself.
    }
    throw error;
  }
  const at = clock();
  const dispatched = database.write('dispatch', () => {
    let count = 0;
    items.forEach((item, index) => {
      if (published[index] === true) {
        count += Number(database.statement(SQL.markDispatched).run(at, item.id, token, at).changes);
      }
      database.statement(SQL.release).run(item.id, token);
    });
    return count;
  });
  return { dispatched, found: items.length, nextDueInMs };
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
