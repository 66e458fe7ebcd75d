import type { DispatchLimits } from './flow.js';
import { consoleLogger, describeError, type Logger } from './logger.js';
import type { ChangeNotifier } from './notifier.js';
import { numberOption } from './options.js';
import { publishItems } from './publish.js';
import type { JobQueue } from './queue.js';
import type { DispatchQuery, JobRepository } from './repository.js';
import { Telemetry } from './telemetry.js';
import { unrefTimer } from './timers.js';
import { isFinalStatus, type JobChange } from './types.js';

export interface DispatcherOptions {
  repository: JobRepository;
  queue: JobQueue;
  /** Change notifications: a job queued by any process (a submit, a retry, a release) wakes the dispatcher. */
  notifier: ChangeNotifier;
  /** Jobs per repository call. Default 500. */
  batchSize?: number;
  /** Looks for due jobs at least this often: delayed retries, jobs whose worker died, missed notifications. Default 1 s. */
  pollIntervalMs?: number;
  /** Only these endpoints' jobs; default every endpoint. */
  endpoints?: readonly string[];
  /**
   * Endpoints whose queued jobs are handed out only while fewer than this many of theirs wait in the queue
   * (`Endpoint.dispatchAhead`): the rest wait in the repository in priority order. With any, the dispatcher also
   * wakes whenever a job starts (a place in the queue came free), and keeps to `endpoints` (or these) only.
   */
  dispatchAhead?: ReadonlyMap<string, number>;
  /**
   * Endpoints with flow limits (`Endpoint.limits`): their jobs stored with a limit key are handed out by a dispatch
   * of their own that keeps to these caps (each pass, one per such endpoint). With any, the dispatcher also wakes
   * whenever a job ends or goes back to the queue (a slot came free).
   */
  limits?: ReadonlyMap<string, DispatchLimits>;
  /** Dispatch spans and messaging metrics (the runtime passes its own); default: none. */
  telemetry?: Telemetry;
  logger?: Logger;
}

/** What one pass of the dispatcher did. */
interface Pass {
  dispatched: number;
  found: number;
  /** A call took as many as it could: more may be waiting. */
  more: boolean;
  nextDueInMs: number | null;
}

/** Jobs remembered as submitted here, whose own notification need not wake the dispatcher again. */
const MAX_OWN = 10_000;
const MAX_BACKOFF_MS = 5_000;

/**
 * Hands queued jobs to the queue, each exactly once across any number of processes: it takes due jobs from
 * the repository in batches (`JobRepository.dispatch` holds them while they are published), publishes each
 * batch with every message in flight at once, and records which were accepted. It wakes at once for a job
 * submitted in this process, on a change notification of a job queued elsewhere (or inside a transaction that
 * just committed), when the next delayed job is due, and every poll interval as a backstop.
 */
export class Dispatcher {
  readonly #repository: JobRepository;
  readonly #queue: JobQueue;
  readonly #notifier: ChangeNotifier;
  readonly #logger: Logger;
  readonly #telemetry: Telemetry;
  readonly #batchSize: number;
  readonly #pollIntervalMs: number;
  readonly #endpoints: readonly string[] | undefined;
  readonly #dispatchAhead: ReadonlyMap<string, number>;
  readonly #limits: ReadonlyMap<string, DispatchLimits>;
  readonly #own = new Set<string>();
  #requested = false;
  #wake: (() => void) | null = null;
  #loop: Promise<void> | null = null;
  #unwatch: (() => void) | null = null;
  #stopped = true;
  #failures = 0;
  /** While the repository or the queue fails, wake-ups wait for the backoff instead of cutting it short. */
  #backoffUntil = 0;

  constructor(options: DispatcherOptions) {
    this.#repository = options.repository;
    this.#queue = options.queue;
    this.#notifier = options.notifier;
    this.#logger = options.logger ?? consoleLogger;
    this.#telemetry = options.telemetry ?? Telemetry.disabled;
    this.#batchSize = numberOption('batchSize', options.batchSize, 'positiveInteger', 500);
    this.#pollIntervalMs = numberOption('pollIntervalMs', options.pollIntervalMs, 'positive', 1_000);
    this.#dispatchAhead = options.dispatchAhead ?? new Map();
    this.#limits = options.limits ?? new Map();
    this.#endpoints = options.endpoints;
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#unwatch = this.#notifier.watchAll((change) => this.#onChange(change));
    this.#notifier.ready().catch(() => {});
    this.#requested = true;
    this.#loop = this.#run();
  }

  /** A job was stored by this process: dispatch it now (its own notification is then ignored). */
  submitted(id: string): void {
    if (this.#own.size >= MAX_OWN) this.#own.clear();
    this.#own.add(id);
    this.wake();
  }

  /** Asks for a dispatch pass as soon as the current one (if any) is done. */
  wake(): void {
    this.#requested = true;
    if (Date.now() >= this.#backoffUntil) this.#wake?.();
  }

  /** Runs passes until nothing due is left (also when stopped: used by a stopping runtime for released jobs). */
  async flush(): Promise<void> {
    for (;;) {
      const result = await this.#pass();
      if (!result?.more) return;
    }
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#unwatch?.();
    this.#unwatch = null;
    this.#wake?.();
    await this.#loop;
    this.#loop = null;
  }

  #onChange(change: JobChange | null): void {
    const due = change === null || (change.status === 'queued' && !this.#own.delete(change.id));
    // A job started: with a bound on the queue, its place there is free for the next one.
    const roomFreed = change?.status === 'running' && this.#dispatchAhead.size > 0;
    // A job ended (or went back to the queue for a retry): with flow limits, its slot is free for the next one.
    const slotFreed =
      this.#limits.size > 0 &&
      change !== null &&
      ((change.status !== null && isFinalStatus(change.status)) ||
        (change.status === 'queued' && change.attempt > 0));
    if (due || roomFreed || slotFreed) this.wake();
  }

  async #run(): Promise<void> {
    let sleepMs = 0;
    while (!this.#stopped) {
      if (!this.#requested) await this.#sleep(sleepMs);
      if (this.#stopped) break;
      this.#requested = false;
      const result = await this.#pass();
      if (!result || result.dispatched < result.found) {
        if (result) this.#failures++;
        sleepMs = Math.min(MAX_BACKOFF_MS, 100 * 2 ** Math.min(this.#failures - 1, 10));
        this.#backoffUntil = Date.now() + sleepMs;
        this.#requested = false;
        continue;
      }
      this.#failures = 0;
      if (result.more) this.#requested = true;
      sleepMs =
        result.nextDueInMs === null
          ? this.#pollIntervalMs
          : Math.min(this.#pollIntervalMs, Math.max(1, result.nextDueInMs));
    }
  }

  /**
   * One pass: one dispatch call, or with bounded endpoints one per such endpoint and one for the others, and one
   * per endpoint with flow limits for its keyed jobs; null when it failed (logged).
   */
  async #pass(): Promise<Pass | null> {
    const queries: DispatchQuery[] = [];
    if (this.#dispatchAhead.size === 0) {
      queries.push({ limit: this.#batchSize, endpoints: this.#endpoints, redispatchAfterMs: null });
    } else {
      const bounded = [...this.#dispatchAhead].filter(
        ([name]) => !this.#endpoints || this.#endpoints.includes(name),
      );
      for (const [name, maxAhead] of bounded) {
        queries.push({ limit: this.#batchSize, endpoints: [name], redispatchAfterMs: null, maxAhead });
      }
      const boundedNames = bounded.map(([name]) => name);
      const others = this.#endpoints?.filter((name) => !this.#dispatchAhead.has(name));
      if (others === undefined || others.length > 0) {
        queries.push({
          limit: this.#batchSize,
          endpoints: others,
          exceptEndpoints: boundedNames,
          redispatchAfterMs: null,
        });
      }
    }
    for (const [name, limits] of this.#limits) {
      if (this.#endpoints && !this.#endpoints.includes(name)) continue;
      const maxAhead = this.#dispatchAhead.get(name);
      queries.push({
        limit: this.#batchSize,
        endpoints: [name],
        redispatchAfterMs: null,
        limits,
        ...(maxAhead === undefined ? {} : { maxAhead }),
      });
    }
    try {
      const pass: Pass = { dispatched: 0, found: 0, more: false, nextDueInMs: null };
      for (const query of queries) {
        const result = await this.#repository.dispatch(query, (items) =>
          publishItems(this.#queue, items, this.#logger, this.#telemetry),
        );
        pass.dispatched += result.dispatched;
        pass.found += result.found;
        pass.more ||= result.found >= query.limit;
        if (result.nextDueInMs !== null)
          pass.nextDueInMs = Math.min(pass.nextDueInMs ?? Infinity, result.nextDueInMs);
      }
      return pass;
    } catch (error) {
      if (this.#failures === 0)
        this.#logger.warn({ error: describeError(error) }, 'dispatch failed; retrying');
      this.#failures++;
      return null;
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      unrefTimer(timer);
      this.#wake = done;
    });
  }
}
