import type { z } from 'zod';
import { InvalidEndpointError } from './errors.js';
import type { DispatchLimits, RateLimit } from './flow.js';
import { type NumberRule, numberOption } from './options.js';
import { MAX_PRIORITY, MIN_PRIORITY } from './repository.js';
import type { ProblemDetails } from './types.js';

/** The default retry policy: exponential backoff with jitter and a cap. */
export interface BackoffOptions {
  /** Delay before the second attempt. Default 1 s. */
  initialMs?: number;
  /** Each further delay is multiplied by this. Default 2. */
  factor?: number;
  /** Upper bound of one delay. Default 5 min. */
  maxMs?: number;
  /** Each delay varies randomly by up to this fraction either way (0: none, 1: from 0 to twice), so retries do not stampede. Default 0.2. */
  jitter?: number;
}

/** What a retry policy is told about a failed attempt that may be retried. */
export interface RetryContext {
  /** The attempt that failed (1 for the first). */
  attempt: number;
  maxAttempts: number;
  /** Why it failed. */
  error: ProblemDetails;
}

/**
 * A custom retry policy: the delay before the next attempt in milliseconds, or null to fail the job now. Called
 * only while attempts remain and the failure is retryable; the endpoint's `backoff` is the default policy.
 */
export type RetryPolicy = (context: RetryContext) => number | null;

export interface EndpointOptions {
  /** How long a finished job (and its output) is kept. Default 24 h. */
  retentionMs?: number;
  /** Execution time limit of one attempt; the worker's signal aborts when it passes. Default: none. */
  timeoutMs?: number | null;
  /** Attempts in all, the first included. Default 3. */
  maxAttempts?: number;
  backoff?: BackoffOptions;
  /** Replaces the backoff: decides the delay before each retry, or that there is none. */
  retry?: RetryPolicy;
  /** Jobs of this endpoint one worker host runs at once. Default 4. */
  concurrency?: number;
  /** Priority of its jobs when a submit gives none (-1000 to 1000, higher first). Default 0. */
  priority?: number;
  /**
   * At most this many of its jobs wait in the queue (handed out, not yet claimed); the rest wait in the
   * repository, in priority order. Keeps priorities effective behind a backlog with a broker that has none
   * (RabbitMQ quorum queues). Default: no bound (every due job is handed out at once: the fastest).
   */
  dispatchAhead?: number | null;
  /** Human description, used in the OpenAPI document. */
  description?: string;
}

/**
 * Flow limits of an endpoint, kept across every process that shares the repository: they are applied where jobs
 * are handed to the queue, so a job over a limit waits `queued` (it never fails for it).
 */
export interface EndpointLimits<Input = unknown> {
  /**
   * The key of a job (a tenant, an account, a customer): computed once at submit from the parsed input and the
   * owner, stored with the job. Keys take fair turns: the key with the fewest jobs handed out goes next, so one
   * key's backlog never starves another. A non-empty string of at most 255 characters.
   */
  key?: (input: Input, context: { owner: string | null }) => string;
  /** At most this many jobs of the endpoint handed out or running at once, in all processes together. */
  concurrency?: number;
  /** At most this many jobs of one key handed out or running at once (needs `key`). */
  concurrencyPerKey?: number;
  /** At most `limit` jobs of the endpoint handed out per `intervalMs`. */
  rate?: RateLimit;
  /** At most `limit` jobs of one key handed out per `intervalMs` (needs `key`). */
  ratePerKey?: RateLimit;
}

/**
 * Unique jobs: at most one queued or running job per unique key, per endpoint and owner. A submit whose key a live
 * job holds stores nothing and answers that job (`created: false, reason: 'unique'`); once that job is final
 * (succeeded, failed, canceled) or deleted, the key is free and the next submit creates a job.
 */
export interface EndpointUnique<Input = unknown> {
  /**
   * The job's unique key, computed at submit from the parsed input and the owner (a submit's `uniqueKey` option
   * replaces it). A non-empty string of at most 255 characters.
   */
  key: (input: Input, context: { owner: string | null }) => string;
}

/** An endpoint's limits, checked: the caps a dispatch keeps to, and the key function (null: one key for all). */
export interface ResolvedLimits extends DispatchLimits {
  readonly key: ((input: unknown, context: { owner: string | null }) => string) | null;
}

export interface EndpointDefinition<
  Name extends string = string,
  Input extends z.ZodType = z.ZodType,
  Output extends z.ZodType = z.ZodType,
> extends EndpointOptions {
  name: Name;
  input: Input;
  output: Output;
  /** Concurrency across processes, per-key concurrency with fair turns, rate limits. Default: none. */
  limits?: EndpointLimits<z.output<Input>>;
  /** At most one queued or running job per unique key (per owner). Default: none. */
  unique?: EndpointUnique<z.output<Input>>;
}

export interface Endpoint<
  Name extends string = string,
  Input extends z.ZodType = z.ZodType,
  Output extends z.ZodType = z.ZodType,
> {
  readonly name: Name;
  readonly input: Input;
  readonly output: Output;
  readonly description: string | undefined;
  readonly retentionMs: number;
  readonly timeoutMs: number | null;
  readonly maxAttempts: number;
  readonly backoff: Required<BackoffOptions>;
  readonly retry: RetryPolicy | null;
  readonly concurrency: number;
  readonly priority: number;
  readonly dispatchAhead: number | null;
  /** Its flow limits; null when it has none (its jobs are handed out as soon as they are due). */
  readonly limits: ResolvedLimits | null;
  /** Its unique-key function; null when it has none (only a submit's `uniqueKey` makes a job unique). */
  readonly unique: EndpointUnique | null;
}

export type EndpointInput<E extends Endpoint> = z.input<E['input']>;
export type EndpointParsedInput<E extends Endpoint> = z.output<E['input']>;
export type EndpointOutput<E extends Endpoint> = z.output<E['output']>;

/** Endpoint names become queue names and URL segments: lower-case letters, digits, `-` and `_`. */
export const ENDPOINT_NAME_PATTERN = /^[a-z][a-z0-9_-]{0,62}$/;

const DAY_MS = 24 * 60 * 60 * 1000;

export function defineEndpoint<Name extends string, Input extends z.ZodType, Output extends z.ZodType>(
  definition: EndpointDefinition<Name, Input, Output>,
): Endpoint<Name, Input, Output> {
  const { name } = definition;
  if (typeof name !== 'string' || !ENDPOINT_NAME_PATTERN.test(name)) {
    throw new InvalidEndpointError(
      `Endpoint name ${JSON.stringify(name)} must match ${ENDPOINT_NAME_PATTERN} (it becomes a queue name and a URL segment).`,
    );
  }
  if (!isSchema(definition.input) || !isSchema(definition.output)) {
    throw new InvalidEndpointError(`Endpoint ${name}: input and output must be zod schemas.`);
  }
  const option = (path: string, value: unknown, rule: NumberRule, fallback: number) =>
    numberOption(
      path,
      value,
      rule,
      fallback,
      (message) => new InvalidEndpointError(`Endpoint ${name}: ${message}`),
    );
  const retentionMs = option('retentionMs', definition.retentionMs, 'positive', DAY_MS);
  const timeoutMs =
    definition.timeoutMs == null ? null : option('timeoutMs', definition.timeoutMs, 'positive', 0);
  const maxAttempts = option('maxAttempts', definition.maxAttempts, 'positiveInteger', 3);
  const concurrency = option('concurrency', definition.concurrency, 'positiveInteger', 4);
  const backoff = {
    initialMs: option('backoff.initialMs', definition.backoff?.initialMs, 'nonNegative', 1000),
    factor: option('backoff.factor', definition.backoff?.factor, 'positive', 2),
    maxMs: option('backoff.maxMs', definition.backoff?.maxMs, 'nonNegative', 5 * 60 * 1000),
    jitter: option('backoff.jitter', definition.backoff?.jitter, 'nonNegative', 0.2),
  };
  if (backoff.jitter > 1)
    throw new InvalidEndpointError(`Endpoint ${name}: backoff.jitter must be from 0 to 1.`);
  if (definition.retry !== undefined && typeof definition.retry !== 'function') {
    throw new InvalidEndpointError(`Endpoint ${name}: retry must be a function.`);
  }
  const priority = checkPriority(
    definition.priority ?? 0,
    (message) => new InvalidEndpointError(`Endpoint ${name}: ${message}`),
  );
  const dispatchAhead =
    definition.dispatchAhead == null
      ? null
      : option('dispatchAhead', definition.dispatchAhead, 'positiveInteger', 0);
  const limits = checkLimits(definition.limits as EndpointLimits | undefined, option, name);
  const unique = definition.unique as EndpointUnique | undefined;
  if (
    unique !== undefined &&
    (typeof unique !== 'object' || unique === null || typeof unique.key !== 'function')
  ) {
    throw new InvalidEndpointError(`Endpoint ${name}: unique must be { key: (input, { owner }) => string }.`);
  }
  return Object.freeze({
    name,
    input: definition.input,
    output: definition.output,
    description: definition.description,
    retentionMs,
    timeoutMs,
    maxAttempts,
    backoff: Object.freeze(backoff),
    retry: definition.retry ?? null,
    concurrency,
    priority,
    dispatchAhead,
    limits,
    unique: unique ? Object.freeze({ key: unique.key }) : null,
  });
}

function checkLimits(
  limits: EndpointLimits | undefined,
  option: (path: string, value: unknown, rule: NumberRule, fallback: number) => number,
  name: string,
): ResolvedLimits | null {
  if (limits === undefined || limits === null) return null;
  const fail = (message: string) => new InvalidEndpointError(`Endpoint ${name}: ${message}`);
  if (typeof limits !== 'object') throw fail('limits must be an object.');
  if (limits.key !== undefined && typeof limits.key !== 'function')
    throw fail('limits.key must be a function.');
  const count = (path: string, value: unknown) =>
    value === undefined ? null : option(`limits.${path}`, value, 'positiveInteger', 0);
  const rate = (path: string, value: RateLimit | undefined): RateLimit | null => {
    if (value === undefined) return null;
    if (typeof value !== 'object' || value === null)
      throw fail(`limits.${path} must be { limit, intervalMs }.`);
    return Object.freeze({
      limit: option(`limits.${path}.limit`, value.limit ?? Number.NaN, 'positiveInteger', 0),
      intervalMs: option(`limits.${path}.intervalMs`, value.intervalMs ?? Number.NaN, 'positiveInteger', 0),
    });
  };
  const resolved: ResolvedLimits = {
    key: (limits.key as ResolvedLimits['key']) ?? null,
    concurrency: count('concurrency', limits.concurrency),
    concurrencyPerKey: count('concurrencyPerKey', limits.concurrencyPerKey),
    rate: rate('rate', limits.rate),
    ratePerKey: rate('ratePerKey', limits.ratePerKey),
  };
  if (resolved.key === null && (resolved.concurrencyPerKey !== null || resolved.ratePerKey !== null)) {
    throw fail('limits.concurrencyPerKey and limits.ratePerKey need limits.key.');
  }
  return Object.freeze(resolved);
}

/** Delay before attempt `nextAttempt` (2 for the first retry), varied by the jitter so retries do not stampede. */
export function backoffDelay(
  backoff: Required<BackoffOptions>,
  nextAttempt: number,
  random = Math.random,
): number {
  const base = Math.min(backoff.maxMs, backoff.initialMs * backoff.factor ** Math.max(0, nextAttempt - 2));
  return Math.round(base * (1 - backoff.jitter + 2 * backoff.jitter * random()));
}

/** A job priority: an integer from -1000 to 1000 (higher first). */
export function checkPriority(value: unknown, makeError: (message: string) => Error): number {
  if (
    typeof value === 'number' &&
    Number.isInteger(value) &&
    value >= MIN_PRIORITY &&
    value <= MAX_PRIORITY
  ) {
    return value;
  }
  throw makeError(
    `priority must be an integer from ${MIN_PRIORITY} to ${MAX_PRIORITY}, got ${String(value)}.`,
  );
}

function isSchema(value: unknown): value is z.ZodType {
  return typeof value === 'object' && value !== null && typeof (value as z.ZodType).safeParse === 'function';
}
