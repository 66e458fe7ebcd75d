import { CANCELED_PROBLEM } from '../errors.js';
import { newLeaseToken } from '../ids.js';
import { consoleLogger, describeError, jobLogFields, type Logger } from '../logger.js';
import { ChangeNotifier } from '../notifier.js';
import { checkNumber, numberOption } from '../options.js';
import type { JobQueue, QueueConsumer, QueueDelivery } from '../queue.js';
import type { JobRepository, SettleOutcome } from '../repository.js';
import { type SettledAs, type SpanHandle, Telemetry, type TraceContext } from '../telemetry.js';
import { within } from '../timers.js';
import { type JobHeader, type JobRecord, toJobHeader } from '../types.js';
import type { Worker, WorkerContext } from '../worker.js';
import { RepositoryCalls } from './calls.js';
import { attemptsExhausted, execute, nextState, toExecutionResult } from './execute.js';
import { LeaseKeeper } from './lease.js';
import { DurationStats, ProgressReporter } from './progress.js';
import { Run } from './run.js';

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
  /** Claim, run and settle spans, job counters and run times (the runtime passes its own); default: none. */
  telemetry?: Telemetry;
  logger?: Logger;
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
  readonly #telemetry: Telemetry;
  readonly #notifier: ChangeNotifier;
  readonly #ownsNotifier: boolean;
  readonly #lease: LeaseKeeper;
  readonly #calls: RepositoryCalls;
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
    this.#telemetry = options.telemetry ?? Telemetry.disabled;
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
    this.#calls = new RepositoryCalls({
      repository: this.#repository,
      leaseMs: this.#leaseMs,
      maxBatch,
      logger: this.#logger,
      running: () => this.#state === 'running',
    });
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
          this.#logger.warn({ error: describeError(error) }, 'a queue consumer did not stop cleanly');
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
      this.#logger.warn(
        { left: this.#handlers.size },
        'worker code still running after stop; its results will be refused',
      );
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
    const telemetry = this.#telemetry;
    telemetry.consumed(delivery.endpoint);
    // The message's context: the dispatch span's (a child of the submit span), whichever process dispatched it.
    const carried = delivery.traceContext ?? null;
    const claimSpan = telemetry.active ? telemetry.startSpan('claim', delivery.endpoint, carried) : null;
    let job: JobRecord | null;
    try {
      job = await this.#calls.claim({
        id: delivery.jobId,
        leaseToken,
        leaseMs: this.#leaseMs,
        estimatedDurationMs: worker.estimate ? null : this.#durations.mean(worker.endpoint.name),
      });
    } catch (error) {
      telemetry.endSpan(claimSpan, error);
      throw error;
    }
    if (claimSpan) {
      telemetry.setAttribute(claimSpan, 'messaging.message.id', delivery.jobId);
      telemetry.setAttribute(claimSpan, 'jobs.claimed', job !== null);
      telemetry.endSpan(claimSpan);
    }
    if (!job) return; // final, running elsewhere, not due, or gone: the message was stale.
    const endpoint = worker.endpoint;
    if (job.endpoint !== endpoint.name) {
      this.#logger.error(
        { ...jobLogFields(job), queue: delivery.endpoint },
        'delivery on the wrong endpoint queue',
      );
      return this.#calls.release(job, leaseToken);
    }
    // stop() began while the claim was under way: hand the job straight back.
    if (this.#state !== 'running') return this.#calls.release(job, leaseToken);
    const parent = carried ?? job.traceContext;
    if (job.cancelRequested) {
      await this.#settle(job, leaseToken, parent, {
        status: 'canceled',
        error: CANCELED_PROBLEM,
        retentionMs: endpoint.retentionMs,
      });
      return;
    }
    if (job.attempt > job.maxAttempts) {
      await this.#settle(job, leaseToken, parent, {
        status: 'failed',
        error: attemptsExhausted(job),
        retentionMs: endpoint.retentionMs,
      });
      return;
    }
    await this.#run(worker, new Run(job, leaseToken, claimedAt), parent);
  }

  /**
   * Records a result by compare-and-set in a settle span (a child of `parent`, the run span or the message's
   * context) and counts the state it recorded.
   */
  async #settle(
    job: JobRecord,
    leaseToken: string,
    parent: TraceContext | SpanHandle | null,
    outcome: SettleOutcome,
  ): Promise<boolean> {
    const telemetry = this.#telemetry;
    if (!telemetry.active) return this.#calls.settle(job, leaseToken, outcome);
    const span = telemetry.startSpan('settle', job.endpoint, parent);
    telemetry.setAttribute(span, 'messaging.message.id', job.id);
    telemetry.setAttribute(span, 'jobs.status', outcome.status);
    try {
      const recorded = await this.#calls.settle(job, leaseToken, outcome);
      telemetry.setAttribute(span, 'jobs.recorded', recorded);
      telemetry.endSpan(span);
      if (recorded) telemetry.settled(job.endpoint, settledAs(outcome));
      return recorded;
    } catch (error) {
      telemetry.endSpan(span, error);
      throw error;
    }
  }

  async #run(worker: Worker<any>, run: Run, parent: TraceContext | null): Promise<void> {
    const { job } = run;
    const telemetry = this.#telemetry;
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
    // The consumer span of the run: a child of the message's context (semantic conventions for messaging).
    const runSpan = telemetry.active ? telemetry.startSpan('run', endpoint.name, parent) : null;
    telemetry.setAttribute(runSpan, 'messaging.message.id', job.id);
    telemetry.setAttribute(runSpan, 'jobs.attempt', job.attempt);
    telemetry.started(endpoint.name, startedAt - job.runAt.getTime());
    let runMs: number | null = null;
    let failed: string | null = null;
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
      const execution = telemetry.within(runSpan, () => execute(worker, job, context, run.aborted));
      returned = execution.returned;
      const produced = await execution.result;
      run.finished = true;
      runMs = Date.now() - startedAt;
      const outcome = this.#outcome(worker, run, produced);
      failed = runError(outcome);
      telemetry.endSpan(runSpan, failed ?? undefined);
      if (outcome) {
        const held = progress.close();
        if (outcome.status === 'succeeded') {
          if (held?.progress) outcome.progress = held.progress;
          if (held?.estimatedRemainingMs !== undefined)
            outcome.estimatedRemainingMs = held.estimatedRemainingMs;
        }
        recording = this.#record(run, outcome, startedAt, runSpan);
      }
    } finally {
      telemetry.ran(endpoint.name, runMs, failed);
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
  async #record(run: Run, outcome: SettleOutcome, startedAt: number, span: SpanHandle | null): Promise<void> {
    try {
      const recorded = await this.#settle(run.job, run.leaseToken, span, outcome);
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
        this.#logger.warn(
          { ...jobLogFields(job), attempt: job.attempt },
          'lease lost; the result of this run is discarded',
        );
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
      this.#logger.warn({ ...jobLogFields(job), error: describeError(error) }, 'worker estimate failed');
    }
  }
}

/** The `error.type` of a run that did not succeed (a snooze or a release is no error); null otherwise. */
function runError(outcome: SettleOutcome | null): string | null {
  if (outcome === null) return 'lease_lost';
  if (outcome.status === 'failed' || (outcome.status === 'queued' && !outcome.refundAttempt))
    return outcome.error?.code ?? 'failed';
  return outcome.status === 'canceled' ? 'canceled' : null;
}

/** Which counter a recorded outcome adds to. */
function settledAs(outcome: SettleOutcome): SettledAs {
  if (outcome.status !== 'queued') return outcome.status;
  // A failed attempt queued again is a retry; a snooze or a release gives its attempt back and is neither.
  return outcome.refundAttempt ? 'released' : 'retried';
}

export function createWorkerHost(options: WorkerHostOptions): WorkerHost {
  return new WorkerHost(options);
}
