import type { ProblemDetails, ValidationIssue } from '@jobs/core';
import type { Job } from './wire.js';

/** A problem+json body as the client sees it: the server's fields, with `issues` typed when present. */
export interface Problem extends ProblemDetails {
  issues?: ValidationIssue[];
}

/** Base class of every error the client throws on purpose (aborts rethrow the signal's reason instead). */
export class JobsClientError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The server answered with a non-success status; `problem` is its problem+json body (or one built from the status). */
export class JobsHttpError extends JobsClientError {
  readonly status: number;
  readonly problem: Problem;
  /** Seconds from the `Retry-After` header (or the problem's `retryAfter` extension); null when absent. */
  readonly retryAfterSeconds: number | null;
  readonly method: string;
  readonly url: string;

  constructor(args: {
    status: number;
    problem: Problem;
    retryAfterSeconds: number | null;
    method: string;
    url: string;
  }) {
    const { status, problem, method, url } = args;
    super(`${method} ${url} answered ${status}: ${problem.detail ?? problem.title}`);
    this.status = status;
    this.problem = problem;
    this.retryAfterSeconds = args.retryAfterSeconds;
    this.method = method;
    this.url = url;
  }

  /** The problem's stable code, e.g. `not_found`, `invalid_input`, `output_not_ready`. */
  get code(): string {
    return this.problem.code;
  }
}

/** The request did not get an answer: connection refused or reset, DNS failure, or the request timed out. */
export class JobsNetworkError extends JobsClientError {
  readonly method: string;
  readonly url: string;
  /** true when the client's own `requestTimeoutMs` ended the request. */
  readonly timedOut: boolean;

  constructor(args: { method: string; url: string; cause: unknown; timedOut?: boolean }) {
    const reason = args.timedOut
      ? 'timed out'
      : args.cause instanceof Error
        ? errorMessage(args.cause)
        : String(args.cause);
    super(`${args.method} ${args.url} failed: ${reason}`, { cause: args.cause });
    this.method = args.method;
    this.url = args.url;
    this.timedOut = args.timedOut ?? false;
  }
}

/** The server answered something this client does not understand (not JSON, not a job representation, ...). */
export class JobsProtocolError extends JobsClientError {
  readonly url: string;
  constructor(url: string, message: string, options?: { cause?: unknown }) {
    super(`${url}: ${message}`, options);
    this.url = url;
  }
}

/** The output the server returned does not match the endpoint's output schema. */
export class OutputValidationError extends JobsClientError {
  readonly issues: ValidationIssue[];
  readonly output: unknown;
  constructor(endpoint: string, issues: ValidationIssue[], output: unknown) {
    super(`The output of ${endpoint} does not match its output schema.`);
    this.issues = issues;
    this.output = output;
  }
}

/** `wait` (or `run`) reached its `timeoutMs` before the job reached a final state; `job` is the last state seen. */
export class JobWaitTimeoutError extends JobsClientError {
  readonly job: Job;
  constructor(job: Job, timeoutMs: number) {
    super(`Job ${job.id} is still ${job.status} after waiting ${timeoutMs} ms.`);
    this.job = job;
  }
}

/** A job `run` found failed or canceled: the job, and its error as `problem` (or `fallback` without one). */
abstract class JobNotSucceededError extends JobsClientError {
  readonly job: Job;
  readonly problem: Problem;
  constructor(job: Job, outcome: string, fallback: Problem) {
    const problem: Problem = job.error ?? fallback;
    super(`Job ${job.id} ${outcome}: ${problem.detail ?? problem.title}`);
    this.job = job;
    this.problem = problem;
  }
}

/** `run` found the job failed; `problem` is the job's error. */
export class JobFailedClientError extends JobNotSucceededError {
  constructor(job: Job) {
    super(job, 'failed', { type: 'about:blank', title: 'Job failed', code: 'job_failed' });
  }
}

/** `run` found the job canceled; `problem` is the job's error (code `canceled`, or why it was canceled). */
export class JobCanceledError extends JobNotSucceededError {
  constructor(job: Job) {
    super(job, 'was canceled', { type: 'about:blank', title: 'Canceled', code: 'canceled' });
  }
}

function errorMessage(error: Error): string {
  // undici reports "fetch failed" and keeps the useful part (ECONNREFUSED ...) in the cause.
  const cause = (error as { cause?: unknown }).cause;
  if (cause instanceof Error && cause.message && cause.message !== error.message) {
    return `${error.message} (${cause.message})`;
  }
  return error.message;
}
