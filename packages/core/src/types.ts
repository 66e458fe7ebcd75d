import type { TraceContext } from './telemetry.js';

export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'canceled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export type FinalStatus = 'succeeded' | 'failed' | 'canceled';

export function isFinalStatus(status: JobStatus): status is FinalStatus {
  return status === 'succeeded' || status === 'failed' || status === 'canceled';
}

export function isJobStatus(value: unknown): value is JobStatus {
  return typeof value === 'string' && (JOB_STATUSES as readonly string[]).includes(value);
}

/** RFC 9457 problem details, with the stable `code` every error of this project carries. */
export interface ProblemDetails {
  type: string;
  title: string;
  code: string;
  status?: number;
  detail?: string;
  [extension: string]: unknown;
}

export interface JobProgress {
  /** 0 to 1. */
  fraction: number;
  message?: string;
}

/** What a client may see of a job. */
export interface JobHeader {
  id: string;
  endpoint: string;
  status: JobStatus;
  createdAt: Date;
  updatedAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  /** When a finished job is removed; null while it is not final. */
  expiresAt: Date | null;
  /** A queued job is not started before this time (a delayed job, a retry's backoff). */
  runAt: Date;
  /** Among due jobs of its endpoint, a higher priority is handed to workers first. */
  priority: number;
  /** Executions started so far (1 on the first run). */
  attempt: number;
  maxAttempts: number;
  progress: JobProgress | null;
  estimatedCompletionAt: Date | null;
  error: ProblemDetails | null;
  cancelRequested: boolean;
}

/** Everything a repository stores about a job except its input and output: what reads that need no payload get. */
export interface JobRecordHeader extends JobHeader {
  /** The caller's owner key from the front end's owner hook; null when the deployment has no owners. */
  owner: string | null;
  idempotencyKey: string | null;
  /** Hash of the input, compared when an idempotency key is reused. */
  inputHash: string | null;
  /** Last time the job id was handed to the queue; null while it still has to be (again). */
  dispatchedAt: Date | null;
  /** Token of the worker holding the job while running; null otherwise. */
  leaseToken: string | null;
  leaseExpiresAt: Date | null;
  /**
   * W3C trace context of the span that submitted the job (`traceparent`, `tracestate`), so that its dispatch and
   * run join the submit's trace in any process; null without tracing.
   */
  traceContext: TraceContext | null;
}

/** Everything a repository stores about a job. */
export interface JobRecord<Input = unknown, Output = unknown> extends JobRecordHeader {
  input: Input;
  output: Output | null;
}

/**
 * What a change notification says about a job: enough for a waiter or a worker host to decide whether the
 * change concerns it without reading the job.
 */
export interface JobChange {
  id: string;
  /** null: the job was removed. */
  status: JobStatus | null;
  /** The job's `updatedAt` after the change (for a removal: the time of the removal). */
  updatedAt: Date;
  attempt: number;
  cancelRequested: boolean;
  /** For a `queued` job: when it becomes claimable (the dispatcher's wake-up); null otherwise. */
  runAt: Date | null;
}

/**
 * What running a worker produced: its output, a failure (retryable or not) or a cancellation. A worker just
 * returns its output or throws; the worker host turns that into this, then into the job's next state.
 */
export type JobExecutionResult<Output = unknown> =
  | { status: 'succeeded'; output: Output }
  | { status: 'failed'; error: ProblemDetails; retryable: boolean }
  | { status: 'canceled'; error: ProblemDetails }
  /** The worker asked to run again after `delayMs`, without using up an attempt (`RetryLaterError`). */
  | { status: 'snoozed'; delayMs: number; error: ProblemDetails };

/** The header of a stored job: what a client may see besides input and output. */
export function toJobHeader(job: JobHeader): JobHeader {
  return {
    id: job.id,
    endpoint: job.endpoint,
    status: job.status,
    createdAt: job.createdAt,
    updatedAt: job.updatedAt,
    startedAt: job.startedAt,
    finishedAt: job.finishedAt,
    expiresAt: job.expiresAt,
    runAt: job.runAt,
    priority: job.priority,
    attempt: job.attempt,
    maxAttempts: job.maxAttempts,
    progress: job.progress,
    estimatedCompletionAt: job.estimatedCompletionAt,
    error: job.error,
    cancelRequested: job.cancelRequested,
  };
}
