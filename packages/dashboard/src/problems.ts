import {
  isJobsError,
  type JobsError,
  type Logger,
  type ProblemDetails,
  problemType,
  UnavailableError,
} from '@jobs/core';
import { HTTPException } from 'hono/http-exception';

export function problemResponse(problem: ProblemDetails, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(problem), {
    status: problem.status ?? 500,
    headers: { 'Content-Type': 'application/problem+json', 'Cache-Control': 'no-store', ...headers },
  });
}

/** A problem of the dashboard itself (not one of @jobs/core's errors). */
export function problem(status: number, code: string, title: string, detail: string): Response {
  return problemResponse({ type: problemType(code), title, status, code, detail });
}

export const forbidden = () =>
  problem(403, 'forbidden', 'Forbidden', 'The authorization hook of the dashboard refused this request.');

export const notFound = (detail = 'No such job.') => problem(404, 'not_found', 'Not found', detail);

/** Recognises a JobsError also when another copy of @jobs/core made it. */
function asJobsError(error: unknown): JobsError | null {
  if (isJobsError(error)) return error;
  const candidate = error as Partial<JobsError> | null;
  return error instanceof Error &&
    typeof candidate?.status === 'number' &&
    typeof candidate.code === 'string' &&
    typeof candidate.toProblem === 'function'
    ? (error as JobsError)
    : null;
}

/**
 * A client error of the service answers its problem; an unavailable backend answers 503 with Retry-After; an
 * HTTPException (from the authorization hook) its own response; anything else is logged and answers a bare 500.
 */
export function errorResponse(error: unknown, logger: Logger, request: Request): Response {
  if (error instanceof HTTPException) return error.getResponse();
  const jobsError = asJobsError(error);
  if (jobsError && jobsError.status >= 400 && jobsError.status < 500) {
    return problemResponse({ ...jobsError.toProblem(), status: jobsError.status });
  }
  if (jobsError?.code === 'unavailable') {
    const seconds = error instanceof UnavailableError ? Math.max(1, Math.ceil(error.retryAfterSeconds)) : 5;
    return problemResponse(
      {
        type: problemType('unavailable'),
        title: 'Service unavailable',
        status: 503,
        code: 'unavailable',
        detail: `A backend service is temporarily unavailable; retry in ${seconds} s.`,
      },
      { 'Retry-After': String(seconds) },
    );
  }
  logger.error(
    {
      method: request.method,
      path: new URL(request.url).pathname,
      error: error instanceof Error ? (error.stack ?? error.message) : String(error),
    },
    'dashboard: unhandled error',
  );
  return problem(500, 'internal', 'Internal server error', 'The error was logged.');
}
