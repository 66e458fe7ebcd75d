// The repository's operations besides the job transitions: dispatch (due jobs from the indexes, held while they
// are published), listing, the pending cleanups and the recurring schedules' state.
import {
  type CleanupQuery,
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
  type JobRecordHeader,
  type ListPage,
  type ListQuery,
  type PendingCleanup,
} from '@jobs/core';
import { type JobStore, listKey } from './store.js';
import { duration, header, limitOf, record, type Stored, text } from './stored.js';

/**
 * Hands due jobs to `publish`, then the jobs whose worker died and (for a re-dispatch) those whose message may be
 * lost; records the dispatch of those published and not changed meanwhile.
 */
export async function dispatch(
  store: JobStore,
  query: DispatchQuery,
  publish: DispatchPublisher,
): Promise<DispatchResult> {
  const limit = limitOf(query.limit);
  const redispatchAfterMs =
    query.redispatchAfterMs === null ? null : duration(query.redispatchAfterMs, 'redispatchAfterMs');
  const endpoints = query.endpoints === undefined ? null : new Set(query.endpoints);
  const excluded = new Set(query.exceptEndpoints ?? []);
  const wanted = (endpoint: string) =>
    (endpoints === null || endpoints.has(endpoint)) && !excluded.has(endpoint);
  const now = store.now();
  const stale = redispatchAfterMs === null ? null : now - redispatchAfterMs;
  // Due jobs never handed out leave the index while they are published (no other dispatch can take them).
  const maxAhead = query.maxAhead === undefined ? null : limitOf(query.maxAhead);
  const room =
    maxAhead === null || endpoints === null || endpoints.size !== 1
      ? limit
      : Math.min(limit, Math.max(0, maxAhead - store.indexes.dispatchedCount([...endpoints][0]!)));
  const due = store.indexes.takeReady(now, room, wanted);
  // Then jobs whose worker died, and (for a re-dispatch) jobs whose message may be lost: held by id.
  const offer = (job: Stored) => {
    if (!store.dispatching.has(job.id) && wanted(job.endpoint) && due.length < limit) due.push(job);
    return due.length < limit;
  };
  if (due.length < limit) {
    store.indexes.forEachExpiredLease(now, (job) => {
      if (job.dispatchedAt === null || (stale !== null && job.dispatchedAt <= stale)) offer(job);
    });
    if (stale !== null) store.indexes.forEachDispatchedUpTo(stale, (job) => job.runAt > now || offer(job));
  }
  const nextDueInMs = store.indexes.nextDueIn(now);
  if (due.length === 0) return { dispatched: 0, found: 0, nextDueInMs };
  const held = due.filter((job) => job.place !== 'none');
  for (const job of held) store.dispatching.add(job.id);
  // Every claim, cancel or settle moves updatedAt: a job whose version changed while it was published is not
  // the one that was taken (claimed, maybe retried meanwhile), and is not marked.
  const taken = due.map((job) => job.updatedAt);
  let published: readonly boolean[] = [];
  let dispatched = 0;
  try {
    const items: DispatchItem[] = due.map((job) => ({ id: job.id, endpoint: job.endpoint }));
    published = await publish(items);
  } finally {
    for (const job of held) store.dispatching.delete(job.id);
    const at = store.now();
    due.forEach((job, index) => {
      if (published[index] !== true || store.jobs.get(job.id) !== job || job.updatedAt !== taken[index])
        return;
      job.dispatchedAt = at;
      store.indexes.place(job, at);
      dispatched++;
    });
    // Due jobs whose publish failed go back where they were (a change meanwhile placed them already).
    store.indexes.putBack(due);
  }
  return { dispatched, found: due.length, nextDueInMs };
}

export function list(store: JobStore, query: ListQuery): ListPage {
  const limit = limitOf(query.limit);
  if (query.status !== undefined && !isJobStatus(query.status)) {
    throw InvalidInputError.field('status', `Unknown status ${String(query.status)}.`);
  }
  const before = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
  const entries = store.lists.get(listKey(query.endpoint, query.owner));
  const now = store.now();
  const jobs: JobRecordHeader[] = [];
  let more = false;
  if (entries) {
    for (const entry of entries.descending(before && { time: before.createdAt.getTime(), id: before.id })) {
      const job = store.live(entry.id, now);
      if (!job || (query.status !== undefined && job.status !== query.status)) continue;
      if (jobs.length === limit) {
        more = true;
        break;
      }
      jobs.push(header(job));
    }
  }
  const last = jobs.at(-1);
  return {
    jobs,
    nextCursor: more && last ? encodeCursor({ createdAt: last.createdAt, id: last.id }) : null,
  };
}

export function claimCleanups(store: JobStore, query: CleanupQuery): PendingCleanup[] {
  const limit = limitOf(query.limit);
  const leaseMs = duration(query.leaseMs, 'leaseMs');
  const leaseToken = text(query.leaseToken, 'leaseToken');
  const endpoints = new Set(query.endpoints);
  const now = store.now();
  const due = [...store.cleanups.values()]
    .filter(
      (cleanup) =>
        endpoints.has(cleanup.job.endpoint) &&
        cleanup.dueAt <= now &&
        (cleanup.leaseToken === null || cleanup.leaseExpiresAt <= now),
    )
    .sort((a, b) => a.dueAt - b.dueAt || compareIds(a.job.id, b.job.id))
    .slice(0, limit);
  return due.map((cleanup) => {
    cleanup.attempt += 1;
    cleanup.leaseToken = leaseToken;
    cleanup.leaseExpiresAt = now + leaseMs;
    return { job: record(cleanup.job), attempt: cleanup.attempt };
  });
}

export function finishCleanup(
  store: JobStore,
  id: string,
  leaseToken: string,
  retryAfterMs: number | null,
): boolean {
  const delay = retryAfterMs === null ? null : duration(retryAfterMs, 'retryAfterMs');
  const cleanup = store.cleanups.get(id);
  const now = store.now();
  if (!cleanup || cleanup.leaseToken !== leaseToken || cleanup.leaseExpiresAt <= now) return false;
  if (delay === null) store.cleanups.delete(id);
  else {
    cleanup.leaseToken = null;
    cleanup.dueAt = now + delay;
  }
  return true;
}

export function readSchedules(store: JobStore, names: readonly string[]): Map<string, Date> {
  const found = new Map<string, Date>();
  for (const name of names.map(checkScheduleName)) {
    const last = store.schedules.get(name);
    if (last !== undefined) found.set(name, new Date(last));
  }
  return found;
}

export function advanceSchedule(store: JobStore, name: string, occurrence: Date): boolean {
  const key = checkScheduleName(name);
  const at = checkStorableDate(occurrence, 'occurrence').getTime();
  if ((store.schedules.get(key) ?? -Infinity) >= at) return false;
  store.schedules.set(key, at);
  return true;
}

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
