import {
  JobsError,
  type Logger,
  PROBLEM_TYPE_BASE,
  type ProblemDetails,
  problemType,
  UnavailableError,
} from '@jobs/core';
import type { MiddlewareHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** Problems that the HTTP layer raises itself (the service raises the others). */
export function invalidJson(detail: string): JobsError {
  return new JobsError('invalid_json', 400, 'Invalid JSON', { detail });
}

export function unsupportedMediaType(detail: string): JobsError {
  return new JobsError('unsupported_media_type', 415, 'Unsupported media type', { detail });
}

export function payloadTooLarge(limit: number): JobsError {
  return new JobsError('payload_too_large', 413, 'Payload too large', {
    detail: `The request body exceeds the limit of ${limit} bytes.`,
    extensions: { limit },
  });
}

export function problemResponse(problem: ProblemDetails, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(problem), {
    status: problem.status ?? 500,
    headers: { 'Content-Type': PROBLEM_CONTENT_TYPE, 'Cache-Control': 'no-store', ...headers },
  });
}

/**
 * `problem` with its `type` under `base` (createJobsApp's `problemTypeBase`) when its type is the default one
 * of its code, `problemType(code)`; a type chosen otherwise (by a worker, say) stays as it is.
 */
export function withProblemTypeBase<T extends ProblemDetails>(problem: T, base: string | undefined): T {
  if (base === undefined || base === PROBLEM_TYPE_BASE || typeof problem.code !== 'string') return problem;
  if (problem.type !== problemType(problem.code)) return problem;
  return { ...problem, type: problemType(problem.code, base) };
}

/**
 * Middleware for a `problemTypeBase` of the operator's: every problem answer of the app (a route's, the error
 * handler's, a limit's) gets its type under `base`. Only problem answers are read again, and they are small.
 */
export function problemTypeBaseMiddleware(base: string): MiddlewareHandler {
  return async (c, next) => {
    await next();
    const response = c.res;
    if (!response.headers.get('content-type')?.startsWith(PROBLEM_CONTENT_TYPE)) return;
    const text = await response.text();
    let body = text;
    try {
      const problem = JSON.parse(text) as unknown;
      if (problem && typeof problem === 'object') {
        body = JSON.stringify(withProblemTypeBase(problem as ProblemDetails, base));
      }
    } catch {
      // not JSON after all: sent as it was
    }
    c.res = new Response(body, response);
  };
}

export function notFoundProblem(detail = 'No such resource.'): ProblemDetails {
  return { type: problemType('not_found'), title: 'Not found', status: 404, code: 'not_found', detail };
}

export function methodNotAllowed(allow: readonly string[]): Response {
  return problemResponse(
    {
      type: problemType('method_not_allowed'),
      title: 'Method not allowed',
      status: 405,
      code: 'method_not_allowed',
      detail: `This resource supports ${allow.join(', ')}.`,
    },
    { Allow: allow.join(', ') },
  );
}

const INTERNAL_PROBLEM: ProblemDetails = {
  type: problemType('internal'),
  title: 'Internal server error',
  status: 500,
  code: 'internal',
  detail: 'The server could not handle the request. The error was logged.',
};

/** Recognises a JobsError also when another copy of @jobs/core created it. */
function asJobsError(error: unknown): JobsError | null {
  if (error instanceof JobsError) return error;
  if (
    error instanceof Error &&
    typeof (error as Partial<JobsError>).status === 'number' &&
    typeof (error as Partial<JobsError>).code === 'string' &&
    typeof (error as Partial<JobsError>).toProblem === 'function'
  ) {
    return error as JobsError;
  }
  return null;
}

/**
 * Maps anything thrown while handling a request to a response: a client error (4xx) of the service or of
 * this package answers its problem; an unavailable backend answers 503 with Retry-After; an HTTPException
 * (e.g. from the owner hook) answers its own response; everything else is logged with its stack and
 * answers a generic 500 that says nothing about the cause.
 */
export function errorResponse(error: unknown, logger: Logger, request: Request): Response {
  if (error instanceof HTTPException) return error.getResponse();
  const jobsError = asJobsError(error);
  if (jobsError && jobsError.status >= 400 && jobsError.status < 500) {
    return problemResponse({ ...jobsError.toProblem(), status: jobsError.status });
  }
  if (jobsError && jobsError.code === 'unavailable') {
    const seconds = Math.max(
      1,
      Math.ceil(jobsError instanceof UnavailableError ? jobsError.retryAfterSeconds : 5),
    );
    // An outage answers every request with 503: one short line each, no stack, so logs stay readable.
    logger.warn(
      {
        method: request.method,
        path: new URL(request.url).pathname,
        error: error instanceof Error ? error.message : String(error),
      },
      'backend unavailable',
    );
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
    { method: request.method, path: new URL(request.url).pathname, error: describe(error) },
    'unhandled error',
  );
  return problemResponse(INTERNAL_PROBLEM);
}

/**
 * The problem of one refused item of a batch: a client error (4xx) answers its own problem; anything else is
 * logged with its stack, as `errorResponse` logs it, and answers the generic problem of its status.
 */
export function itemProblem(error: unknown, logger: Logger, request: Request): ProblemDetails {
  const jobsError = asJobsError(error);
  if (jobsError && jobsError.status >= 400 && jobsError.status < 500) {
    return { ...jobsError.toProblem(), status: jobsError.status };
  }
  logger.error(
    {
      method: request.method,
      path: new URL(request.url).pathname,
      error: describe(jobsError?.cause ?? error),
    },
    'unhandled error in a batch item',
  );
  return INTERNAL_PROBLEM;
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  return String(error);
}
