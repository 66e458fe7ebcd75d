import type { JobRecord, JobRepository, NewJob, ProblemDetails } from '@jobs/core';
import { isFinalStatus, newJobId, problemType } from '@jobs/core';

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
    estimatedCompletionAt: null,
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
 * Wraps a repository so that every job it creates is remembered, for `purgeJobs` after the test:
 * the suites leave a store shared with other runs as they found it.
 */
export function trackJobs(repository: JobRepository, ids: Set<string>): JobRepository {
  return {
    async create(job) {
      const result = await repository.create(job);
      ids.add(result.job.id);
      return result;
    },
    get: (id) => repository.get(id),
    claim: (id, options) => repository.claim(id, options),
    heartbeat: (id, token, options) => repository.heartbeat(id, token, options),
    settle: (id, token, outcome) => repository.settle(id, token, outcome),
    requestCancel: (id, options) => repository.requestCancel(id, options),
    remove: (id) => repository.remove(id),
    markDispatched: (id) => repository.markDispatched(id),
    findDispatchable: (query) => repository.findDispatchable(query),
    deleteExpired: (limit) => repository.deleteExpired(limit),
    list: (query) => repository.list(query),
    subscribe: (listener) => repository.subscribe(listener),
    close: () => repository.close(),
  };
}

/** Best effort: brings each job to a final state and removes it. Errors are ignored (the test already reported). */
export async function purgeJobs(repository: JobRepository, ids: Iterable<string>): Promise<void> {
  for (const id of ids) {
    try {
      let job: JobRecord | null = await repository.get(id);
      if (!job) continue;
      if (job.status === 'running' && job.leaseToken) {
        job = await repository.settle(id, job.leaseToken, {
          status: 'canceled',
          error: null,
          retentionMs: 0,
        });
      } else if (job.status === 'queued') {
        job = await repository.requestCancel(id, { retentionMs: 0, error: problem('canceled') });
      }
      if (job && isFinalStatus(job.status)) await repository.remove(id);
    } catch {
      // best effort
    }
  }
}
