export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'canceled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export type FinalStatus = 'succeeded' | 'failed' | 'canceled';

export function isFinalStatus(status: JobStatus): status is FinalStatus {
  return status === 'succeeded' || status === 'failed' || status === 'canceled';
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
  /** Executions started so far (1 on the first run). */
  attempt: number;
  maxAttempts: number;
  progress: JobProgress | null;
  estimatedCompletionAt: Date | null;
  error: ProblemDetails | null;
  cancelRequested: boolean;
}

/** Everything a repository stores about a job. */
export interface JobRecord<Input = unknown, Output = unknown> extends JobHeader {
  input: Input;
  output: Output | null;
  /** The caller's owner key from the front end's owner hook; null when the deployment has no owners. */
  owner: string | null;
  idempotencyKey: string | null;
  /** Hash of the input, compared when an idempotency key is reused. */
  inputHash: string | null;
  /** A queued job is not claimable before this time (retry backoff). */
  runAt: Date;
  /** Last time the job id was handed to the queue; null while it still has to be (again). */
  dispatchedAt: Date | null;
  /** Token of the worker holding the job while running; null otherwise. */
  leaseToken: string | null;
  leaseExpiresAt: Date | null;
}

/** What running a worker produced. A worker may just return its output or throw; the runtime wraps it. */
export type JobExecutionResult<Output = unknown> =
  | { status: 'succeeded'; output: Output }
  | { status: 'failed'; error: ProblemDetails; retryable: boolean }
  | { status: 'canceled'; error?: ProblemDetails };
