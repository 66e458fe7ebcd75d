import { unrefTimer } from './notifier.js';
import type { JobQueue } from './queue.js';
import type { DispatchQuery, JobRepository } from './repository.js';
import { runCleanup } from './service.js';
import { consoleLogger, type Logger } from './util.js';
import type { Worker } from './worker.js';

export interface SweeperOptions {
  repository: JobRepository;
  queue: JobQueue;
  /** Workers whose `cleanup` runs for succeeded jobs that expire. */
  workers?: readonly Worker<any>[];
  /**
   * Endpoints whose long-unclaimed jobs this sweeper re-dispatches (checking the queue's depth first).
   * Default: the workers' endpoints, or every endpoint (without a depth check) when there are no workers.
   */
  endpoints?: readonly string[];
  /** Time between sweeps (±10 % jitter, so many sweepers spread out). Default 5 s. */
  intervalMs?: number;
  /** Jobs deleted or re-dispatched per statement. Default 500. */
  batchSize?: number;
  /** Batches per sweep and kind, so one sweep stays short under a backlog. Default 20. */
  maxBatches?: number;
  /** A job never handed to the queue is dispatched this long after it became due. Default 5 s. */
  undispatchedGraceMs?: number;
  /** A dispatched job still not claimed after this long is dispatched again. Default 5 min. */
  redispatchAfterMs?: number;
  logger?: Logger;
}

const CLEANUP_CONCURRENCY = 8;

async function inParallel<T>(
  items: readonly T[],
  limit: number,
  run: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await run(items[next++]!);
  });
  await Promise.all(lanes);
}

export interface SweepReport {
  expired: number;
  dispatched: number;
}

/**
 * Housekeeping that is safe to run in many processes at once: deletes finished jobs past their retention,
 * dispatches jobs the queue never got or lost, and jobs whose worker died (lease expired).
 */
export class Sweeper {
  readonly #options: Required<Omit<SweeperOptions, 'workers' | 'logger' | 'endpoints'>>;
  readonly #endpoints: readonly string[] | null;
  readonly #workers: Map<string, Worker<any>>;
  readonly #logger: Logger;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #running: Promise<unknown> | null = null;
  #stopped = true;

  constructor(options: SweeperOptions) {
    this.#options = {
      repository: options.repository,
      queue: options.queue,
      intervalMs: options.intervalMs ?? 5_000,
      batchSize: options.batchSize ?? 500,
      maxBatches: options.maxBatches ?? 20,
      undispatchedGraceMs: options.undispatchedGraceMs ?? 5_000,
      redispatchAfterMs: options.redispatchAfterMs ?? 5 * 60_000,
    };
    this.#workers = new Map((options.workers ?? []).map((worker) => [worker.endpoint.name, worker]));
    this.#endpoints = options.endpoints ?? (this.#workers.size > 0 ? [...this.#workers.keys()] : null);
    this.#logger = options.logger ?? consoleLogger;
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#schedule();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#running?.catch(() => {});
  }

  /** One full sweep. Errors are logged, never thrown: a sweep that fails is simply done again next time. */
  async sweep(): Promise<SweepReport> {
    const report = { expired: 0, dispatched: 0 };
    const { repository, queue, batchSize, maxBatches } = this.#options;
    await this.#step('expiry', async () => {
      for (let batch = 0; batch < maxBatches; batch++) {
        const expired = await repository.deleteExpired(batchSize);
        report.expired += expired.length;
        await inParallel(expired, CLEANUP_CONCURRENCY, (job) =>
          runCleanup(this.#workers.get(job.endpoint), job, this.#logger),
        );
        if (expired.length < batchSize) break;
      }
    });
    // Jobs never handed to the queue, and jobs whose worker died: always dispatched.
    await this.#step('dispatch', async () => {
      report.dispatched += await this.#dispatch({ redispatchAfterMs: null });
    });
    // Jobs handed to the queue long ago and still not claimed: the message may be lost, or only waiting
    // behind a backlog. Where the queue can tell its depth, re-dispatch only when it holds nothing, so a
    // long backlog is not multiplied by copies. Each endpoint on its own: one failing does not stop the rest.
    for (const endpoint of this.#endpoints ?? [undefined]) {
      await this.#step(`re-dispatch ${endpoint ?? ''}`, async () => {
        if (endpoint !== undefined && queue.depth && (await queue.depth(endpoint)) > 0) return;
        report.dispatched += await this.#dispatch({
          redispatchAfterMs: this.#options.redispatchAfterMs,
          endpoint,
        });
      });
    }
    return report;
  }

  async #step(name: string, step: () => Promise<void>): Promise<void> {
    try {
      await step();
    } catch (error) {
      this.#logger.warn(`sweep: ${name} interrupted`, { error: String(error) });
    }
  }

  async #dispatch(query: Pick<DispatchQuery, 'redispatchAfterMs' | 'endpoint'>): Promise<number> {
    const { repository, queue, batchSize, maxBatches, undispatchedGraceMs } = this.#options;
    let dispatched = 0;
    for (let batch = 0; batch < maxBatches; batch++) {
      const due = await repository.findDispatchable({ ...query, undispatchedGraceMs, limit: batchSize });
      for (const { id, endpoint } of due) {
        await queue.publish(endpoint, id);
        await repository.markDispatched(id);
        dispatched++;
      }
      if (due.length < batchSize) break;
    }
    return dispatched;
  }

  #schedule(): void {
    if (this.#stopped) return;
    const delay = this.#options.intervalMs * (0.9 + Math.random() * 0.2);
    this.#timer = setTimeout(() => {
      this.#running = this.sweep().finally(() => {
        this.#running = null;
        this.#schedule();
      });
    }, delay);
    unrefTimer(this.#timer);
  }
}

export function createSweeper(options: SweeperOptions): Sweeper {
  return new Sweeper(options);
}
