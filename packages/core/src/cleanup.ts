import { newLeaseToken } from './ids.js';
import { consoleLogger, describeError, jobLogFields, type Logger } from './logger.js';
import { numberOption } from './options.js';
import type { JobRepository, PendingCleanup } from './repository.js';
import { unrefTimer, withTimeout } from './timers.js';
import { toJobHeader } from './types.js';
import type { Worker } from './worker.js';

export interface CleanupRunnerOptions {
  repository: JobRepository;
  /** The workers of this process; those with a `cleanup` run the cleanups of their endpoint. */
  workers: readonly Worker<any>[];
  /** Longest one cleanup may take before it counts as failed. Default 30 s. */
  timeoutMs?: number;
  /** Attempts of one cleanup before it is given up (and logged as an error). Default 10. */
  maxAttempts?: number;
  /** Delay before the second attempt; doubles each time, up to 1 h. Default 10 s. */
  retryDelayMs?: number;
  /** Looks for due cleanups at least this often. Default 5 s. */
  pollIntervalMs?: number;
  /** Cleanups run at once. Default 8. */
  concurrency?: number;
  logger?: Logger;
}

const MAX_RETRY_DELAY_MS = 60 * 60_000;

/**
 * Runs the worker cleanups of succeeded jobs that were deleted or expired. They wait in the repository, so a
 * cleanup that fails is tried again with backoff, and one whose process died is taken over by any process that
 * has the worker once its lease expires.
 */
export class CleanupRunner {
  readonly #repository: JobRepository;
  readonly #workers: Map<string, Worker<any>>;
  readonly #timeoutMs: number;
  readonly #maxAttempts: number;
  readonly #retryDelayMs: number;
  readonly #pollIntervalMs: number;
  readonly #concurrency: number;
  readonly #logger: Logger;
  #timer: ReturnType<typeof setTimeout> | null = null;
  /** Cleanups running now: a slow one holds its slot only, never the others. */
  readonly #active = new Set<Promise<void>>();
  #claiming: Promise<void> | null = null;
  #again = false;
  #stopped = true;

  constructor(options: CleanupRunnerOptions) {
    this.#repository = options.repository;
    this.#workers = new Map(
      options.workers.filter((worker) => worker.cleanup).map((worker) => [worker.endpoint.name, worker]),
    );
    this.#timeoutMs = numberOption('timeoutMs', options.timeoutMs, 'positive', 30_000);
    this.#maxAttempts = numberOption('maxAttempts', options.maxAttempts, 'positiveInteger', 10);
    this.#retryDelayMs = numberOption('retryDelayMs', options.retryDelayMs, 'nonNegative', 10_000);
    this.#pollIntervalMs = numberOption('pollIntervalMs', options.pollIntervalMs, 'positive', 5_000);
    this.#concurrency = numberOption('concurrency', options.concurrency, 'positiveInteger', 8);
    this.#logger = options.logger ?? consoleLogger;
  }

  /** Whether this process has any worker with a cleanup (else the runner has nothing to do). */
  get active(): boolean {
    return this.#workers.size > 0;
  }

  start(): void {
    if (!this.#stopped || !this.active) return;
    this.#stopped = false;
    this.wake();
  }

  /** Takes due cleanups now, as many as there are free slots (after the claim in progress, if any). */
  wake(): void {
    if (this.#stopped) return;
    if (this.#claiming) {
      this.#again = true;
      return;
    }
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#claiming = this.#claim().finally(() => {
      this.#claiming = null;
      if (this.#again) {
        this.#again = false;
        this.wake();
      } else this.#schedule();
    });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#claiming;
    await Promise.allSettled([...this.#active]);
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => this.wake(), this.#pollIntervalMs);
    unrefTimer(this.#timer);
  }

  async #claim(): Promise<void> {
    const free = this.#concurrency - this.#active.size;
    if (free <= 0) return;
    try {
      const leaseToken = newLeaseToken();
      const due = await this.#repository.claimCleanups({
        endpoints: [...this.#workers.keys()],
        limit: free,
        leaseMs: this.#timeoutMs * 2,
        leaseToken,
      });
      for (const pending of due) {
        const running: Promise<void> = this.#run(pending, leaseToken).finally(() => {
          this.#active.delete(running);
          // A slot is free: more may be waiting.
          this.wake();
        });
        this.#active.add(running);
      }
    } catch (error) {
      this.#logger.warn({ error: describeError(error) }, 'cleanups could not be fetched; trying again later');
    }
  }

  async #run(pending: PendingCleanup, leaseToken: string): Promise<void> {
    const { job, attempt } = pending;
    const worker = this.#workers.get(job.endpoint);
    let retryAfterMs: number | null = null;
    try {
      const cleanup = worker?.cleanup;
      if (cleanup) {
        await withTimeout(
          Promise.resolve().then(() =>
            cleanup({ input: job.input, output: job.output, job: toJobHeader(job) }),
          ),
          this.#timeoutMs,
          () => new Error(`cleanup took longer than ${this.#timeoutMs} ms`),
        );
      }
    } catch (error) {
      const fields = { ...jobLogFields(job), attempt, error: describeError(error) };
      if (attempt >= this.#maxAttempts) this.#logger.error(fields, 'worker cleanup failed; giving up');
      else {
        this.#logger.warn(fields, 'worker cleanup failed; it will be tried again');
        retryAfterMs = Math.min(MAX_RETRY_DELAY_MS, this.#retryDelayMs * 2 ** (attempt - 1));
      }
    }
    try {
      await this.#repository.finishCleanup(job.id, leaseToken, retryAfterMs);
    } catch (error) {
      this.#logger.warn(
        { ...jobLogFields(job), error: describeError(error) },
        'could not record a cleanup; it runs again after its lease',
      );
    }
  }
}
