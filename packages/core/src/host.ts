import { backoffDelay, type Endpoint } from './endpoint.js';
import { isJobsError, JobFailedError, problemType, UnavailableError } from './errors.js';
import { ChangeNotifier, unrefTimer } from './notifier.js';
import type { JobQueue, QueueConsumer, QueueDelivery } from './queue.js';
import type { JobRepository, SettleOutcome } from './repository.js';
import { CANCELED_PROBLEM, toIssues } from './service.js';
import type { JobProgress, JobRecord, ProblemDetails } from './types.js';
import { consoleLogger, type Logger, newLeaseToken, sleep, toJobHeader, within } from './util.js';
import type { Worker, WorkerContext } from './worker.js';

export interface WorkerHostOptions {
  repository: JobRepository;
  queue: JobQueue;
  workers: readonly Worker<any>[];
  /** How long a claim holds a job without renewal. Default 30 s. */
  leaseMs?: number;
  /** How often the lease is renewed. Default leaseMs / 3. */
  heartbeatIntervalMs?: number;
  /** Progress is written at most this often per job. Default 1 s. */
  progressIntervalMs?: number;
  /** How long `stop()` lets in-flight jobs finish before aborting and releasing them. Default 10 s. */
  shutdownTimeoutMs?: number;
  logger?: Logger;
}

type AbortReason = 'canceled' | 'timeout' | 'lease_lost' | 'shutdown';

interface Run {
  job: JobRecord;
  leaseToken: string;
  controller: AbortController;
  reason: AbortReason | null;
  /** The worker returned or threw: its signal is no longer aborted (the result is being recorded). */
  finished: boolean;
  /** Last time the repository confirmed the lease (ms). */
  renewedAt: number;
  abort(reason: AbortReason): void;
}

const DURATION_SAMPLES = 20;

/**
 * Runs workers: consume → claim with a lease → renew the lease while running → run with an AbortSignal
 * (cancel, timeout, lost lease, shutdown) → validate the output → record the result by compare-and-set →
 * retry with backoff while attempts remain.
 */
export class WorkerHost {
  readonly #repository: JobRepository;
  readonly #queue: JobQueue;
  readonly #workers: Map<string, Worker<any>>;
  readonly #leaseMs: number;
  readonly #heartbeatIntervalMs: number;
  readonly #progressIntervalMs: number;
  readonly #shutdownTimeoutMs: number;
  readonly #logger: Logger;
  readonly #notifier: ChangeNotifier;
  readonly #runs = new Map<string, Run>();
  readonly #handlers = new Set<Promise<void>>();
  readonly #retryTimers = new Set<ReturnType<typeof setTimeout>>();
  readonly #durations = new Map<string, number[]>();
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
    this.#leaseMs = options.leaseMs ?? 30_000;
    this.#heartbeatIntervalMs = options.heartbeatIntervalMs ?? Math.max(10, Math.floor(this.#leaseMs / 3));
    if (this.#heartbeatIntervalMs >= this.#leaseMs)
      throw new TypeError('heartbeatIntervalMs must be shorter than leaseMs.');
    this.#progressIntervalMs = options.progressIntervalMs ?? 1_000;
    this.#shutdownTimeoutMs = options.shutdownTimeoutMs ?? 10_000;
    this.#logger = options.logger ?? consoleLogger;
    this.#notifier = new ChangeNotifier(options.repository);
  }

  /** Jobs running in this host now. */
  get activeJobs(): number {
    return this.#runs.size;
  }

  async start(): Promise<void> {
    if (this.#state !== 'idle') throw new Error(`Worker host cannot start: it is ${this.#state}.`);
    this.#state = 'running';
    await this.#subscribe();
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

  /** Change notifications bring cancel requests within a second; until they work, retry every 5 s. */
  async #subscribe(): Promise<void> {
    try {
      await this.#notifier.ready();
    } catch (error) {
      this.#logger.warn(
        'change notifications unavailable; cancel requests arrive with heartbeats until they are',
        {
          error: String(error),
        },
      );
      if (this.#state !== 'running') return;
      const timer = setTimeout(() => {
        this.#retryTimers.delete(timer);
        if (this.#state === 'running') void this.#subscribe();
      }, 5_000);
      unrefTimer(timer);
      this.#retryTimers.add(timer);
    }
  }

  /**
   * Takes no new work, lets in-flight jobs finish within the bound, then aborts the rest and releases them
   * (back to queued, the attempt refunded, dispatched again) so another host picks them up at once.
   */
  async stop(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.#state === 'stopped' || this.#state === 'stopping') return;
    this.#state = 'stopping';
    const timeoutMs = options.timeoutMs ?? this.#shutdownTimeoutMs;
    const consumers = this.#consumers;
    this.#consumers = [];
    await Promise.all(consumers.map((consumer) => consumer.stop({ timeoutMs }).catch(() => {})));
    for (const run of this.#runs.values()) run.abort('shutdown');
    // Released jobs are recorded and re-published at once; worker code that ignores its signal gets one
    // more bound to return, then is left behind (its results would be refused).
    const handlers = Promise.allSettled([...this.#handlers]).then(() => 0);
    const left = await within(handlers, Math.max(timeoutMs, 1_000), null);
    if (left === null) {
      this.#logger.warn('worker code still running after stop; its results will be refused', {
        left: this.#handlers.size,
      });
    }
    for (const timer of this.#retryTimers) clearTimeout(timer);
    this.#retryTimers.clear();
    await this.#notifier.close();
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
    const job = await this.#claim(delivery.jobId, leaseToken);
    if (!job) return; // final, running elsewhere, not due, or gone: the message was stale.
    if (job.endpoint !== worker.endpoint.name) {
      this.#logger.error('delivery on the wrong endpoint queue', { jobId: job.id, endpoint: job.endpoint });
      return this.#release(job, leaseToken);
    }
    // stop() began while the claim was under way: hand the job straight back.
    if (this.#state !== 'running') return this.#release(job, leaseToken);
    if (job.cancelRequested) {
      await this.#settle(job, leaseToken, {
        status: 'canceled',
        error: CANCELED_PROBLEM,
        retentionMs: worker.endpoint.retentionMs,
      });
      return;
    }
    if (job.attempt > job.maxAttempts) {
      // A run beyond the limit: the previous one died without recording anything.
      await this.#settle(job, leaseToken, {
        status: 'failed',
        error:
          job.error ??
          problem('attempts_exhausted', 'Attempts exhausted', 'The job lost its worker on its last attempt.'),
        retentionMs: worker.endpoint.retentionMs,
      });
      return;
    }
    await this.#run(worker, job, leaseToken);
  }

  /**
   * Claims, retrying while the repository is unreachable (for up to a lease), so a short outage does not burn
   * the message's deliveries and send it to the dead letters while the job waits behind a backlog.
   */
  async #claim(jobId: string, leaseToken: string): Promise<JobRecord | null> {
    const giveUpAt = Date.now() + this.#leaseMs;
    for (let delay = 200; ; delay = Math.min(delay * 2, 5_000)) {
      try {
        return await this.#repository.claim(jobId, { leaseToken, leaseMs: this.#leaseMs });
      } catch (error) {
        if (
          !(error instanceof UnavailableError) ||
          this.#state !== 'running' ||
          Date.now() + delay > giveUpAt
        ) {
          throw error;
        }
        await sleep(delay);
      }
    }
  }

  async #run(worker: Worker<any>, job: JobRecord, leaseToken: string): Promise<void> {
    const endpoint = worker.endpoint;
    const controller = new AbortController();
    const run: Run = {
      job,
      leaseToken,
      controller,
      reason: null,
      finished: false,
      renewedAt: Date.now(),
      abort(reason) {
        if (run.reason || run.finished) return;
        run.reason = reason;
        controller.abort(
          new DOMException(`Job ${reason}`, reason === 'timeout' ? 'TimeoutError' : 'AbortError'),
        );
      },
    };
    this.#runs.set(job.id, run);
    const startedAt = Date.now();
    const progress = new ProgressWriter(this.#progressIntervalMs, (value, eta) =>
      this.#heartbeat(run, { progress: value, estimatedCompletionAt: eta }),
    );
    const heartbeat = setInterval(() => void this.#heartbeat(run, {}), this.#heartbeatIntervalMs);
    unrefTimer(heartbeat);
    const timeout =
      endpoint.timeoutMs === null ? null : setTimeout(() => run.abort('timeout'), endpoint.timeoutMs);
    const unwatch = this.#notifier.watch(job.id, () => void this.#checkRemote(run));
    let workerSettled: Promise<void> = Promise.resolve();
    try {
      const estimateMs = this.#estimate(worker, job);
      if (estimateMs !== undefined) {
        void this.#heartbeat(run, { estimatedCompletionAt: new Date(startedAt + estimateMs) });
      }
      const context: WorkerContext = {
        signal: controller.signal,
        job: toJobHeader(job),
        attempt: job.attempt,
        progress: (fraction, message) => progress.report(fraction, message, startedAt),
      };
      let result: { ok: true; value: unknown } | { ok: false; error: unknown };
      const running = Promise.resolve().then(() => worker.run(job.input, context));
      workerSettled = running.then(
        () => {},
        () => {},
      );
      try {
        result = { ok: true, value: await abortable(running, controller.signal) };
      } catch (error) {
        result = { ok: false, error };
      }
      run.finished = true;
      const outcome = this.#outcome(endpoint, job, run, result);
      if (!outcome) return;
      // A report still held back by the throttle is written before the final state, so it is not lost.
      if (outcome.status === 'succeeded') await progress.flush();
      progress.close();
      const settled = await this.#settle(job, leaseToken, outcome);
      if (settled?.status === 'succeeded') this.#recordDuration(endpoint.name, Date.now() - startedAt);
      if (settled?.status === 'queued') {
        // Awaited when immediate, so stop() waits for a released job to be back in the queue.
        await this.#redispatch(settled, outcome.status === 'queued' ? outcome.delayMs : 0);
      }
    } finally {
      progress.close();
      clearInterval(heartbeat);
      if (timeout) clearTimeout(timeout);
      unwatch();
      if (this.#runs.get(job.id) === run) this.#runs.delete(job.id);
      // The result is recorded; the slot stays taken until the worker's own code has returned, so a worker
      // that ignores its signal never runs beside its retry beyond the concurrency limit.
      await workerSettled;
    }
  }

  #outcome(
    endpoint: Endpoint,
    job: JobRecord,
    run: Run,
    result: { ok: true; value: unknown } | { ok: false; error: unknown },
  ): SettleOutcome | null {
    const retentionMs = endpoint.retentionMs;
    switch (run.reason) {
      case 'lease_lost':
        this.#logger.warn('lease lost; the result of this run is discarded', {
          jobId: job.id,
          attempt: job.attempt,
        });
        return null;
      case 'shutdown':
        return { status: 'queued', delayMs: 0, error: null, refundAttempt: true };
      case 'canceled':
        return { status: 'canceled', error: CANCELED_PROBLEM, retentionMs };
      case 'timeout':
        return this.#failure(
          endpoint,
          job,
          problem('timeout', 'Timed out', `The job did not finish within ${endpoint.timeoutMs} ms.`),
          true,
        );
      case null:
        break;
    }
    if (result.ok) {
      let parsed: ReturnType<Endpoint['output']['safeParse']>;
      try {
        parsed = endpoint.output.safeParse(result.value);
      } catch (error) {
        this.#logger.error('the output schema threw', { jobId: job.id, error: String(error) });
        return {
          status: 'failed',
          error: problem('invalid_output', 'Invalid output', 'The output could not be validated.'),
          retentionMs,
        };
      }
      if (parsed.success) return { status: 'succeeded', output: parsed.data, retentionMs };
      this.#logger.error('worker output does not match the output schema', {
        jobId: job.id,
        endpoint: endpoint.name,
      });
      return {
        status: 'failed',
        error: {
          ...problem(
            'invalid_output',
            'Invalid output',
            'The worker produced an output that does not match the schema.',
          ),
          issues: toIssues(parsed.error.issues),
        },
        retentionMs,
      };
    }
    const error = result.error;
    if (error instanceof JobFailedError)
      return this.#failure(endpoint, job, error.toProblem(), error.retryable);
    if (isJobsError(error)) return this.#failure(endpoint, job, error.toProblem(), error.status >= 500);
    // A plain error's message may carry internals (hosts, SQL, paths): it is logged, not shown to clients.
    // Workers that want a message seen throw JobFailedError.
    this.#logger.warn('worker failed', {
      jobId: job.id,
      attempt: job.attempt,
      error: error instanceof Error ? (error.stack ?? error.message) : String(error),
    });
    return this.#failure(endpoint, job, problem('job_failed', 'Job failed', 'The worker failed.'), true);
  }

  #failure(endpoint: Endpoint, job: JobRecord, error: ProblemDetails, retryable: boolean): SettleOutcome {
    if (retryable && job.attempt < job.maxAttempts) {
      return {
        status: 'queued',
        delayMs: backoffDelay(endpoint.backoff, job.attempt + 1),
        error,
        refundAttempt: false,
      };
    }
    return { status: 'failed', error, retentionMs: endpoint.retentionMs };
  }

  /** Records the outcome; retries while the repository is unreachable, up to the lease's end. */
  async #settle(job: JobRecord, leaseToken: string, outcome: SettleOutcome): Promise<JobRecord | null> {
    const giveUpAt = Date.now() + this.#leaseMs;
    for (let delay = 100; ; delay = Math.min(delay * 2, 5_000)) {
      try {
        const settled = await this.#repository.settle(job.id, leaseToken, outcome);
        if (!settled) this.#logger.warn('result refused: the lease is no longer held', { jobId: job.id });
        return settled;
      } catch (error) {
        if (!(error instanceof UnavailableError)) return this.#settleRefused(job, leaseToken, outcome, error);
        if (Date.now() + delay > giveUpAt) {
          this.#logger.error('could not record the result; the job will run again after its lease', {
            jobId: job.id,
            error: String(error),
          });
          return null;
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
  ): Promise<JobRecord | null> {
    this.#logger.error('the repository refused the result', { jobId: job.id, error: String(error) });
    if (outcome.status !== 'succeeded') return null;
    const detail = error instanceof Error ? error.message : String(error);
    return this.#repository
      .settle(job.id, leaseToken, {
        status: 'failed',
        error: problem('invalid_output', 'Invalid output', `The output could not be stored: ${detail}`),
        retentionMs: outcome.retentionMs,
      })
      .catch(() => null);
  }

  async #release(job: JobRecord, leaseToken: string): Promise<void> {
    const released = await this.#settle(job, leaseToken, {
      status: 'queued',
      delayMs: 0,
      error: null,
      refundAttempt: true,
    });
    if (released) await this.#redispatch(released, 0);
  }

  async #redispatch(job: JobRecord, delayMs: number): Promise<void> {
    const publish = async () => {
      try {
        await this.#queue.publish(job.endpoint, job.id);
        await this.#repository.markDispatched(job.id);
      } catch (error) {
        this.#logger.warn('re-dispatch failed; the sweeper will dispatch the job', {
          jobId: job.id,
          error: String(error),
        });
      }
    };
    if (delayMs <= 0) return publish();
    const timer = setTimeout(() => {
      this.#retryTimers.delete(timer);
      void publish();
    }, delayMs);
    unrefTimer(timer);
    this.#retryTimers.add(timer);
  }

  async #heartbeat(
    run: Run,
    update: { progress?: JobProgress | null; estimatedCompletionAt?: Date | null },
  ): Promise<void> {
    if (run.reason === 'lease_lost') return;
    const sentAt = Date.now();
    try {
      const result = await this.#repository.heartbeat(run.job.id, run.leaseToken, {
        leaseMs: this.#leaseMs,
        ...update,
      });
      if (!result.held) run.abort('lease_lost');
      else {
        run.renewedAt = Math.max(run.renewedAt, sentAt);
        if (result.cancelRequested) run.abort('canceled');
      }
    } catch (error) {
      this.#logger.warn('heartbeat failed', { jobId: run.job.id, error: String(error) });
      // Cut off from the repository for a whole lease: another worker may run the job by now, so stop this
      // run rather than duplicate its side effects; its result would be refused anyway.
      if (Date.now() - run.renewedAt > this.#leaseMs) run.abort('lease_lost');
    }
  }

  /** A change notification for a job running here: a cancel request, or another worker took it over. */
  async #checkRemote(run: Run): Promise<void> {
    if (run.reason) return;
    try {
      const job = await this.#repository.get(run.job.id);
      if (!job || job.status !== 'running' || job.leaseToken !== run.leaseToken) run.abort('lease_lost');
      else if (job.cancelRequested) run.abort('canceled');
    } catch {
      // the heartbeat will find out
    }
  }

  #estimate(worker: Worker<any>, job: JobRecord): number | undefined {
    try {
      const estimate = worker.estimate?.(job.input);
      if (estimate !== undefined && Number.isFinite(estimate) && estimate >= 0) return estimate;
    } catch (error) {
      this.#logger.warn('worker estimate failed', { jobId: job.id, error: String(error) });
    }
    const samples = this.#durations.get(job.endpoint);
    if (!samples || samples.length === 0) return undefined;
    return samples.reduce((sum, value) => sum + value, 0) / samples.length;
  }

  #recordDuration(endpoint: string, ms: number): void {
    const samples = this.#durations.get(endpoint) ?? [];
    samples.push(ms);
    if (samples.length > DURATION_SAMPLES) samples.shift();
    this.#durations.set(endpoint, samples);
  }
}

export function createWorkerHost(options: WorkerHostOptions): WorkerHost {
  return new WorkerHost(options);
}

/** Throttles progress writes: the first report is written at once, later ones at most once per interval. */
class ProgressWriter {
  #pending: { progress: JobProgress; eta: Date | null } | null = null;
  #lastWrite = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #closed = false;

  constructor(
    private readonly intervalMs: number,
    private readonly write: (progress: JobProgress, eta: Date | null) => Promise<void>,
  ) {}

  report(fraction: number, message: string | undefined, startedAt: number): void {
    if (this.#closed) return;
    if (typeof fraction !== 'number' || Number.isNaN(fraction))
      throw new TypeError('progress fraction must be a number from 0 to 1.');
    const clamped = Math.min(1, Math.max(0, fraction));
    const now = Date.now();
    const eta = clamped > 0 ? new Date(now + ((now - startedAt) * (1 - clamped)) / clamped) : null;
    this.#pending = {
      progress:
        message === undefined ? { fraction: clamped } : { fraction: clamped, message: String(message) },
      eta,
    };
    const wait = this.#lastWrite + this.intervalMs - now;
    if (wait <= 0) void this.flush();
    else if (!this.#timer) {
      this.#timer = setTimeout(() => void this.flush(), wait);
      unrefTimer(this.#timer);
    }
  }

  #writing: Promise<void> = Promise.resolve();

  /** Writes the report held back by the throttle, if any, after the write in flight (writes never overtake). */
  flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    const pending = this.#pending;
    if (!pending || this.#closed) return this.#writing;
    this.#pending = null;
    this.#lastWrite = Date.now();
    this.#writing = this.#writing.then(() => this.write(pending.progress, pending.eta)).catch(() => {});
    return this.#writing;
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

function problem(code: string, title: string, detail: string): ProblemDetails {
  return { type: problemType(code), title, code, detail };
}
