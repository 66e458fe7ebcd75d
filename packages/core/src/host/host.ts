import { allOk, Batcher } from '../batcher.js';
import { CANCELED_PROBLEM, UnavailableError } from '../errors.js';
import { newLeaseToken } from '../ids.js';
import { consoleLogger, describeError, type Logger } from '../logger.js';
import { ChangeNotifier } from '../notifier.js';
import { checkNumber, numberOption } from '../options.js';
import type { JobQueue, QueueConsumer, QueueDelivery } from '../queue.js';
import type { ClaimRequest, JobRepository, SettleOutcome, SettleRequest } from '../repository.js';
import { sleep, within } from '../timers.js';
import { type JobHeader, type JobRecord, toJobHeader } from '../types.js';
import type { Worker, WorkerContext } from '../worker.js';
import {
  type AbortReason,
  attemptsExhausted,
  execute,
  invalidOutput,
  nextState,
  toExecutionResult,
} from './execute.js';
import { type LeasedRun, LeaseKeeper } from './lease.js';
import { DurationStats, ProgressReporter } from './progress.js';

export interface WorkerHostOptions {
  repository: JobRepository;
  queue: JobQueue;
  workers: readonly Worker<any>[];
  /** How long a claim holds a job without renewal. Default 30 s. */
  leaseMs?: number;
  /** How often the leases are renewed. Default leaseMs / 3. */
  heartbeatIntervalMs?: number;
  /** Progress is written at most this often per job (and not before this long after the start). Default 1 s. */
  progressIntervalMs?: number;
  /** How long `stop()` lets in-flight jobs finish before aborting and releasing them. Default 10 s. */
  shutdownTimeoutMs?: number;
  /** Claims, heartbeats or results in one repository call at most. Default 100. */
  maxBatch?: number;
  /** Shared change subscription (the runtime passes one for the whole process); default: its own. */
  notifier?: ChangeNotifier;
  logger?: Logger;
}

/**
 * One claimed job running here. Its AbortSignal is made only when the worker asks for it (most short workers
 * never do, and a signal is the costliest object of a run); `aborted` tells the host either way.
 */
class Run implements LeasedRun {
  reason: AbortReason | null = null;
  /** The worker returned or threw: its signal is no longer aborted (the result is being recorded). */
  finished = false;
  /** Resolves with the abort reason (a DOMException) when the run is aborted. */
  readonly aborted: Promise<DOMException>;
  #controller: AbortController | null = null;
  #abortError: DOMException | null = null;
  #onAbort!: (error: DOMException) => void;

  constructor(
    readonly job: JobRecord,
    readonly leaseToken: string,
    public renewedAt: number,
  ) {
    this.aborted = new Promise((resolve) => {
      this.#onAbort = resolve;
    });
  }

  get id(): string {
    return this.job.id;
  }

  get attempt(): number {
    return this.job.attempt;
  }

  get claimedVersion(): number {
    return this.job.updatedAt.getTime();
  }

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#abortError) this.#controller.abort(this.#abortError);
    }
    return this.#controller.signal;
  }

  abort(reason: AbortReason): void {
    if (this.reason || this.finished) return;
    this.reason = reason;
    this.#abortError = new DOMException(
      `Job ${reason}`,
      reason === 'timeout' ? 'TimeoutError' : 'AbortError',
    );
    this.#controller?.abort(this.#abortError);
    this.#onAbort(this.#abortError);
  }
}

/**
 * Runs workers: consume → claim with a lease → run with an AbortSignal (cancel, timeout, lost lease,
 * shutdown) while the lease keeper renews the lease → validate the output → record the result by
 * compare-and-set. Claims, heartbeats and results of concurrent jobs each go to the repository in one call.
 * A job queued again (retry, release) is handed out by a dispatcher.
 */
export class WorkerHost {
  readonly #repository: JobRepository;
  readonly #queue: JobQueue;
  readonly #workers: Map<string, Worker<any>>;
  readonly #leaseMs: number;
  readonly #progressIntervalMs: number;
  readonly #shutdownTimeoutMs: number;
  readonly #logger: Logger;
  readonly #notifier: ChangeNotifier;
  readonly #ownsNotifier: boolean;
  readonly #lease: LeaseKeeper;
  readonly #claims: Batcher<ClaimRequest, JobRecord | null>;
  readonly #settles: Batcher<SettleRequest, boolean>;
  readonly #durations = new DurationStats();
  readonly #runs = new Map<string, Run>();
  readonly #handlers = new Set<Promise<void>>();
  /** Results being recorded after their slot went to the next job. */
  readonly #recordings = new Set<Promise<void>>();
  readonly #maxPendingResults: number;
  #consumers: QueueConsumer[] = [];
  #state: 'idle' | 'running' | 'stopping' | 'stopped' = 'idle';

  constructor(options: WorkerHostOptions) {
    this.#repository = options.repository;
    this.#queue = options.queue;
    this.#workers = new Map();
    for (const worker of options.workers) {
      if (this.#workers.has(worker.endpoint.name))
        throw new TypeError(`Two workers for endpoint ${worker.endpoint.name}.`);
      this.#workers.set(worker.endpoint.name, worker);
    }
    this.#leaseMs = numberOption('leaseMs', options.leaseMs, 'positive', 30_000);
    const heartbeatIntervalMs = numberOption(
      'heartbeatIntervalMs',
      options.heartbeatIntervalMs,
      'positive',
      Math.max(10, Math.floor(this.#leaseMs / 3)),
    );
    if (heartbeatIntervalMs >= this.#leaseMs)
      throw new TypeError('heartbeatIntervalMs must be shorter than leaseMs.');
    this.#progressIntervalMs = numberOption(
      'progressIntervalMs',
      options.progressIntervalMs,
      'nonNegative',
      1_000,
    );
    this.#shutdownTimeoutMs = numberOption(
      'shutdownTimeoutMs',
      options.shutdownTimeoutMs,
      'nonNegative',
      10_000,
    );
    const maxBatch = checkNumber('maxBatch', options.maxBatch ?? 100, 'positiveInteger');
    this.#logger = options.logger ?? consoleLogger;
    this.#ownsNotifier = !options.notifier;
    this.#notifier = options.notifier ?? new ChangeNotifier(options.repository, this.#logger);
    this.#lease = new LeaseKeeper({
      repository: this.#repository,
      notifier: this.#notifier,
      leaseMs: this.#leaseMs,
      heartbeatIntervalMs,
      maxBatch,
      logger: this.#logger,
    });
    this.#maxPendingResults = maxBatch;
    this.#claims = new Batcher(async (requests) => allOk(await this.#repository.claim(requests)), {
      maxBatch,
    });
    this.#settles = new Batcher((requests) => this.#repository.settle(requests), { maxBatch });
  }

  /** Jobs running in this host now. */
  get activeJobs(): number {
    return this.#runs.size;
  }

  async start(): Promise<void> {
    if (this.#state !== 'idle') throw new Error(`Worker host cannot start: it is ${this.#state}.`);
    this.#state = 'running';
    // Not awaited: until change notifications flow, cancel requests arrive with the heartbeats.
    this.#notifier.ready().catch(() => {});
    this.#lease.start();
    try {
      for (const worker of this.#workers.values()) {
        const concurrency = worker.concurrency ?? worker.endpoint.concurrency;
        this.#consumers.push(
          await this.#queue.consume(worker.endpoint.name, (delivery) => this.#track(this.#handle(delivery)), {
            concurrency,
          }),
        );
      }
    } catch (error) {
      await this.stop({ timeoutMs: 0 });
      throw error;
    }
  }

  /**
   * Takes no new work, lets in-flight jobs finish within the bound, then aborts the rest and releases them
   * (back to queued, the attempt refunded) so that a dispatcher hands them to another host at once.
   */
  async stop(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.#state === 'stopped' || this.#state === 'stopping') return;
    this.#state = 'stopping';
    const timeoutMs = options.timeoutMs ?? this.#shutdownTimeoutMs;
    const consumers = this.#consumers;
    this.#consumers = [];
    await Promise.all(
      consumers.map((consumer) =>
        consumer.stop({ timeoutMs }).catch((error: unknown) => {
          this.#logger.warn('a queue consumer did not stop cleanly', { error: describeError(error) });
        }),
      ),
    );
    for (const run of this.#runs.values()) run.abort('shutdown');
    // Released jobs are recorded at once; worker code that ignores its signal gets one more bound to return,
    // then is left behind (its results would be refused).
    const handlers = Promise.allSettled([...this.#handlers])
      .then(() => Promise.allSettled([...this.#recordings]))
      .then(() => 0);
    const left = await within(handlers, Math.max(timeoutMs, 1_000), null);
    if (left === null) {
      this.#logger.warn('worker code still running after stop; its results will be refused', {
        left: this.#handlers.size,
      });
    }
    this.#lease.stop();
    if (this.#ownsNotifier) await this.#notifier.close();
    this.#state = 'stopped';
  }

  #track(handler: Promise<void>): Promise<void> {
    this.#handlers.add(handler);
    return handler.finally(() => this.#handlers.delete(handler));
  }

  async #handle(delivery: QueueDelivery): Promise<void> {
    const worker = this.#workers.get(delivery.endpoint);
    if (!worker || this.#state !== 'running') throw new Error('Not accepting work.');
    const leaseToken = newLeaseToken();
    const claimedAt = Date.now();
    const job = await this.#claim({
      id: delivery.jobId,
      leaseToken,
      leaseMs: this.#leaseMs,
      estimatedDurationMs: worker.estimate ? null : this.#durations.mean(worker.endpoint.name),
    });
    if (!job) return; // final, running elsewhere, not due, or gone: the message was stale.
    const endpoint = worker.endpoint;
    if (job.endpoint !== endpoint.name) {
      this.#logger.error('delivery on the wrong endpoint queue', { jobId: job.id, endpoint: job.endpoint });
      return this.#release(job, leaseToken);
    }
    // stop() began while the claim was under way: hand the job straight back.
    if (this.#state !== 'running') return this.#release(job, leaseToken);
    if (job.cancelRequested) {
      await this.#settle(job, leaseToken, {
        status: 'canceled',
        error: CANCELED_PROBLEM,
        retentionMs: endpoint.retentionMs,
      });
      return;
    }
    if (job.attempt > job.maxAttempts) {
      await this.#settle(job, leaseToken, {
        status: 'failed',
        error: attemptsExhausted(job),
        retentionMs: endpoint.retentionMs,
      });
      return;
    }
    await this.#run(worker, new Run(job, leaseToken, claimedAt));
  }

  /**
   * Claims, retrying while the repository is unreachable (for up to a lease), so a short outage does not burn
   * the message's deliveries and send it to the dead letters while the job waits behind a backlog.
   */
  async #claim(request: ClaimRequest): Promise<JobRecord | null> {
    const giveUpAt = Date.now() + this.#leaseMs;
    for (let delay = 200; ; delay = Math.min(delay * 2, 5_000)) {
      try {
        return await this.#claims.add(request);
      } catch (error) {
        const retry =
          error instanceof UnavailableError && this.#state === 'running' && Date.now() + delay <= giveUpAt;
        if (!retry) throw error;
        await sleep(delay);
      }
    }
  }

  async #run(worker: Worker<any>, run: Run): Promise<void> {
    const { job } = run;
    const endpoint = worker.endpoint;
    this.#runs.set(job.id, run);
    this.#lease.add(run);
    const progress = new ProgressReporter(this.#progressIntervalMs, (update) =>
      this.#lease.write(run, update),
    );
    const timeout =
      endpoint.timeoutMs === null ? null : setTimeout(() => run.abort('timeout'), endpoint.timeoutMs);
    const startedAt = Date.now();
    let returned: Promise<void> = Promise.resolve();
    let recording: Promise<void> | null = null;
    try {
      this.#estimate(worker, job, progress);
      let header: JobHeader | null = null;
      const context: WorkerContext = {
        get signal() {
          return run.signal;
        },
        get job() {
          header ??= toJobHeader(job);
          return header;
        },
        attempt: job.attempt,
        progress: (fraction, message) => progress.report(fraction, message),
      };
      const execution = execute(worker, job, context, run.aborted);
      returned = execution.returned;
      const produced = await execution.result;
      run.finished = true;
      const outcome = this.#outcome(worker, run, produced);
      if (outcome) {
        const held = progress.close();
        if (outcome.status === 'succeeded') {
          if (held?.progress) outcome.progress = held.progress;
          if (held?.estimatedRemainingMs !== undefined)
            outcome.estimatedRemainingMs = held.estimatedRemainingMs;
        }
        recording = this.#record(run, outcome, startedAt);
      }
    } finally {
      progress.close();
      if (timeout) clearTimeout(timeout);
      if (!recording) this.#untrack(run);
      // The slot stays taken until the worker's own code has returned, so a worker that ignores its signal
      // never runs beside its retry beyond the concurrency limit.
      await returned;
    }
    // The result goes out with the next batch; meanwhile the slot takes the next job (the lease keeps the job
    // this host's until the result is recorded). With too many results on their way, the slot waits too.
    if (!recording) return;
    if (this.#recordings.size >= this.#maxPendingResults) return recording;
    this.#recordings.add(recording);
    void recording.finally(() => this.#recordings.delete(recording));
  }

  /** Records the run's outcome; the run stays leased (renewed) until then. Never rejects. */
  async #record(run: Run, outcome: SettleOutcome, startedAt: number): Promise<void> {
    try {
      const recorded = await this.#settle(run.job, run.leaseToken, outcome);
      if (recorded && outcome.status === 'succeeded') {
        this.#durations.record(run.job.endpoint, Date.now() - startedAt);
      }
    } finally {
      this.#untrack(run);
    }
  }

  #untrack(run: Run): void {
    this.#lease.remove(run);
    if (this.#runs.get(run.id) === run) this.#runs.delete(run.id);
  }

  #outcome(
    worker: Worker<any>,
    run: Run,
    produced: { ok: true; value: unknown } | { ok: false; error: unknown },
  ): SettleOutcome | null {
    const { job } = run;
    switch (run.reason) {
      case 'lease_lost':
        this.#logger.warn('lease lost; the result of this run is discarded', {
          jobId: job.id,
          attempt: job.attempt,
        });
        return null;
      case 'shutdown':
        return { status: 'queued', delayMs: 0, error: null, refundAttempt: true };
      default: {
        const result = toExecutionResult(worker.endpoint, job, produced, run.reason, this.#logger);
        return nextState(worker.endpoint, job, result, typeof worker.cleanup === 'function', this.#logger);
      }
    }
  }

  #estimate(worker: Worker<any>, job: JobRecord, progress: ProgressReporter): void {
    if (!worker.estimate) return;
    try {
      const estimate = worker.estimate(job.input);
      if (estimate !== undefined && Number.isFinite(estimate) && estimate >= 0) progress.estimate(estimate);
    } catch (error) {
      this.#logger.warn('worker estimate failed', { jobId: job.id, error: describeError(error) });
    }
  }

  /** Records the outcome; retries while the repository is unreachable, up to the lease's end. */
  async #settle(job: JobRecord, leaseToken: string, outcome: SettleOutcome): Promise<boolean> {
    const giveUpAt = Date.now() + this.#leaseMs;
    for (let delay = 100; ; delay = Math.min(delay * 2, 5_000)) {
      try {
        const recorded = await this.#settles.add({ id: job.id, leaseToken, outcome });
        if (!recorded) this.#logger.warn('result refused: the lease is no longer held', { jobId: job.id });
        return recorded;
      } catch (error) {
        if (!(error instanceof UnavailableError)) return this.#settleRefused(job, leaseToken, outcome, error);
        if (Date.now() + delay > giveUpAt) {
          this.#logger.error('could not record the result; the job will run again after its lease', {
            jobId: job.id,
            error: describeError(error),
          });
          return false;
        }
        await sleep(delay);
      }
    }
  }

  /** The store refused the outcome itself (e.g. an output it cannot hold): fail the job, saying why. */
  async #settleRefused(
    job: JobRecord,
    leaseToken: string,
    outcome: SettleOutcome,
    error: unknown,
  ): Promise<boolean> {
    this.#logger.error('the repository refused the result', { jobId: job.id, error: describeError(error) });
    if (outcome.status !== 'succeeded') return false;
    const failure = invalidOutput(`The output could not be stored: ${describeError(error)}`);
    if (failure.status !== 'failed') return false;
    try {
      return await this.#settles.add({
        id: job.id,
        leaseToken,
        outcome: { status: 'failed', error: failure.error, retentionMs: outcome.retentionMs },
      });
    } catch (fallbackError) {
      this.#logger.warn(
        'could not record the invalid_output failure; the job will run again after its lease',
        {
          jobId: job.id,
          error: describeError(fallbackError),
        },
      );
      return false;
    }
  }

  async #release(job: JobRecord, leaseToken: string): Promise<void> {
    await this.#settle(job, leaseToken, { status: 'queued', delayMs: 0, error: null, refundAttempt: true });
  }
}

export function createWorkerHost(options: WorkerHostOptions): WorkerHost {
  return new WorkerHost(options);
}
