import type { JobRecordHeader, JobRepository, NewJob, ProblemDetails } from '@jobs/core';
import { isFinalStatus, newJobId, newLeaseToken, problemType } from '@jobs/core';

/** A name that matches the endpoint pattern and is unique enough for a broker or database shared by runs. */
export function uniqueName(prefix: string): string {
  const random = crypto.randomUUID().replaceAll('-', '').slice(0, 12);
  return `${prefix}-${random}`;
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface WaitForOptions {
  timeoutMs?: number;
  intervalMs?: number;
  message?: string;
}

/** Polls `condition` until it is truthy; rejects with `message` after `timeoutMs`. Never used to assert speed. */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  { timeoutMs = 10_000, intervalMs = 10, message = 'condition' }: WaitForOptions = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${message}.`);
    await delay(intervalMs);
  }
}

export function problem(code: string, detail = `test problem ${code}`): ProblemDetails {
  return { type: problemType(code), title: `Test ${code}`, code, detail };
}

export function makeNewJob(endpoint: string, overrides: Partial<NewJob> = {}): NewJob {
  return {
    id: newJobId(),
    endpoint,
    input: { value: 1 },
    owner: null,
    idempotencyKey: null,
    inputHash: null,
    maxAttempts: 3,
    ...overrides,
  };
}

/** A promise with its resolve function, for handlers and workers a test releases by hand. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/**
 * Wraps a repository so that every job it is asked to create is remembered (and, when `endpoints` is given,
 * every endpoint it is used with), for `purgeJobs` after the test: the suites leave a store shared with other
 * runs as they found it.
 */
export function trackJobs(
  repository: JobRepository,
  ids: Set<string>,
  endpoints?: Set<string>,
): JobRepository {
  return {
    create(jobs) {
      // Every id asked for, stored or not: a refused item that was stored all the same is removed too.
      for (const job of jobs) {
        ids.add(job.id);
        endpoints?.add(job.endpoint);
      }
      return repository.create(jobs);
    },
    get: ((id: string, projection?: 'header') =>
      projection === undefined ? repository.get(id) : repository.get(id, projection)) as JobRepository['get'],
    claim: (requests) => repository.claim(requests),
    heartbeat: (requests) => repository.heartbeat(requests),
    settle: (requests) => repository.settle(requests),
    requestCancel: (id, options) => repository.requestCancel(id, options),
    retry: (id, options) => repository.retry(id, options),
    remove: (id) => repository.remove(id),
    dispatch: (query, publish) => repository.dispatch(query, publish),
    deleteExpired: (limit) => repository.deleteExpired(limit),
    list: (query) => repository.list(query),
    search: (query) => repository.search(query),
    stats: (query) => repository.stats(query),
    claimCleanups: (query) => repository.claimCleanups(query),
    finishCleanup: (id, leaseToken, retryAfterMs) => repository.finishCleanup(id, leaseToken, retryAfterMs),
    readSchedules: (names) => repository.readSchedules(names),
    advanceSchedule: (name, occurrence) => repository.advanceSchedule(name, occurrence),
    subscribe: (listener, options) => repository.subscribe(listener, options),
    close: () => repository.close(),
  };
}

/** Retention of what `purgeJobs` finalizes: long enough for the `remove` that follows. */
const PURGE_RETENTION_MS = 600_000;

/**
 * Best effort: brings each job to a final state and removes it, deletes expired jobs (a test's jobs that expired
 * are absent, so `remove` cannot reach them), then (with `endpoints`) ends the pending cleanups of those endpoints
 * that nobody holds. Errors are ignored (the test already reported).
 */
export async function purgeJobs(
  repository: JobRepository,
  ids: Iterable<string>,
  endpoints: Iterable<string> = [],
): Promise<void> {
  let absent = 0;
  for (const id of ids) {
    try {
      let job: JobRecordHeader | null = await repository.get(id, 'header');
      if (!job) {
        absent++;
        continue;
      }
      if (job.status === 'running' && job.leaseToken) {
        const outcome = { status: 'canceled', error: null, retentionMs: PURGE_RETENTION_MS } as const;
        await repository.settle([{ id, leaseToken: job.leaseToken, outcome }]);
        job = await repository.get(id, 'header');
      } else if (job.status === 'queued') {
        job = await repository.requestCancel(id, {
          retentionMs: PURGE_RETENTION_MS,
          error: problem('canceled'),
        });
      }
      if (job && isFinalStatus(job.status)) await repository.remove(id);
    } catch {
      // best effort
    }
  }
  // A job get cannot see was removed, never stored, or expired: only then may expired ones be left.
  if (absent > 0) {
    try {
      for (let round = 0; round < 10 && (await repository.deleteExpired(500)).length === 500; round++);
    } catch {
      // best effort
    }
  }
  await purgeCleanups(repository, [...endpoints]);
}

async function purgeCleanups(repository: JobRepository, endpoints: string[]): Promise<void> {
  if (endpoints.length === 0) return;
  try {
    for (let round = 0; round < 20; round++) {
      const leaseToken = newLeaseToken();
      const pending = await repository.claimCleanups({ endpoints, limit: 100, leaseMs: 60_000, leaseToken });
      for (const cleanup of pending) await repository.finishCleanup(cleanup.job.id, leaseToken, null);
      if (pending.length < 100) return;
    }
  } catch {
    // best effort
  }
}

/** A job's place in `dispatch` order: lower first, compared element by element. */
export type DispatchRank = readonly number[];

/**
 * Checks that `handedOut` (ids, in the order a dispatch gave them) is what `dispatch` may hand out of
 * `candidates` (every dispatchable job with its rank) with this limit: the first `limit` in rank order, in that
 * order; jobs of equal rank may come in any order (a store may break ties as it likes).
 */
export function expectDispatchOrder(
  handedOut: readonly string[],
  candidates: ReadonlyArray<{ id: string; rank: DispatchRank }>,
  limit: number,
  message?: string,
): void {
  const rankOf = new Map(candidates.map((candidate) => [candidate.id, candidate.rank]));
  const compare = (a: DispatchRank, b: DispatchRank) => {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      const difference = (a[i] ?? 0) - (b[i] ?? 0);
      if (difference !== 0) return difference;
    }
    return 0;
  };
  if (handedOut.length !== Math.min(limit, candidates.length)) {
    throw new Error(
      `${message ?? 'dispatch'}: handed out ${handedOut.length} of ${candidates.length} with limit ${limit}`,
    );
  }
  let last: DispatchRank | null = null;
  for (const id of handedOut) {
    const rank = rankOf.get(id);
    if (!rank) throw new Error(`${message ?? 'dispatch'}: handed out ${id}, which is not dispatchable`);
    if (last && compare(rank, last) < 0) throw new Error(`${message ?? 'dispatch'}: ${id} came out of order`);
    last = rank;
  }
  if (!last) return;
  const given = new Set(handedOut);
  const skipped = candidates.find(
    (candidate) => !given.has(candidate.id) && compare(candidate.rank, last) < 0,
  );
  if (skipped) throw new Error(`${message ?? 'dispatch'}: ${skipped.id} was skipped for a later one`);
}
