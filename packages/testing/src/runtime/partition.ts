import { type JobRepository, UnavailableError } from '@jobs/core';

/** What a partitionable repository saw of the lease renewals (heartbeats) made through it. */
export interface Renewals {
  /** Renewals that held the lease. */
  held: number;
  /** Renewals refused because the repository was cut off. */
  failed: number;
  /** When (this process's clock) the latest renewal that held the lease was made. */
  lastHeldAt: number | null;
}

export interface Partition {
  repository: JobRepository;
  /** From now on every call fails with `UnavailableError` (a dropped connection). */
  cut(): void;
  /** From now on every call hangs, never settling (a black-holed network: nothing answers, nothing closes). */
  hang(): void;
  /** Calls reach the repository again. */
  heal(): void;
  renewals: Renewals;
  /** Claims refused because the repository was cut off. */
  failedClaims(): number;
}

/** A view of a repository that can be cut off, or made to hang, like a crashed or partitioned process, and healed. */
export function partitionable(repository: JobRepository): Partition {
  let state: 'up' | 'cut' | 'hung' = 'up';
  let failedClaims = 0;
  const renewals: Renewals = { held: 0, failed: 0, lastHeldAt: null };
  const guard = async <T>(call: () => Promise<T>): Promise<T> => {
    if (state === 'cut') throw new UnavailableError('partitioned (test)');
    if (state === 'hung') return new Promise<T>(() => {});
    return call();
  };
  const view: JobRepository = {
    create: (jobs) => guard(() => repository.create(jobs)),
    get: ((id: string, projection?: 'header') =>
      guard(() =>
        projection ? repository.get(id, projection) : repository.get(id),
      )) as JobRepository['get'],
    claim: (requests) =>
      guard(() => repository.claim(requests)).catch((error: unknown) => {
        if (error instanceof UnavailableError) failedClaims++;
        throw error;
      }),
    heartbeat: (requests) => {
      const madeAt = Date.now();
      return guard(() => repository.heartbeat(requests)).then(
        (results) => {
          for (const result of results) {
            if (!result.ok || !result.value.held) continue;
            renewals.held++;
            renewals.lastHeldAt = Math.max(renewals.lastHeldAt ?? madeAt, madeAt);
          }
          return results;
        },
        (error: unknown) => {
          renewals.failed += requests.length;
          throw error;
        },
      );
    },
    settle: (requests) => guard(() => repository.settle(requests)),
    requestCancel: (id, options) => guard(() => repository.requestCancel(id, options)),
    retry: (id, options) => guard(() => repository.retry(id, options)),
    remove: (id) => guard(() => repository.remove(id)),
    dispatch: (query, publish) => guard(() => repository.dispatch(query, publish)),
    deleteExpired: (limit) => guard(() => repository.deleteExpired(limit)),
    list: (query) => guard(() => repository.list(query)),
    search: (query) => guard(() => repository.search(query)),
    stats: (query) => guard(() => repository.stats(query)),
    claimCleanups: (query) => guard(() => repository.claimCleanups(query)),
    finishCleanup: (id, token, retryAfterMs) =>
      guard(() => repository.finishCleanup(id, token, retryAfterMs)),
    readSchedules: (names) => guard(() => repository.readSchedules(names)),
    advanceSchedule: (name, occurrence) => guard(() => repository.advanceSchedule(name, occurrence)),
    subscribe: (listener, options) =>
      guard(() =>
        repository.subscribe((change) => {
          if (state === 'up') listener(change);
        }, options),
      ),
    close: async () => {},
  };
  return {
    repository: view,
    cut: () => {
      state = 'cut';
    },
    hang: () => {
      state = 'hung';
    },
    heal: () => {
      state = 'up';
    },
    renewals,
    failedClaims: () => failedClaims,
  };
}
