import { JobsClientError, JobsHttpError, JobsNetworkError, JobsProtocolError } from './errors.js';
import { parseProblem, parseRetryAfter, problemFromStatus } from './wire.js';

export type HeadersOption =
  | Record<string, string>
  | (() => Record<string, string> | Promise<Record<string, string>>);

export interface TransportOptions {
  fetch: typeof fetch;
  headers: HeadersOption | undefined;
  retries: number;
  requestTimeoutMs: number;
  maxRetryDelayMs: number;
}

export interface RequestSpec {
  method: 'GET' | 'POST' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  body?: string;
  /** Retries of transient failures are allowed (GET, DELETE, POST with an Idempotency-Key). */
  idempotent: boolean;
  redirect?: RequestRedirect;
  signal?: AbortSignal | undefined;
  /** Added to the client's request timeout: how long the server may legitimately hold the request (long-poll). */
  extraTimeoutMs?: number;
  /** The body is a stream read after `request` returns: the timeout covers the headers only. */
  streaming?: boolean;
}

/** Statuses worth another try of an idempotent request. */
const TRANSIENT_STATUSES = new Set([429, 502, 503, 504]);
const FIRST_RETRY_DELAY_MS = 250;

/**
 * One HTTP exchange with bounded retries of transient failures. Answers with a 2xx or 3xx status (or a
 * browser's opaque redirect) are handed to `read`, inside the retry scope; every other answer becomes a
 * `JobsHttpError` built from its problem+json body.
 */
export async function request<T>(
  options: TransportOptions,
  spec: RequestSpec,
  read: (response: Response, release: () => void) => Promise<T>,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const canRetry = spec.idempotent && attempt < options.retries;
    let retryDelayMs: number;
    const scope = linkSignal(spec.signal, options.requestTimeoutMs + (spec.extraTimeoutMs ?? 0));
    try {
      // The protocol headers of the request win over same-named ones from the `headers` option.
      const headers = new Headers(await resolveHeaders(options.headers));
      for (const [name, value] of Object.entries(spec.headers ?? {})) headers.set(name, value);
      const init: RequestInit = { method: spec.method, headers, signal: scope.signal };
      if (spec.body !== undefined) init.body = spec.body;
      if (spec.redirect) init.redirect = spec.redirect;
      const response = await options.fetch(spec.url, init);
      if (response.ok || isRedirect(response)) {
        if (spec.streaming) scope.clearTimer();
        const result = await read(response, scope.dispose);
        if (!spec.streaming) scope.dispose();
        return result;
      }
      const error = await httpError(spec, response);
      const delay = canRetry ? transientDelay(error, attempt, options.maxRetryDelayMs) : null;
      if (delay === null) throw error;
      retryDelayMs = delay;
    } catch (error) {
      scope.dispose();
      if (spec.signal?.aborted) throw spec.signal.reason;
      if (error instanceof JobsClientError) throw error;
      const networkError = new JobsNetworkError({
        method: spec.method,
        url: spec.url,
        cause: error,
        timedOut: scope.timedOut,
      });
      if (!canRetry) throw networkError;
      retryDelayMs = backoff(attempt, options.maxRetryDelayMs);
    }
    scope.dispose();
    await sleep(retryDelayMs, spec.signal);
    spec.signal?.throwIfAborted();
  }
}

/** Reads a JSON body; a body that is not JSON is a protocol error (the server broke the contract). */
export async function readJson(response: Response, url: string): Promise<unknown> {
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new JobsProtocolError(url, `expected a JSON body, got ${JSON.stringify(text.slice(0, 100))}`, {
      cause: error,
    });
  }
}

function isRedirect(response: Response): boolean {
  return response.type === 'opaqueredirect' || (response.status >= 300 && response.status < 400);
}

async function httpError(spec: RequestSpec, response: Response): Promise<JobsHttpError> {
  const text = await response.text().catch(() => '');
  let problem = null;
  try {
    problem = parseProblem(JSON.parse(text));
  } catch {
    // not JSON: a proxy's page or an empty body
  }
  const headerDelay = parseRetryAfter(response.headers.get('retry-after'));
  const extensionDelay = typeof problem?.retryAfter === 'number' ? problem.retryAfter : null;
  return new JobsHttpError({
    status: response.status,
    problem: problem ?? problemFromStatus(response.status, response.statusText, text),
    retryAfterSeconds: headerDelay ?? extensionDelay,
    method: spec.method,
    url: spec.url,
  });
}

/** Milliseconds before retrying `error`, or null when it is not transient or the server asks for too long. */
function transientDelay(error: JobsHttpError, attempt: number, maxRetryDelayMs: number): number | null {
  const transient =
    TRANSIENT_STATUSES.has(error.status) ||
    // The first request with this Idempotency-Key is still creating its job.
    (error.status === 409 && error.code === 'idempotency_in_progress');
  if (!transient) return null;
  if (error.retryAfterSeconds === null) return backoff(attempt, maxRetryDelayMs);
  const ms = error.retryAfterSeconds * 1000;
  return ms <= maxRetryDelayMs ? ms : null;
}

function backoff(attempt: number, maxMs: number): number {
  const base = Math.min(maxMs, FIRST_RETRY_DELAY_MS * 2 ** attempt);
  return Math.round(base * (0.8 + 0.4 * Math.random()));
}

async function resolveHeaders(headers: HeadersOption | undefined): Promise<Record<string, string>> {
  if (!headers) return {};
  return typeof headers === 'function' ? await headers() : headers;
}

interface SignalScope {
  signal: AbortSignal;
  readonly timedOut: boolean;
  clearTimer(): void;
  dispose(): void;
}

/**
 * A signal that aborts with the caller's signal or after `timeoutMs` (0 or Infinity: never). Not
 * `AbortSignal.any([parent, AbortSignal.timeout(ms)])`: the caller's signal may live as long as the program, and
 * a combined signal stays registered on it (nodejs/node#54614); the timer must also be cleared once the response
 * headers are in (a long body or stream is not bound by the request timeout), and `timedOut` tells a timeout
 * from the caller's abort.
 */
export function linkSignal(parent: AbortSignal | undefined, timeoutMs: number): SignalScope {
  const controller = new AbortController();
  let timedOut = false;
  const onAbort = () => controller.abort(parent?.reason);
  if (parent?.aborted) controller.abort(parent.reason);
  else parent?.addEventListener('abort', onAbort, { once: true });
  const timer =
    timeoutMs > 0 && Number.isFinite(timeoutMs)
      ? setTimeout(() => {
          timedOut = true;
          controller.abort(new DOMException(`The request timed out after ${timeoutMs} ms.`, 'TimeoutError'));
        }, timeoutMs)
      : undefined;
  return {
    signal: controller.signal,
    get timedOut() {
      return timedOut;
    },
    clearTimer() {
      clearTimeout(timer);
    },
    dispose() {
      clearTimeout(timer);
      parent?.removeEventListener('abort', onAbort);
    },
  };
}

/**
 * Resolves after `ms`, or at once when `signal` aborts (the caller checks the signal). The client's own: it
 * imports only types from `@jobs/core`, so a browser bundle carries none of the server runtime.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted || ms <= 0) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
