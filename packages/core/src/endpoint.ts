import type { z } from 'zod';
import { InvalidEndpointError } from './errors.js';
import { type NumberRule, numberOption } from './options.js';

export interface BackoffOptions {
  /** Delay before the second attempt. Default 1 s. */
  initialMs?: number;
  /** Each further delay is multiplied by this. Default 2. */
  factor?: number;
  /** Upper bound of one delay. Default 5 min. */
  maxMs?: number;
}

export interface EndpointOptions {
  /** How long a finished job (and its output) is kept. Default 24 h. */
  retentionMs?: number;
  /** Execution time limit of one attempt; the worker's signal aborts when it passes. Default: none. */
  timeoutMs?: number | null;
  /** Attempts in all, the first included. Default 3. */
  maxAttempts?: number;
  backoff?: BackoffOptions;
  /** Jobs of this endpoint one worker host runs at once. Default 4. */
  concurrency?: number;
  /** Human description, used in the OpenAPI document. */
  description?: string;
}

export interface EndpointDefinition<
  Name extends string = string,
  Input extends z.ZodType = z.ZodType,
  Output extends z.ZodType = z.ZodType,
> extends EndpointOptions {
  name: Name;
  input: Input;
  output: Output;
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
  readonly concurrency: number;
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
  };
  return Object.freeze({
    name,
    input: definition.input,
    output: definition.output,
    description: definition.description,
    retentionMs,
    timeoutMs,
    maxAttempts,
    backoff: Object.freeze(backoff),
    concurrency,
  });
}

/** Delay before attempt `nextAttempt` (2 for the first retry), with ±20 % jitter so retries do not stampede. */
export function backoffDelay(
  backoff: Required<BackoffOptions>,
  nextAttempt: number,
  random = Math.random,
): number {
  const base = Math.min(backoff.maxMs, backoff.initialMs * backoff.factor ** Math.max(0, nextAttempt - 2));
  return Math.round(base * (0.8 + 0.4 * random()));
}

function isSchema(value: unknown): value is z.ZodType {
  return typeof value === 'object' && value !== null && typeof (value as z.ZodType).safeParse === 'function';
}
