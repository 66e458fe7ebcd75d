import { Batcher } from './batcher.js';
import { type CallerOptions, visibleTo } from './caller.js';
import type { Endpoint } from './endpoint.js';
import {
  CANCELED_PROBLEM,
  IdempotencyKeyReusedError,
  InvalidInputError,
  JobNotRetryableError,
  NotFoundError,
  OutputNotAvailableError,
  OutputNotReadyError,
  UniqueConflictError,
} from './errors.js';
import { isJobId } from './ids.js';
import { consoleLogger, type Logger } from './logger.js';
import { ChangeNotifier } from './notifier.js';
import { checkNumber } from './options.js';
import type { CreateResult, JobRepository, ListPage, NewJob } from './repository.js';
import { type Schedule, type ScheduleInfo, scheduleInfo } from './schedule.js';
import {
  asJobsError,
  newJob,
  type SubmitManyItem,
  type SubmitManyResult,
  type SubmitOptions,
  type SubmitResult,
} from './submit.js';
import { type SpanHandle, Telemetry } from './telemetry.js';
import {
  isFinalStatus,
  isJobStatus,
  JOB_STATUSES,
  type JobRecord,
  type JobRecordHeader,
  type JobStatus,
} from './types.js';
import { type Waiting, type WaitOptions, waitForJob, watchJob } from './waiting.js';

export interface JobServiceOptions {
  repository: JobRepository;
  endpoints: readonly Endpoint[];
  /** Waiters re-read the job this often while change notifications do not flow. Default 1 s. */
  pollIntervalMs?: number;
  /** ... and this often while they flow (a safety net only; notifications wake them). Default 30 s. */
  livePollIntervalMs?: number;
  /** Submits in one repository call at most (concurrent submits are stored together). Default 200. */
  maxCreateBatch?: number;
  /** Shared change subscription (the runtime passes one for the whole process); default: its own. */
  notifier?: ChangeNotifier;
  /** Called after a job was stored (the runtime wakes this process's dispatcher with it). */
  onCreated?: (job: JobRecordHeader) => void;
  /** Called after a job was removed (the runtime wakes this process's cleanup runner). */
  onRemoved?: (job: JobRecordHeader) => void;
  /** Called after a job was retried, queued again (the runtime wakes this process's dispatcher with it). */
  onRetried?: (job: JobRecordHeader) => void;
  /** Recurring schedules to list (`listSchedules`); the runtime's scheduler submits their occurrences. */
  schedules?: readonly Schedule[];
  /** Milliseconds since the epoch, for the schedules' next occurrences; default `Date.now`. */
  clock?: () => number;
  /** Metrics and spans (the runtime passes its own); default: none. */
  telemetry?: Telemetry;
  logger?: Logger;
}

export interface ListOptions extends CallerOptions {
  status?: JobStatus | undefined;
  limit?: number | undefined;
  cursor?: string | undefined;
}

export type DeleteOutcome = 'canceled' | 'cancel_requested' | 'removed';

const MAX_LIST_LIMIT = 100;

/** Front-end independent operations on jobs: what every HTTP (or other) front end calls. */
export class JobService {
  readonly repository: JobRepository;
  readonly endpoints: ReadonlyMap<string, Endpoint>;
  readonly #notifier: ChangeNotifier;
  readonly #ownsNotifier: boolean;
  readonly #waiting: Waiting;
  readonly #creates: Batcher<NewJob, CreateResult>;
  readonly #onCreated: (job: JobRecordHeader) => void;
  readonly #onRemoved: (job: JobRecordHeader) => void;
  readonly #onRetried: (job: JobRecordHeader) => void;
  readonly #schedules: readonly Schedule[];
  readonly #clock: () => number;
  readonly #telemetry: Telemetry;

  constructor(options: JobServiceOptions) {
    this.repository = options.repository;
    const endpoints = new Map<string, Endpoint>();
    for (const endpoint of options.endpoints) {
      if (endpoints.has(endpoint.name)) throw new TypeError(`Endpoint ${endpoint.name} is registered twice.`);
      endpoints.set(endpoint.name, endpoint);
    }
    this.endpoints = endpoints;
    const logger = options.logger ?? consoleLogger;
    this.#ownsNotifier = !options.notifier;
    this.#notifier = options.notifier ?? new ChangeNotifier(options.repository, logger);
    this.#waiting = {
      notifier: this.#notifier,
      pollIntervalMs: checkNumber('pollIntervalMs', options.pollIntervalMs ?? 1_000, 'positive'),
      livePollIntervalMs: checkNumber('livePollIntervalMs', options.livePollIntervalMs ?? 30_000, 'positive'),
    };
    const maxBatch = checkNumber('maxCreateBatch', options.maxCreateBatch ?? 200, 'positiveInteger');
    this.#creates = new Batcher((jobs) => this.repository.create(jobs), { maxBatch });
    this.#onCreated = options.onCreated ?? (() => {});
    this.#onRemoved = options.onRemoved ?? (() => {});
    this.#onRetried = options.onRetried ?? (() => {});
    this.#clock = options.clock ?? Date.now;
    this.#telemetry = options.telemetry ?? Telemetry.disabled;
    this.#schedules = options.schedules ?? [];
    for (const schedule of this.#schedules) {
      if (!endpoints.has(schedule.endpoint)) {
        throw new TypeError(
          `Schedule ${schedule.name} is for ${schedule.endpoint}, which is not an endpoint here.`,
        );
      }
    }
  }

  endpoint(name: string): Endpoint {
    const endpoint = this.endpoints.get(name);
    if (!endpoint) throw new NotFoundError(`No endpoint named ${JSON.stringify(name)}.`);
    return endpoint;
  }

  /**
   * Validates the input and stores the job; a dispatcher hands it to the queue. Concurrent submits are stored
   * together (one repository call), without a lone submit ever waiting for others.
   */
  async submit(endpointName: string, input: unknown, options: SubmitOptions = {}): Promise<SubmitResult> {
    const result = await this.submitWith((job) => this.#creates.add(job), endpointName, input, options);
    if (result.created) this.#onCreated(result.job);
    return result;
  }

  /**
   * `submit` with the job stored by `create` instead of the service's repository call: the same checks (input,
   * keys, scheduling) and the same answer (an Idempotency-Key replay with another input is refused), for a store
   * the caller controls, e.g. an insert inside the caller's own database transaction (`submitInTransaction` of
   * @jobs/repo-postgres). This process's dispatcher is not told (the job may not be visible before the caller
   * commits); the job's change notification wakes the dispatchers once it is.
   */
  async submitWith(
    create: (job: NewJob) => Promise<CreateResult>,
    endpointName: string,
    input: unknown,
    options: SubmitOptions = {},
  ): Promise<SubmitResult> {
    const endpoint = this.endpoint(endpointName);
    if (!this.#telemetry.loaded) await this.#telemetry.ready;
    const span = this.#submitSpan(endpoint.name, 1);
    try {
      const job = await newJob(endpoint, input, options, options.owner);
      job.traceContext = this.#telemetry.traceContextOf(span);
      const result = this.#answer(job, await create(job));
      this.#telemetry.setAttribute(span, 'messaging.message.id', result.job.id);
      this.#telemetry.endSpan(span);
      return result;
    } catch (error) {
      this.#telemetry.endSpan(span, error);
      throw error;
    }
  }

  /** The submit span: a child of the caller's active span (e.g. the HTTP request's). */
  #submitSpan(endpoint: string, count: number): SpanHandle | null {
    const span = this.#telemetry.startSpan('submit', endpoint, null);
    if (count !== 1) this.#telemetry.setAttribute(span, 'messaging.batch.message_count', count);
    return span;
  }

  /**
   * Submits many jobs of one endpoint in one repository call. Not atomic: each item is validated and stored on
   * its own, and answers on its own (an invalid item is refused, the others are stored).
   */
  async submitMany(
    endpointName: string,
    items: readonly SubmitManyItem[],
    options: CallerOptions = {},
  ): Promise<SubmitManyResult[]> {
    const endpoint = this.endpoint(endpointName);
    if (!this.#telemetry.loaded) await this.#telemetry.ready;
    const span = this.#submitSpan(endpoint.name, items.length);
    try {
      const results = await this.#submitMany(endpoint, items, options, span);
      this.#telemetry.endSpan(span);
      return results;
    } catch (error) {
      this.#telemetry.endSpan(span, error);
      throw error;
    }
  }

  async #submitMany(
    endpoint: Endpoint,
    items: readonly SubmitManyItem[],
    options: CallerOptions,
    span: SpanHandle | null,
  ): Promise<SubmitManyResult[]> {
    const traceContext = this.#telemetry.traceContextOf(span);
    const prepared = await Promise.all(
      items.map((item) =>
        newJob(endpoint, item.input, item, options.owner).then(
          (job) => ({ ok: true as const, job }),
          (error: unknown) => ({ ok: false as const, error: asJobsError(error) }),
        ),
      ),
    );
    const jobs = prepared.flatMap((item) => (item.ok ? [item.job] : []));
    for (const job of jobs) job.traceContext = traceContext;
    const stored = jobs.length === 0 ? [] : await this.repository.create(jobs);
    let next = 0;
    return prepared.map((item): SubmitManyResult => {
      if (!item.ok) return item;
      const result = stored[next++]!;
      if (!result.ok) return { ok: false, error: asJobsError(result.error) };
      try {
        const answered = this.#answer(item.job, result.value);
        if (answered.created) this.#onCreated(answered.job);
        return { ok: true, ...answered };
      } catch (error) {
        return { ok: false, error: asJobsError(error) };
      }
    });
  }

  /** The answer to a submit once stored (see `answer`), counted when it created a job. */
  #answer(submitted: NewJob, result: CreateResult): SubmitResult {
    const answered = answer(submitted, result);
    if (answered.created) this.#telemetry.submitted(answered.job.endpoint);
    return answered;
  }

  /** The job with its input and output, if it exists, belongs to this endpoint and this owner, and has not expired. */
  async get(endpointName: string, id: string, options: CallerOptions = {}): Promise<JobRecord> {
    this.endpoint(endpointName);
    const job = isJobId(id) ? await this.repository.get(id) : null;
    return visibleTo(job, endpointName, options.owner);
  }

  /** Like `get`, without the input and output (what a status answer needs). */
  async getHeader(endpointName: string, id: string, options: CallerOptions = {}): Promise<JobRecordHeader> {
    this.endpoint(endpointName);
    const job = isJobId(id) ? await this.repository.get(id, 'header') : null;
    return visibleTo(job, endpointName, options.owner);
  }

  async output(endpointName: string, id: string, options: CallerOptions = {}): Promise<unknown> {
    const job = await this.get(endpointName, id, options);
    if (job.status === 'succeeded') return job.output;
    if (isFinalStatus(job.status)) throw new OutputNotAvailableError(job.status);
    throw new OutputNotReadyError(job.status);
  }

  /**
   * DELETE semantics: a queued job is canceled, a running job gets a cancel request (its worker's signal
   * aborts), a final job is removed (and a succeeded job's worker cleanup is scheduled).
   */
  async delete(
    endpointName: string,
    id: string,
    options: CallerOptions = {},
  ): Promise<{ outcome: DeleteOutcome; job: JobRecordHeader }> {
    const endpoint = this.endpoint(endpointName);
    const job = await this.getHeader(endpointName, id, options);
    if (isFinalStatus(job.status)) return { outcome: 'removed', job: await this.#remove(job) };
    const after = await this.repository.requestCancel(id, {
      retentionMs: endpoint.retentionMs,
      error: CANCELED_PROBLEM,
    });
    if (!after) throw new NotFoundError();
    if (after.status === 'running' || after.status === 'queued')
      return { outcome: 'cancel_requested', job: after };
    if (after.status === 'canceled' && job.status === 'queued') {
      this.#telemetry.settled(endpoint.name, 'canceled');
      return { outcome: 'canceled', job: after };
    }
    // It reached a final state on its own meanwhile: DELETE of a final job removes it.
    return { outcome: 'removed', job: await this.#remove(after) };
  }

  /**
   * Runs a failed or canceled job again under the same id (its URL keeps working): it goes back to `queued` with
   * the endpoint's maxAttempts of new attempts (`attempt` keeps counting every execution), its error, output and
   * expiry cleared, and a dispatcher hands it to the queue like a new job. `JobNotRetryableError` (409) for a
   * queued, running or succeeded job, `UniqueConflictError` (409) when another queued or running job holds its
   * unique key, `NotFoundError` for an unknown, expired or another owner's job; none changes anything.
   */
  async retry(endpointName: string, id: string, options: CallerOptions = {}): Promise<JobRecordHeader> {
    const endpoint = this.endpoint(endpointName);
    const job = await this.getHeader(endpointName, id, options);
    if (job.status !== 'failed' && job.status !== 'canceled') throw new JobNotRetryableError(job.status);
    const result = await this.repository.retry(job.id, { attempts: endpoint.maxAttempts });
    if (!result) throw new NotFoundError();
    if (result.uniqueConflict !== undefined) throw new UniqueConflictError(result.uniqueConflict);
    // A concurrent retry won (the job is queued or running again), or it expired and was replaced meanwhile.
    if (!result.retried) throw new JobNotRetryableError(result.job.status);
    this.#telemetry.settled(endpoint.name, 'retried', 'manual');
    this.#onRetried(result.job);
    return result.job;
  }

  async #remove(job: JobRecordHeader): Promise<JobRecordHeader> {
    const removed = await this.repository.remove(job.id);
    if (removed) this.#onRemoved(removed);
    return removed ?? job;
  }

  /**
   * Waits for a final state (or any change) of the job and returns its header. Woken by change notifications
   * of that job only; it reads the job again when a change it waits for arrives, and polls as a backstop.
   */
  wait(endpointName: string, id: string, options: WaitOptions): Promise<JobRecordHeader> {
    return waitForJob(this.#waiting, id, options, () => this.getHeader(endpointName, id, options));
  }

  /** Yields the job now and after each change, until it is final, the signal aborts or it disappears. */
  watch(
    endpointName: string,
    id: string,
    options: CallerOptions & { signal?: AbortSignal },
  ): AsyncGenerator<JobRecordHeader> {
    return watchJob(
      () => this.getHeader(endpointName, id, options),
      (since) => this.wait(endpointName, id, { ...options, until: 'change', since, timeoutMs: 60_000 }),
      options,
    );
  }

  async list(endpointName: string, options: ListOptions = {}): Promise<ListPage> {
    this.endpoint(endpointName);
    if (options.status !== undefined && !isJobStatus(options.status)) {
      throw InvalidInputError.field(
        'status',
        `Unknown status ${JSON.stringify(options.status)}; expected one of ${JOB_STATUSES.join(', ')}.`,
      );
    }
    const limit = options.limit ?? 20;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
      throw InvalidInputError.field('limit', `limit must be an integer from 1 to ${MAX_LIST_LIMIT}.`);
    }
    return this.repository.list({
      endpoint: endpointName,
      owner: options.owner ?? null,
      status: options.status,
      limit,
      cursor: options.cursor,
    });
  }

  /**
   * The endpoint's recurring schedules with their last handled and next occurrences (the schedules' jobs have no
   * owner; a schedule is listed to every caller, its input to none).
   */
  async listSchedules(endpointName: string, _options: CallerOptions = {}): Promise<ScheduleInfo[]> {
    this.endpoint(endpointName);
    const schedules = this.#schedules.filter((schedule) => schedule.endpoint === endpointName);
    if (schedules.length === 0) return [];
    const recorded = await this.repository.readSchedules(schedules.map((schedule) => schedule.name));
    const now = this.#clock();
    return schedules.map((schedule) =>
      scheduleInfo(schedule, recorded.get(schedule.name)?.getTime() ?? null, now),
    );
  }

  /**
   * Suggested seconds before the client polls again: until a delayed job's runAt, or until the ETA (both stored
   * by the repository's clock, read here against this node's, so a skew between them only shifts this hint),
   * 1 to 60 s.
   */
  retryAfterSeconds(job: JobRecordHeader): number {
    const eta = job.estimatedCompletionAt?.getTime();
    const untilDue = job.status === 'queued' ? job.runAt.getTime() - Date.now() : 0;
    // A delayed job: nothing happens before its runAt.
    if (untilDue > 2_000) return Math.min(60, Math.ceil(untilDue / 1000));
    if (eta === undefined) return job.status === 'queued' ? 2 : 1;
    return Math.min(60, Math.max(1, Math.ceil((eta - Date.now()) / 1000)));
  }

  async close(): Promise<void> {
    if (this.#ownsNotifier) await this.#notifier.close();
  }
}

/**
 * The answer to a submit once stored: the new job, or the existing job answered instead; an Idempotency-Key
 * replay with another input is refused.
 */
function answer(submitted: NewJob, result: CreateResult): SubmitResult {
  if (result.created) return { job: result.job, created: true };
  if (result.reason === 'idempotent' && result.job.inputHash !== submitted.inputHash) {
    throw new IdempotencyKeyReusedError();
  }
  return { job: result.job, created: false, reason: result.reason };
}

export function createJobService(options: JobServiceOptions): JobService {
  return new JobService(options);
}
