import { type DispatchLimits, NO_LIMITS } from './flow.js';
import { consoleLogger, describeError, type Logger } from './logger.js';
import { numberOption } from './options.js';
import { publishItems } from './publish.js';
import type { JobQueue } from './queue.js';
import type { JobRepository } from './repository.js';
import { Telemetry } from './telemetry.js';
import { unrefTimer } from './timers.js';

export interface SweeperOptions {
  repository: JobRepository;
  queue: JobQueue;
  /**
   * Endpoints whose long-unclaimed jobs this sweeper re-dispatches (checking the queue's depth first).
   * Default every endpoint, without a depth check.
   */
  endpoints?: readonly string[];
  /** Time between sweeps (±10 % jitter, so many sweepers spread out). Default 5 s. */
  intervalMs?: number;
  /** Jobs deleted or re-dispatched per repository call. Default 500. */
  batchSize?: number;
  /** Calls per sweep and kind, so one sweep stays short under a backlog. Default 20. */
  maxBatches?: number;
  /** A dispatched job still not claimed after this long is dispatched again (its message may be lost). Default 5 min. */
  redispatchAfterMs?: number;
  /**
   * The endpoints' bounds on jobs waiting in the queue (EndpointOptions.dispatchAhead): a re-dispatch, which also
   * takes due jobs never handed out, keeps to them as the dispatcher does.
   */
  dispatchAhead?: ReadonlyMap<string, number>;
  /**
   * The endpoints' flow limits: their keyed jobs are re-dispatched keeping to them. Keyed jobs of the other
   * endpoints in `endpoints` (stored while the endpoint had limits) are handed out without caps.
   */
  limits?: ReadonlyMap<string, DispatchLimits>;
  /** Called after expired jobs were deleted (the runtime wakes its cleanup runner). */
  onExpired?: (count: number) => void;
  /** Dispatch spans and messaging metrics (the runtime passes its own); default: none. */
  telemetry?: Telemetry;
  logger?: Logger;
}

export interface SweepReport {
  expired: number;
  dispatched: number;
}

/**
 * Housekeeping that is safe to run in many processes at once: deletes finished jobs past their retention
 * (leaving their worker cleanups pending in the repository), and hands out again jobs whose message the queue
 * lost. Jobs never handed out, and jobs whose worker died, are the dispatcher's.
 */
export class Sweeper {
  readonly #repository: JobRepository;
  readonly #queue: JobQueue;
  readonly #endpoints: readonly string[] | null;
  readonly #intervalMs: number;
  readonly #batchSize: number;
  readonly #maxBatches: number;
  readonly #redispatchAfterMs: number;
  readonly #dispatchAhead: ReadonlyMap<string, number>;
  readonly #limits: ReadonlyMap<string, DispatchLimits>;
  readonly #onExpired: (count: number) => void;
  readonly #logger: Logger;
  readonly #telemetry: Telemetry;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #running: Promise<unknown> | null = null;
  #stopped = true;

  constructor(options: SweeperOptions) {
    this.#repository = options.repository;
    this.#queue = options.queue;
    this.#endpoints = options.endpoints ?? null;
    this.#intervalMs = numberOption('intervalMs', options.intervalMs, 'positive', 5_000);
    this.#batchSize = numberOption('batchSize', options.batchSize, 'positiveInteger', 500);
    this.#maxBatches = numberOption('maxBatches', options.maxBatches, 'positiveInteger', 20);
    this.#redispatchAfterMs = numberOption(
      'redispatchAfterMs',
      options.redispatchAfterMs,
      'nonNegative',
      300_000,
    );
    this.#dispatchAhead = options.dispatchAhead ?? new Map();
    this.#limits = options.limits ?? new Map();
    this.#onExpired = options.onExpired ?? (() => {});
    this.#logger = options.logger ?? consoleLogger;
    this.#telemetry = options.telemetry ?? Telemetry.disabled;
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
    await this.#step('expiry', async () => {
      for (let batch = 0; batch < this.#maxBatches; batch++) {
        const expired = await this.#repository.deleteExpired(this.#batchSize);
        report.expired += expired.length;
        if (expired.length > 0) this.#onExpired(expired.length);
        if (expired.length < this.#batchSize) break;
      }
    });
    // Jobs handed to the queue long ago and still not claimed: the message may be lost, or only waiting
    // behind a backlog. Where the queue can tell its depth, re-dispatch only when it holds nothing, so a
    // long backlog is not multiplied by copies. Each endpoint on its own: one failing does not stop the rest.
    // Without a list of endpoints: one call for the unbounded ones, and one per bounded endpoint.
    for (const endpoint of this.#endpoints ?? [undefined, ...this.#dispatchAhead.keys()]) {
      await this.#step(`re-dispatch ${endpoint ?? ''}`, async () => {
        if (endpoint !== undefined && this.#queue.depth && (await this.#queue.depth(endpoint)) > 0) return;
        report.dispatched += await this.#redispatch(endpoint);
      });
    }
    // Keyed jobs (flow limits) are only handed out by a dispatch that keeps to their endpoint's limits.
    const keyed = this.#endpoints ?? [...this.#limits.keys()];
    for (const endpoint of keyed) {
      await this.#step(`re-dispatch ${endpoint} (limits)`, async () => {
        if (this.#queue.depth && (await this.#queue.depth(endpoint)) > 0) return;
        report.dispatched += await this.#redispatch(endpoint, this.#limits.get(endpoint) ?? NO_LIMITS);
      });
    }
    return report;
  }

  async #step(name: string, step: () => Promise<void>): Promise<void> {
    try {
      await step();
    } catch (error) {
      this.#logger.warn({ error: describeError(error) }, `sweep: ${name} interrupted`);
    }
  }

  async #redispatch(endpoint: string | undefined, limits?: DispatchLimits): Promise<number> {
    let dispatched = 0;
    for (let batch = 0; batch < this.#maxBatches; batch++) {
      const result = await this.#repository.dispatch(
        {
          limit: this.#batchSize,
          endpoints: endpoint === undefined ? undefined : [endpoint],
          ...(endpoint === undefined
            ? { exceptEndpoints: [...this.#dispatchAhead.keys()] }
            : { maxAhead: this.#dispatchAhead.get(endpoint) }),
          redispatchAfterMs: this.#redispatchAfterMs,
          ...(limits ? { limits } : {}),
        },
        (items) => publishItems(this.#queue, items, this.#logger, this.#telemetry),
      );
      dispatched += result.dispatched;
      if (result.found < this.#batchSize || result.dispatched < result.found) break;
    }
    return dispatched;
  }

  #schedule(): void {
    if (this.#stopped) return;
    const delay = this.#intervalMs * (0.9 + Math.random() * 0.2);
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
