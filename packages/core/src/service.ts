import type { Endpoint } from './endpoint.js';
import {
  IdempotencyInProgressError,
  IdempotencyKeyReusedError,
  InvalidInputError,
  NotFoundError,
  OutputNotAvailableError,
  OutputNotReadyError,
  problemType,
  type ValidationIssue,
} from './errors.js';
import { ChangeNotifier, unrefTimer, waitForWake } from './notifier.js';
import type { JobQueue } from './queue.js';
import type { JobRepository, ListPage } from './repository.js';
import { isFinalStatus, JOB_STATUSES, type JobRecord, type JobStatus, type ProblemDetails } from './types.js';
import { consoleLogger, hashInput, isJobId, type Logger, newJobId, within } from './util.js';
import type { Worker } from './worker.js';

export interface JobServiceOptions {
  repository: JobRepository;
  queue: JobQueue;
  endpoints: readonly Endpoint[];
  /** Workers whose `cleanup` runs when a succeeded job is deleted through this service. */
  workers?: readonly Worker<any>[];
  /** A replayed Idempotency-Key answers "in progress" while the original job is this young and not yet dispatched. Default 10 s. */
  idempotencyPendingMs?: number;
  /** Waiters re-read the job at least this often, in case a change notification was lost. Default 2 s. */
  pollIntervalMs?: number;
  logger?: Logger;
}

export interface CallerOptions {
  /** The caller's owner key; jobs of another owner are "not found". */
  owner?: string | null | undefined;
}

export interface SubmitOptions extends CallerOptions {
  idempotencyKey?: string | null | undefined;
}

export interface SubmitResult {
  job: JobRecord;
  /** false when an Idempotency-Key replay returned the original job. */
  created: boolean;
}

export interface WaitOptions extends CallerOptions {
  /** Longest wait; the job is returned as it is then. */
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  /** 'final' waits for a final state; 'change' for any change after `since` (default: the state at the call). */
  until?: 'final' | 'change';
  since?: Date | undefined;
}

export interface ListOptions extends CallerOptions {
  status?: JobStatus | undefined;
  limit?: number | undefined;
  cursor?: string | undefined;
}

export type DeleteOutcome = 'canceled' | 'cancel_requested' | 'removed';

export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;
const MAX_LIST_LIMIT = 100;

export const CANCELED_PROBLEM: ProblemDetails = {
  type: problemType('canceled'),
  title: 'Canceled',
  code: 'canceled',
  detail: 'The job was canceled on request.',
};

/** Front-end independent operations on jobs: what every HTTP (or other) front end calls. */
export class JobService {
  readonly repository: JobRepository;
  readonly queue: JobQueue;
  readonly endpoints: ReadonlyMap<string, Endpoint>;
  readonly #workers: Map<string, Worker<any>>;
  readonly #notifier: ChangeNotifier;
  readonly #idempotencyPendingMs: number;
  readonly #pollIntervalMs: number;
  readonly #logger: Logger;
  readonly #cleanups = new Set<Promise<void>>();

  constructor(options: JobServiceOptions) {
    this.repository = options.repository;
    this.queue = options.queue;
    const endpoints = new Map<string, Endpoint>();
    for (const endpoint of options.endpoints) {
      if (endpoints.has(endpoint.name)) throw new TypeError(`Endpoint ${endpoint.name} is registered twice.`);
      endpoints.set(endpoint.name, endpoint);
    }
    this.endpoints = endpoints;
    this.#workers = new Map((options.workers ?? []).map((worker) => [worker.endpoint.name, worker]));
    this.#notifier = new ChangeNotifier(options.repository);
    this.#idempotencyPendingMs = options.idempotencyPendingMs ?? 10_000;
    this.#pollIntervalMs = options.pollIntervalMs ?? 2_000;
    this.#logger = options.logger ?? consoleLogger;
  }

  endpoint(name: string): Endpoint {
    const endpoint = this.endpoints.get(name);
    if (!endpoint) throw new NotFoundError(`No endpoint named ${JSON.stringify(name)}.`);
    return endpoint;
  }

  /** Validates the input, stores the job, hands it to the queue. A queue outage only delays the job. */
  async submit(endpointName: string, input: unknown, options: SubmitOptions = {}): Promise<SubmitResult> {
    const endpoint = this.endpoint(endpointName);
    const parsed = endpoint.input.safeParse(input);
    if (!parsed.success) {
      throw new InvalidInputError(
        `The input does not match the ${endpoint.name} schema.`,
        toIssues(parsed.error.issues),
      );
    }
    const idempotencyKey = options.idempotencyKey ?? null;
    if (idempotencyKey !== null) validateIdempotencyKey(idempotencyKey);
    const inputHash = idempotencyKey === null ? null : await hashInput(parsed.data);
    const { job, created } = await this.repository.create({
      id: newJobId(),
      endpoint: endpoint.name,
      input: parsed.data,
      owner: options.owner ?? null,
      idempotencyKey,
      inputHash,
      maxAttempts: endpoint.maxAttempts,
      estimatedCompletionAt: null,
    });
    if (!created) {
      if (job.inputHash !== inputHash) throw new IdempotencyKeyReusedError();
      const pending =
        job.status === 'queued' &&
        job.attempt === 0 &&
        job.dispatchedAt === null &&
        Date.now() - job.createdAt.getTime() < this.#idempotencyPendingMs;
      if (pending) throw new IdempotencyInProgressError();
      return { job, created: false };
    }
    return { job: await this.#dispatch(job), created: true };
  }

  async #dispatch(job: JobRecord): Promise<JobRecord> {
    try {
      await this.queue.publish(job.endpoint, job.id);
    } catch (error) {
      this.#logger.warn('publish failed; the sweeper will dispatch the job later', {
        jobId: job.id,
        error: String(error),
      });
      return job;
    }
    try {
      await this.repository.markDispatched(job.id);
      return { ...job, dispatchedAt: new Date() };
    } catch (error) {
      this.#logger.warn('could not record the dispatch', { jobId: job.id, error: String(error) });
      return job;
    }
  }

  /** The job, if it exists, belongs to this endpoint and this owner, and has not expired. */
  async get(endpointName: string, id: string, options: CallerOptions = {}): Promise<JobRecord> {
    this.endpoint(endpointName);
    if (!isJobId(id)) throw new NotFoundError();
    const job = await this.repository.get(id);
    if (!job || !this.#visible(job, endpointName, options.owner)) throw new NotFoundError();
    return job;
  }

  async output(endpointName: string, id: string, options: CallerOptions = {}): Promise<unknown> {
    const job = await this.get(endpointName, id, options);
    if (job.status === 'succeeded') return job.output;
    if (isFinalStatus(job.status)) throw new OutputNotAvailableError(job.status);
    throw new OutputNotReadyError(job.status);
  }

  /**
   * DELETE semantics: a queued job is canceled, a running job gets a cancel request (its worker's signal
   * aborts), a final job is removed (and a succeeded job's worker cleanup runs).
   */
  async delete(
    endpointName: string,
    id: string,
    options: CallerOptions = {},
  ): Promise<{ outcome: DeleteOutcome; job: JobRecord }> {
    const endpoint = this.endpoint(endpointName);
    const job = await this.get(endpointName, id, options);
    if (isFinalStatus(job.status)) return { outcome: 'removed', job: await this.#remove(job) };
    const after = await this.repository.requestCancel(id, {
      retentionMs: endpoint.retentionMs,
      error: CANCELED_PROBLEM,
    });
    if (!after) throw new NotFoundError();
    if (after.status === 'running' || after.status === 'queued')
      return { outcome: 'cancel_requested', job: after };
    if (after.status === 'canceled' && job.status === 'queued') return { outcome: 'canceled', job: after };
    // It reached a final state on its own meanwhile: DELETE of a final job removes it.
    return { outcome: 'removed', job: await this.#remove(after) };
  }

  async #remove(job: JobRecord): Promise<JobRecord> {
    const removed = await this.repository.remove(job.id);
    if (removed) {
      // In the background: a slow cleanup must not hold the DELETE; close() waits for it (bounded).
      const cleanup = runCleanup(this.#workers.get(removed.endpoint), removed, this.#logger);
      this.#cleanups.add(cleanup);
      void cleanup.finally(() => this.#cleanups.delete(cleanup));
    }
    return removed ?? job;
  }

  /** Waits for a final state (or any change) of the job, woken by change notifications; polls as a backstop. */
  async wait(endpointName: string, id: string, options: WaitOptions): Promise<JobRecord> {
    const until = options.until ?? 'final';
    // Watch before the first read, so a change between the read and the wait is not missed.
    let changed = false;
    const unwatch = this.#notifier.watch(id, () => {
      changed = true;
    });
    try {
      if (options.timeoutMs > 0) {
        await within(
          this.#notifier.ready().catch(() => {}),
          options.timeoutMs,
          undefined,
        );
      }
      let job = await this.get(endpointName, id, options);
      const since = options.since ?? job.updatedAt;
      const done = (current: JobRecord) =>
        isFinalStatus(current.status) ||
        (until === 'change' && current.updatedAt.getTime() !== since.getTime());
      const deadline = Date.now() + options.timeoutMs;
      while (!done(job) && !options.signal?.aborted) {
        const remaining = deadline - Date.now();
        if (remaining <= 0) break;
        if (!changed) {
          await waitForWake(Math.min(remaining, this.#pollIntervalMs), options.signal, (wake) =>
            this.#notifier.watch(id, wake),
          );
        }
        changed = false;
        job = await this.get(endpointName, id, options);
      }
      return job;
    } finally {
      unwatch();
    }
  }

  /** Yields the job now and after each change, until it is final, the signal aborts or it disappears. */
  async *watch(
    endpointName: string,
    id: string,
    options: CallerOptions & { signal?: AbortSignal },
  ): AsyncGenerator<JobRecord> {
    let job = await this.get(endpointName, id, options);
    yield job;
    while (!isFinalStatus(job.status) && !options.signal?.aborted) {
      try {
        job = await this.wait(endpointName, id, {
          ...options,
          until: 'change',
          since: job.updatedAt,
          timeoutMs: 60_000,
        });
      } catch (error) {
        if (error instanceof NotFoundError) return;
        throw error;
      }
      if (!options.signal?.aborted) yield job;
    }
  }

  async list(endpointName: string, options: ListOptions = {}): Promise<ListPage> {
    this.endpoint(endpointName);
    if (options.status !== undefined && !JOB_STATUSES.includes(options.status)) {
      throw new InvalidInputError(`Unknown status ${JSON.stringify(options.status)}.`, [
        { path: ['status'], message: `Expected one of ${JOB_STATUSES.join(', ')}` },
      ]);
    }
    const limit = options.limit ?? 20;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
      throw new InvalidInputError(`limit must be an integer from 1 to ${MAX_LIST_LIMIT}.`, [
        { path: ['limit'], message: 'Out of range' },
      ]);
    }
    const page = await this.repository.list({
      endpoint: endpointName,
      owner: options.owner ?? null,
      status: options.status,
      limit,
      cursor: options.cursor,
    });
    const now = Date.now();
    return { ...page, jobs: page.jobs.filter((job) => !isExpired(job, now)) };
  }

  /** Suggested seconds before the client polls again. */
  retryAfterSeconds(job: JobRecord): number {
    const eta = job.estimatedCompletionAt?.getTime();
    if (eta === undefined) return job.status === 'queued' ? 2 : 1;
    return Math.min(60, Math.max(1, Math.ceil((eta - Date.now()) / 1000)));
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#cleanups]);
    await this.#notifier.close();
  }

  #visible(job: JobRecord, endpointName: string, owner: string | null | undefined): boolean {
    return job.endpoint === endpointName && job.owner === (owner ?? null) && !isExpired(job, Date.now());
  }
}

export function createJobService(options: JobServiceOptions): JobService {
  return new JobService(options);
}

function isExpired(job: JobRecord, now: number): boolean {
  return job.expiresAt !== null && job.expiresAt.getTime() <= now;
}

function validateIdempotencyKey(key: string): void {
  if (
    typeof key !== 'string' ||
    key.length === 0 ||
    key.length > MAX_IDEMPOTENCY_KEY_LENGTH ||
    !/^[\x21-\x7e]+$/.test(key)
  ) {
    throw new InvalidInputError(
      `The idempotency key must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} visible ASCII characters.`,
      [{ path: ['Idempotency-Key'], message: 'Invalid idempotency key' }],
    );
  }
}

export function toIssues(
  issues: ReadonlyArray<{ path: PropertyKey[]; message: string; code?: string }>,
): ValidationIssue[] {
  return issues.map((issue) => ({
    path: issue.path.map((segment) => (typeof segment === 'number' ? segment : String(segment))),
    message: issue.message,
    ...(issue.code ? { code: issue.code } : {}),
  }));
}

/** Longest a worker's cleanup may take before it is given up (and logged). */
export const CLEANUP_TIMEOUT_MS = 30_000;

/**
 * Runs a succeeded job's worker cleanup, at most once and bounded in time: errors and time-outs are logged,
 * never thrown. It runs in the process that deletes or expires the job, with the workers registered there.
 */
export async function runCleanup(
  worker: Worker<any> | undefined,
  job: JobRecord,
  logger: Logger,
): Promise<void> {
  if (!worker?.cleanup || job.status !== 'succeeded') return;
  const cleanup = worker.cleanup;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      Promise.resolve().then(() => cleanup({ input: job.input, output: job.output, job })),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`cleanup took longer than ${CLEANUP_TIMEOUT_MS} ms`)),
          CLEANUP_TIMEOUT_MS,
        );
        unrefTimer(timer);
      }),
    ]);
  } catch (error) {
    logger.error('worker cleanup failed', { jobId: job.id, endpoint: job.endpoint, error: String(error) });
  } finally {
    clearTimeout(timer);
  }
}
