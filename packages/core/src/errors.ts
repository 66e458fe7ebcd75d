import type { ProblemDetails } from './types.js';

/**
 * The default prefix of problem `type` URIs: `urn:jobs:problem:<code>`. A problem type is an identifier
 * (RFC 9457 §3.1.1: consumers use it to tell problems apart and should not dereference it); a URN is one that
 * never resolves, so no domain that someone else may own (or lose) is ever linked to. Front ends let the
 * operator choose another base, e.g. an https URL of their own documentation (`problemType(code, base)`).
 */
export const PROBLEM_TYPE_BASE = 'urn:jobs:problem:';

export type JobsErrorCode =
  | 'not_found'
  | 'invalid_input'
  | 'invalid_output'
  | 'invalid_endpoint'
  | 'invalid_json'
  | 'unsupported_media_type'
  | 'payload_too_large'
  | 'idempotency_key_reused'
  | 'output_not_ready'
  | 'output_not_available'
  | 'not_retryable'
  | 'unique_conflict'
  | 'unavailable'
  | 'timeout'
  | 'canceled'
  | 'job_failed'
  | 'lease_lost'
  | 'attempts_exhausted'
  | 'retry_later'
  | 'method_not_allowed'
  | 'internal';

export interface JobsErrorOptions {
  detail?: string;
  cause?: unknown;
  extensions?: Record<string, unknown>;
}

/** Base class of every error this project throws on purpose; maps 1:1 to a problem+json answer. */
export class JobsError extends Error {
  readonly code: JobsErrorCode;
  readonly status: number;
  readonly title: string;
  readonly extensions: Record<string, unknown>;

  constructor(code: JobsErrorCode, status: number, title: string, options: JobsErrorOptions = {}) {
    super(options.detail ?? title, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = status;
    this.title = title;
    this.extensions = options.extensions ?? {};
  }

  get type(): string {
    return problemType(this.code);
  }

  toProblem(): ProblemDetails {
    return {
      type: this.type,
      title: this.title,
      status: this.status,
      code: this.code,
      detail: this.message,
      ...this.extensions,
    };
  }
}

/**
 * The `type` URI of the problem `code`: `base` (default `PROBLEM_TYPE_BASE`) followed by the code in
 * kebab case, e.g. `problemType('not_found', 'https://example.com/problems/')` →
 * `https://example.com/problems/not-found`. The one place where problem types are made.
 */
export function problemType(code: JobsErrorCode | string, base: string = PROBLEM_TYPE_BASE): string {
  return `${base}${code.replaceAll('_', '-')}`;
}

export class NotFoundError extends JobsError {
  constructor(detail = 'No such job.') {
    super('not_found', 404, 'Not found', { detail });
  }
}

export interface ValidationIssue {
  path: (string | number)[];
  message: string;
  code?: string;
}

export class InvalidInputError extends JobsError {
  readonly issues: ValidationIssue[];
  constructor(detail: string, issues: ValidationIssue[] = []) {
    super('invalid_input', 422, 'Invalid input', { detail, extensions: { issues } });
    this.issues = issues;
  }

  /** An invalid value of one field: the detail is also the issue's message. */
  static field(field: string, detail: string, code?: string): InvalidInputError {
    // `new this`, not `new InvalidInputError`: a bundler renames a class that names itself inside (esbuild gives
    // it `_InvalidInputError`), and the name is what `name` (and so every caller) sees.
    // biome-ignore lint/complexity/noThisInStatic: see above; `new InvalidInputError` would break the name when bundled
    return new this(detail, [{ path: [field], message: detail, ...(code ? { code } : {}) }]);
  }
}

/** zod's (or any validator's) issues in the shape problem details carry. */
export function toIssues(
  issues: ReadonlyArray<{ path: readonly PropertyKey[]; message: string; code?: string }>,
): ValidationIssue[] {
  return issues.map((issue) => ({
    path: issue.path.map((segment) => (typeof segment === 'number' ? segment : String(segment))),
    message: issue.message,
    ...(issue.code ? { code: issue.code } : {}),
  }));
}

export class InvalidEndpointError extends JobsError {
  constructor(detail: string) {
    super('invalid_endpoint', 500, 'Invalid endpoint definition', { detail });
  }
}

/** The idempotency key was used before with another input. */
export class IdempotencyKeyReusedError extends JobsError {
  constructor() {
    super('idempotency_key_reused', 422, 'Idempotency key reused', {
      detail: 'This Idempotency-Key was already used with a different input.',
    });
  }
}

export class OutputNotReadyError extends JobsError {
  constructor(status: string) {
    super('output_not_ready', 404, 'Output not ready', {
      detail: `The job is ${status}; its output is not ready yet.`,
    });
  }
}

export class OutputNotAvailableError extends JobsError {
  constructor(status: string) {
    super('output_not_available', 404, 'Output not available', {
      detail: `The job is ${status}; it has no output.`,
    });
  }
}

/** Only a failed or canceled job can be retried; this one is queued, running or succeeded (it changed nothing). */
export class JobNotRetryableError extends JobsError {
  readonly jobStatus: string;
  constructor(status: string) {
    super('not_retryable', 409, 'Job not retryable', {
      detail: `The job is ${status}; only a failed or canceled job can be retried.`,
      extensions: { jobStatus: status },
    });
    this.jobStatus = status;
  }
}

/**
 * A retry would queue a job whose unique key another queued or running job of the same endpoint and owner holds
 * now (at most one live job per unique key): refused, nothing changed. `conflictingJobId` is that live job.
 */
export class UniqueConflictError extends JobsError {
  readonly conflictingJobId: string;
  constructor(conflictingJobId: string) {
    super('unique_conflict', 409, 'Unique key held by another job', {
      detail: `Another job with this unique key is queued or running (${conflictingJobId}); retry this one once it is final, or use that one.`,
      extensions: { conflictingJobId },
    });
    this.conflictingJobId = conflictingJobId;
  }
}

/** A backend (database, broker) cannot be reached; the operation changed nothing and may be retried. */
export class UnavailableError extends JobsError {
  readonly retryAfterSeconds: number;
  constructor(
    detail = 'A backend service is unavailable.',
    options: { cause?: unknown; retryAfterSeconds?: number } = {},
  ) {
    super('unavailable', 503, 'Service unavailable', { detail, cause: options.cause });
    this.retryAfterSeconds = options.retryAfterSeconds ?? 5;
  }
}

/**
 * Thrown by worker code to fail a job with a chosen problem. `retryable: false` fails the job at once
 * even when attempts remain. Any other thrown error is retryable.
 */
export class JobFailedError extends JobsError {
  readonly retryable: boolean;
  constructor(
    detail: string,
    options: { retryable?: boolean; code?: string; extensions?: Record<string, unknown> } = {},
  ) {
    super('job_failed', 500, 'Job failed', { detail, extensions: options.extensions });
    this.retryable = options.retryable ?? true;
    if (options.code) this.extensions.reason = options.code;
  }
}

/**
 * Thrown by worker code to be run again after `afterMs` without using up an attempt ("snooze"): e.g. an upstream
 * answered 429 with Retry-After. The job is queued again with the reason as its `error` until then.
 */
export class RetryLaterError extends JobsError {
  readonly afterMs: number;
  constructor(afterMs: number, detail = 'The worker asked to run this job again later.') {
    super('retry_later', 503, 'Retry later', { detail });
    if (typeof afterMs !== 'number' || !Number.isFinite(afterMs) || afterMs < 0) {
      throw new TypeError(`RetryLaterError: afterMs must be a number >= 0, got ${afterMs}.`);
    }
    this.afterMs = afterMs;
  }
}

export function isJobsError(error: unknown): error is JobsError {
  return error instanceof JobsError;
}

/** A problem to store on a job (not thrown): its type comes from its code. */
export function problem(code: string, title: string, detail: string): ProblemDetails {
  return { type: problemType(code), title, code, detail };
}

export const CANCELED_PROBLEM: ProblemDetails = problem(
  'canceled',
  'Canceled',
  'The job was canceled on request.',
);
