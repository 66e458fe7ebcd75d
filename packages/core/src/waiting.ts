// Waiting for a job: woken by change notifications of that job, polling as a backstop.
import type { CallerOptions } from './caller.js';
import { NotFoundError } from './errors.js';
import { type ChangeNotifier, waitForWake } from './notifier.js';
import { isFinalStatus, type JobChange, type JobRecordHeader } from './types.js';

export interface WaitOptions extends CallerOptions {
  /** Longest wait; the job is returned as it is then. */
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  /** 'final' waits for a final state; 'change' for any change after `since` (default: the state at the call). */
  until?: 'final' | 'change';
  since?: Date | undefined;
}

/** What waits work with: the change subscription, and how often to read the job again without a change. */
export interface Waiting {
  notifier: ChangeNotifier;
  /** While change notifications do not flow. */
  pollIntervalMs: number;
  /** While they flow (a safety net only: notifications wake the waiters). */
  livePollIntervalMs: number;
}

/**
 * Waits for a final state (or any change) of the job and returns its header, read by `read` (which throws
 * when the caller may not see the job). Woken by change notifications of that job only; it reads the job again
 * when a change it waits for arrives, and polls as a backstop.
 */
export async function waitForJob(
  waiting: Waiting,
  id: string,
  options: WaitOptions,
  read: () => Promise<JobRecordHeader>,
): Promise<JobRecordHeader> {
  const deadline = Date.now() + options.timeoutMs;
  const until = options.until ?? 'final';
  let since: number | null = options.since?.getTime() ?? null;
  let changed = false;
  let wake: (() => void) | null = null;
  const relevant = (change: JobChange | null) =>
    change === null ||
    change.status === null ||
    isFinalStatus(change.status) ||
    (until === 'change' && (since === null || change.updatedAt.getTime() !== since));
  // Watch before the first read, so a change between the read and the wait is not missed.
  const unwatch = waiting.notifier.watch(id, (change) => {
    if (!relevant(change)) return;
    changed = true;
    wake?.();
  });
  // Not awaited: until notifications flow the loop polls, and once they do every watcher checks again.
  waiting.notifier.ready().catch(() => {});
  try {
    let job = await read();
    since ??= job.updatedAt.getTime();
    const done = (current: JobRecordHeader) =>
      isFinalStatus(current.status) || (until === 'change' && current.updatedAt.getTime() !== since);
    while (!done(job) && !options.signal?.aborted) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      if (!changed) {
        const poll = waiting.notifier.live ? waiting.livePollIntervalMs : waiting.pollIntervalMs;
        await waitForWake(Math.min(remaining, poll), options.signal, (wakeUp) => {
          wake = wakeUp;
          return () => {
            wake = null;
          };
        });
        if (options.signal?.aborted || (!changed && Date.now() >= deadline)) break;
      }
      changed = false;
      job = await read();
    }
    return job;
  } finally {
    unwatch();
  }
}

/**
 * Yields the job (read by `read`) now and after each change (`waitForChange` after the version it saw), until it
 * is final, the signal aborts or it disappears.
 */
export async function* watchJob(
  read: () => Promise<JobRecordHeader>,
  waitForChange: (since: Date) => Promise<JobRecordHeader>,
  options: { signal?: AbortSignal },
): AsyncGenerator<JobRecordHeader> {
  let job = await read();
  yield job;
  while (!isFinalStatus(job.status) && !options.signal?.aborted) {
    try {
      job = await waitForChange(job.updatedAt);
    } catch (error) {
      if (error instanceof NotFoundError) return;
      throw error;
    }
    if (!options.signal?.aborted) yield job;
  }
}
