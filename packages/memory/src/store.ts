import type { JobChange } from '@jobs/core';
import { JobIndexes } from './indexes.js';
import { type ListEntry, SortedEntries } from './sorted-list.js';
import { change, type Stored, type StoredCleanup } from './stored.js';

/**
 * What the repository's operations work with (as repo-sqlite's take its `Database`): every job by id, the
 * indexes over them (see indexes.ts), the pending cleanups, the schedules' state, the subscribers, the clock.
 */
export class JobStore {
  readonly jobs = new Map<string, Stored>();
  /** (owner, endpoint, idempotencyKey) → job id. */
  readonly idempotency = new Map<string, string>();
  /** (owner, endpoint, uniqueKey) → the job that took the key last (it holds it while queued or running). */
  readonly unique = new Map<string, string>();
  /** (endpoint, owner) → that owner's jobs, ascending by (createdAt, id). */
  readonly lists = new Map<string, SortedEntries>();
  /** Every job, ascending by (createdAt, id): what `search` walks. */
  readonly all = new SortedEntries();
  readonly indexes = new JobIndexes();
  /** Jobs a dispatch holds while it publishes them (besides the due ones it took out of the index). */
  readonly dispatching = new Set<string>();
  readonly cleanups = new Map<string, StoredCleanup>();
  /** endpoint → its live jobs stored with a limit key (final ones are dropped when met). */
  readonly limited = new Map<string, Set<Stored>>();
  /** endpoint → its recent dispatches of keyed jobs (for rate limits), oldest first. */
  readonly dispatches = new Map<string, Array<{ key: string; at: number }>>();
  /** Recurring schedule name → its last recorded occurrence (ms). */
  readonly schedules = new Map<string, number>();
  readonly listeners = new Set<(change: JobChange) => void>();
  readonly #clock: () => number;

  constructor(
    clock: () => number,
    /** Jobs stored at most. */
    readonly maxJobs: number,
  ) {
    this.#clock = clock;
  }

  now(): number {
    const now = this.#clock();
    if (typeof now !== 'number' || !Number.isFinite(now))
      throw new TypeError('The clock returned no valid time.');
    return Math.floor(now);
  }

  /** The job, unless it is unknown or expired (a final job past its expiresAt is absent). */
  live(id: string | undefined, now: number): Stored | undefined {
    const job = id === undefined ? undefined : this.jobs.get(id);
    if (!job || (job.expiresAt !== null && job.expiresAt <= now)) return undefined;
    return job;
  }

  /** Removes a final job (leaving its pending cleanup) and announces it. */
  delete(job: Stored, now: number): void {
    this.jobs.delete(job.id);
    this.indexes.remove(job);
    if (job.idempotencyKey !== null) {
      const key = JSON.stringify([job.owner, job.endpoint, job.idempotencyKey]);
      if (this.idempotency.get(key) === job.id) this.idempotency.delete(key);
    }
    if (job.uniqueKey !== null) {
      const key = uniqueIndexKey(job.owner, job.endpoint, job.uniqueKey);
      if (this.unique.get(key) === job.id) this.unique.delete(key);
    }
    const key = listKey(job.endpoint, job.owner);
    const entries = this.lists.get(key);
    if (entries) {
      entries.delete(entryOf(job));
      if (entries.size === 0) this.lists.delete(key);
    }
    this.all.delete(entryOf(job));
    if (job.cleanup && job.status === 'succeeded') {
      this.cleanups.set(job.id, { job, attempt: 0, dueAt: now, leaseToken: null, leaseExpiresAt: 0 });
    }
    this.notify(job, now);
  }

  /** The queued or running job other than `except` that holds the unique key, if any. */
  uniqueHolder(key: string, except?: string): Stored | undefined {
    const id = this.unique.get(key);
    const job = id === undefined || id === except ? undefined : this.jobs.get(id);
    return job && (job.status === 'queued' || job.status === 'running') ? job : undefined;
  }

  limitedOf(endpoint: string): Set<Stored> {
    let jobs = this.limited.get(endpoint);
    if (!jobs) {
      jobs = new Set();
      this.limited.set(endpoint, jobs);
    }
    return jobs;
  }

  listInsert(job: Stored): void {
    const key = listKey(job.endpoint, job.owner);
    let entries = this.lists.get(key);
    if (!entries) {
      entries = new SortedEntries();
      this.lists.set(key, entries);
    }
    entries.insert(entryOf(job));
    this.all.insert(entryOf(job));
  }

  /** Tells every subscriber, later: a listener never runs inside a repository call. */
  notify(job: Stored, removedAt?: number): void {
    if (this.listeners.size === 0) return;
    const announced = change(job, removedAt);
    queueMicrotask(() => {
      for (const listener of this.listeners) {
        try {
          listener(announced);
        } catch {
          // A failing listener must not break the repository or the other listeners.
        }
      }
    });
  }
}

export function uniqueIndexKey(owner: string | null, endpoint: string, uniqueKey: string): string {
  return JSON.stringify([owner, endpoint, uniqueKey]);
}

export function listKey(endpoint: string, owner: string | null): string {
  return JSON.stringify([endpoint, owner]);
}

function entryOf(job: Stored): ListEntry {
  return { time: job.createdAt, id: job.id };
}
