import { backoffDelay, type Endpoint } from '../endpoint.js';
import {
  CANCELED_PROBLEM,
  isJobsError,
  JobFailedError,
  problem,
  RetryLaterError,
  toIssues,
} from '../errors.js';
import { describeError, jobLogFields, type Logger } from '../logger.js';
import type { SettleOutcome } from '../repository.js';
import type { JobExecutionResult, JobRecord, ProblemDetails } from '../types.js';
import type { Worker, WorkerContext } from '../worker.js';

/** Why a run's signal was aborted. */
export type AbortReason = 'canceled' | 'timeout' | 'lease_lost' | 'shutdown';

export interface Execution {
  /** What the worker produced, once it returned, threw, or its signal aborted (whichever is first). */
  result: Promise<{ ok: true; value: unknown } | { ok: false; error: unknown }>;
  /** Settles when the worker's own code has returned or thrown (it may outlive an abort). */
  returned: Promise<void>;
}

/**
 * Starts the worker's code; its result settles early with the abort reason when `aborted` resolves (a canceled,
 * timed-out or stopped run is over for the host even if its code ignores its signal). Never throws.
 */
export function execute(
  worker: Worker<any>,
  job: JobRecord,
  context: WorkerContext,
  aborted: Promise<unknown>,
): Execution {
  const running = Promise.resolve().then(() => worker.run(job.input, context));
  const returned = running.then(
    () => {},
    () => {},
  );
  const result = Promise.race([
    running.then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error }),
    ),
    aborted.then((reason) => ({ ok: false as const, error: reason })),
  ]);
  return { result, returned };
}

/**
 * Turns what the worker produced into a `JobExecutionResult`: the abort reason wins (a canceled or timed-out
 * run's own answer does not count), an output is validated against the endpoint's schema, and a thrown
 * error becomes a failure that says whether a retry may help. A plain error's message may carry internals
 * (hosts, SQL, paths): it is logged, and clients see a generic detail; `JobFailedError` shows its message.
 */
export function toExecutionResult(
  endpoint: Endpoint,
  job: JobRecord,
  produced: { ok: true; value: unknown } | { ok: false; error: unknown },
  reason: 'canceled' | 'timeout' | null,
  logger: Logger,
): JobExecutionResult {
  if (reason === 'canceled') return { status: 'canceled', error: CANCELED_PROBLEM };
  if (reason === 'timeout') {
    return {
      status: 'failed',
      error: problem('timeout', 'Timed out', `The job did not finish within ${endpoint.timeoutMs} ms.`),
      retryable: true,
    };
  }
  if (produced.ok) return validateOutput(endpoint, job, produced.value, logger);
  const error = produced.error;
  if (error instanceof RetryLaterError)
    return { status: 'snoozed', delayMs: error.afterMs, error: error.toProblem() };
  if (error instanceof JobFailedError) {
    return { status: 'failed', error: error.toProblem(), retryable: error.retryable };
  }
  if (isJobsError(error))
    return { status: 'failed', error: error.toProblem(), retryable: error.status >= 500 };
  logger.warn(
    {
      ...jobLogFields(job),
      attempt: job.attempt,
      error: error instanceof Error ? (error.stack ?? error.message) : String(error),
    },
    'worker failed',
  );
  return {
    status: 'failed',
    error: problem('job_failed', 'Job failed', 'The worker failed.'),
    retryable: true,
  };
}

function validateOutput(
  endpoint: Endpoint,
  job: JobRecord,
  output: unknown,
  logger: Logger,
): JobExecutionResult {
  let parsed: ReturnType<Endpoint['output']['safeParse']>;
  try {
    parsed = endpoint.output.safeParse(output);
  } catch (error) {
    logger.error({ ...jobLogFields(job), error: describeError(error) }, 'the output schema threw');
    return invalidOutput('The output could not be validated.');
  }
  if (parsed.success) return { status: 'succeeded', output: parsed.data };
  logger.error(jobLogFields(job), 'worker output does not match the output schema');
  return invalidOutput('The worker produced an output that does not match the schema.', {
    issues: toIssues(parsed.error.issues),
  });
}

/** An output that cannot be accepted: a retry would produce the same, so the job fails at once. */
export function invalidOutput(detail: string, extensions: Record<string, unknown> = {}): JobExecutionResult {
  return {
    status: 'failed',
    error: { ...problem('invalid_output', 'Invalid output', detail), ...extensions },
    retryable: false,
  };
}

/** The job's next state for an execution result: final, or queued again after a backoff while attempts remain. */
export function nextState(
  endpoint: Endpoint,
  job: JobRecord,
  result: JobExecutionResult,
  cleanup: boolean,
  logger: Logger,
): SettleOutcome {
  const retentionMs = endpoint.retentionMs;
  switch (result.status) {
    case 'succeeded':
      return { status: 'succeeded', output: result.output, retentionMs, cleanup };
    case 'canceled':
      return { status: 'canceled', error: result.error, retentionMs };
    case 'snoozed':
      return { status: 'queued', delayMs: result.delayMs, error: result.error, refundAttempt: true };
    case 'failed': {
      const delayMs =
        result.retryable && job.attempt < job.maxAttempts
          ? retryDelay(endpoint, job, result.error, logger)
          : null;
      if (delayMs !== null) return { status: 'queued', delayMs, error: result.error, refundAttempt: false };
      return { status: 'failed', error: result.error, retentionMs };
    }
  }
}

/**
 * The delay before the next attempt: the endpoint's retry policy, or its backoff; null: no retry after all (also
 * when the policy throws or answers something else than a delay: logged, and the job fails with its error).
 */
function retryDelay(
  endpoint: Endpoint,
  job: JobRecord,
  error: ProblemDetails,
  logger: Logger,
): number | null {
  if (!endpoint.retry) return backoffDelay(endpoint.backoff, job.attempt + 1);
  let delay: unknown;
  try {
    delay = endpoint.retry({ attempt: job.attempt, maxAttempts: job.maxAttempts, error });
  } catch (policyError) {
    logger.error(
      { ...jobLogFields(job), error: describeError(policyError) },
      'the retry policy threw; the job fails',
    );
    return null;
  }
  if (delay === null) return null;
  if (typeof delay !== 'number' || !Number.isFinite(delay) || delay < 0) {
    logger.error(
      { ...jobLogFields(job), answer: String(delay) },
      'the retry policy answered no delay; the job fails',
    );
    return null;
  }
  return delay;
}

/** A run beyond the attempt limit: the previous one died without recording anything. */
export function attemptsExhausted(job: JobRecord): ProblemDetails {
  return (
    job.error ??
    problem('attempts_exhausted', 'Attempts exhausted', 'The job lost its worker on its last attempt.')
  );
}
