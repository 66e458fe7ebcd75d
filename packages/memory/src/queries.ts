// The repository's operations besides the job transitions: dispatch (due jobs from the indexes, held while they
// are published), listing, the pending cleanups and the recurring schedules' state.
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
  type JobRecordHeader,
  type JobStatus,
  type ListPage,
  type ListQuery,
  type PendingCleanup,
  planDispatch,
  rateWindowMs,
  runTimeStats,
  type SearchQuery,
  type StatsBucket,
  type StatsQuery,
  zeroCounts,
} from '@jobs/core';
import { compareEntries } from './sorted-list.js';
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
  if (query.limits !== undefined) return dispatchLimited(store, query, publish);
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
    if (!store.dispatching.has(job.id) && job.limitKey === null && wanted(job.endpoint) && due.length < limit)
      due.push(job);
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
    const items: DispatchItem[] = due.map((job) => ({
      id: job.id,
      endpoint: job.endpoint,
      traceContext: job.traceContext,
    }));
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

/**
 * A dispatch of one endpoint's keyed jobs within its limits (`planDispatch` decides): the endpoint's live keyed
 * jobs are counted and the candidates picked in one synchronous step, and the jobs held while they are published
 * count as handed out, so concurrent dispatches never exceed a limit together.
 */
async function dispatchLimited(
  store: JobStore,
  query: DispatchQuery,
  publish: DispatchPublisher,
): Promise<DispatchResult> {
  const limit = limitOf(query.limit);
  const limits = query.limits!;
  const stale =
    query.redispatchAfterMs === null ? null : duration(query.redispatchAfterMs, 'redispatchAfterMs');
  const maxAhead = query.maxAhead === undefined ? null : limitOf(query.maxAhead);
  const endpoint = query.endpoints?.length === 1 ? query.endpoints[0]! : null;
  const now = store.now();
  const nextDueInMs = store.indexes.nextDueIn(now);
  const jobs = endpoint === null ? undefined : store.limited.get(endpoint);
  if (!jobs || jobs.size === 0) return { dispatched: 0, found: 0, nextDueInMs };
  const staleAt = stale === null ? null : now - stale;
  const inflight = new Map<string, number>();
  let ahead = 0;
  const candidates: FlowCandidate[] = [];
  const byId = new Map<string, Stored>();
  for (const job of jobs) {
    if (store.jobs.get(job.id) !== job || (job.status !== 'queued' && job.status !== 'running')) {
      jobs.delete(job);
      continue;
    }
    const key = job.limitKey!;
    const held = store.dispatching.has(job.id);
    const handedOut = job.status === 'running' || job.dispatchedAt !== null || held;
    if (handedOut) inflight.set(key, (inflight.get(key) ?? 0) + 1);
    if (job.status === 'queued' && (job.dispatchedAt !== null || held)) ahead++;
    if (held) continue;
    const candidate = (holdsSlot: boolean) => {
      candidates.push({ id: job.id, key, priority: job.priority, runAt: job.runAt, holdsSlot });
      byId.set(job.id, job);
    };
    if (job.status === 'queued' && job.runAt <= now) {
      if (job.dispatchedAt === null) candidate(false);
      else if (staleAt !== null && job.dispatchedAt <= staleAt) candidate(true);
    } else if (job.status === 'running' && job.leaseExpiresAt !== null && job.leaseExpiresAt <= now) {
      if (job.dispatchedAt === null || (staleAt !== null && job.dispatchedAt <= staleAt)) candidate(true);
    }
  }
  const window = rateWindowMs(limits);
  const recent = (store.dispatches.get(endpoint!) ?? []).filter((entry) => entry.at > now - window);
  if (recent.length === 0) store.dispatches.delete(endpoint!);
  else store.dispatches.set(endpoint!, recent);
  const plan = planDispatch({ candidates, inflight, ahead, recent, limits, limit, maxAhead, now });
  const due = plan.chosen.map((candidate) => byId.get(candidate.id)!);
  const next = [nextDueInMs, plan.rateWaitMs].filter((ms): ms is number => ms !== null);
  const nextIn = next.length === 0 ? null : Math.min(...next);
  if (due.length === 0) return { dispatched: 0, found: 0, nextDueInMs: nextIn };
  for (const job of due) store.dispatching.add(job.id);
  // A hand-out counts against the rates from the moment it is taken (a failed publish too: a conservative count).
  if (window > 0) {
    const log = store.dispatches.get(endpoint!) ?? [];
    for (const job of due) log.push({ key: job.limitKey!, at: now });
    store.dispatches.set(endpoint!, log);
  }
  const taken = due.map((job) => job.updatedAt);
  let published: readonly boolean[] = [];
  let dispatched = 0;
  try {
    published = await publish(
      due.map((job) => ({
        id: job.id,
        endpoint: job.endpoint,
        traceContext: job.traceContext,
      })),
    );
  } finally {
    for (const job of due) store.dispatching.delete(job.id);
    const at = store.now();
    due.forEach((job, index) => {
      if (published[index] !== true || store.jobs.get(job.id) !== job || job.updatedAt !== taken[index])
        return;
      job.dispatchedAt = at;
      store.indexes.place(job, at);
      dispatched++;
    });
  }
  return { dispatched, found: due.length, nextDueInMs: nextIn };
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

/** Jobs of any owners and endpoints, newest first: a walk down the index of every job, filtered. */
export function search(store: JobStore, query: SearchQuery): ListPage {
  const limit = limitOf(query.limit);
  const filter = checkFilter(query);
  if (query.status !== undefined && !isJobStatus(query.status)) {
    throw InvalidInputError.field('status', `Unknown status ${String(query.status)}.`);
  }
  const from =
    query.createdFrom === undefined ? null : checkStorableDate(query.createdFrom, 'createdFrom').getTime();
  const bound =
    query.createdBefore === undefined
      ? undefined
      : { time: checkStorableDate(query.createdBefore, 'createdBefore').getTime(), id: '' };
  const cursor = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
  const after = cursor && { time: cursor.createdAt.getTime(), id: cursor.id };
  const before =
    bound === undefined || (after !== undefined && compareEntries(after, bound) < 0) ? after : bound;
  const now = store.now();
  const jobs: JobRecordHeader[] = [];
  let more = false;
  for (const entry of store.all.descending(before)) {
    if (from !== null && entry.time < from) break;
    const job = store.live(entry.id, now);
    if (!job || !filter(job) || (query.status !== undefined && job.status !== query.status)) continue;
    if (jobs.length === limit) {
      more = true;
      break;
    }
    jobs.push(header(job));
  }
  const last = jobs.at(-1);
  return {
    jobs,
    nextCursor: more && last ? encodeCursor({ createdAt: last.createdAt, id: last.id }) : null,
  };
}

/**
 * Per endpoint: queued and running jobs now, the final jobs finished since the window's start by status and by
 * bucket, and the run times of those that succeeded or failed. One pass over the jobs stored (the memory
 * repository holds at most `maxJobs`).
 */
export function stats(store: JobStore, query: StatsQuery): EndpointStats[] {
  const filter = checkFilter(query);
  const since = checkStorableDate(query.since, 'since').getTime();
  const bucketMs = checkNumber('bucketMs', query.bucketMs, 'positiveInteger', (message) =>
    InvalidInputError.field('bucketMs', message),
  );
  const now = store.now();
  const byEndpoint = new Map<
    string,
    { counts: Record<JobStatus, number>; buckets: Map<number, StatsBucket>; runs: number[] }
  >();
  for (const job of store.jobs.values()) {
    if ((job.expiresAt !== null && job.expiresAt <= now) || !filter(job)) continue;
    const final = job.status !== 'queued' && job.status !== 'running';
    if (final && (job.finishedAt === null || job.finishedAt < since)) continue;
    let entry = byEndpoint.get(job.endpoint);
    if (!entry) {
      entry = { counts: zeroCounts(), buckets: new Map(), runs: [] };
      byEndpoint.set(job.endpoint, entry);
    }
    entry.counts[job.status] += 1;
    if (!final) continue;
    const index = Math.floor((job.finishedAt! - since) / bucketMs);
    let bucket = entry.buckets.get(index);
    if (!bucket) {
      bucket = { start: new Date(since + index * bucketMs), succeeded: 0, failed: 0, canceled: 0 };
      entry.buckets.set(index, bucket);
    }
    bucket[job.status as 'succeeded' | 'failed' | 'canceled'] += 1;
    if (job.status !== 'canceled' && job.startedAt !== null) entry.runs.push(job.finishedAt! - job.startedAt);
  }
  return [...byEndpoint.entries()]
    .sort(([a], [b]) => compareIds(a, b))
    .map(([endpoint, entry]) => ({
      endpoint,
      counts: entry.counts,
      buckets: [...entry.buckets.entries()].sort(([a], [b]) => a - b).map(([, bucket]) => bucket),
      runTime: runTimeStats(entry.runs),
    }));
}

/** The endpoint and owner filters of a search or stats query, checked: a predicate on a stored job. */
function checkFilter(query: SearchQuery | StatsQuery): (job: Stored) => boolean {
  const endpoints =
    query.endpoints === undefined ? null : new Set(query.endpoints.map((name) => text(name, 'endpoints')));
  const owner =
    query.owner === undefined ? undefined : query.owner === null ? null : text(query.owner, 'owner');
  return (job) =>
    (endpoints === null || endpoints.has(job.endpoint)) && (owner === undefined || job.owner === owner);
}
