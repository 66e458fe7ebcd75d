// What a submit is: its options and answers, and the checks that turn one into the job to store.
import type { CallerOptions } from './caller.js';
import { checkPriority, type Endpoint } from './endpoint.js';
import { InvalidInputError, JobsError, toIssues } from './errors.js';
import { hashInput, newJobId, walkInput } from './ids.js';
import { checkStorableDate, isStorableString } from './json.js';
import { checkNumber } from './options.js';
import type { NewJob } from './repository.js';
import type { JobRecordHeader } from './types.js';

export interface SubmitOptions extends CallerOptions {
  idempotencyKey?: string | null | undefined;
  /** Not started before this time (a delayed job). */
  runAt?: Date | undefined;
  /** Not started before this long from now, by the repository's clock (ignored with `runAt`). */
  delayMs?: number | undefined;
  /** From -1000 to 1000; among due jobs of the endpoint, higher runs first. Default: the endpoint's. */
  priority?: number | undefined;
  /**
   * At most one queued or running job per unique key (per endpoint and owner): while one holds it, the submit
   * answers that job (`created: false, reason: 'unique'`). Replaces the endpoint's `unique.key`; 1 to 255
   * characters.
   */
  uniqueKey?: string | undefined;
}

/** One job of `submitMany`: its input and its own options. */
export interface SubmitManyItem extends Omit<SubmitOptions, 'owner'> {
  input: unknown;
}

/** One item's answer of `submitMany`: its job, or the error that refused that item alone. */
export type SubmitManyResult = ({ ok: true } & SubmitResult) | { ok: false; error: JobsError };

/**
 * The job stored (`created: true`), or an existing job answered instead (`created: false`): the original of an
 * Idempotency-Key replay (`reason: 'idempotent'`), or the queued or running job holding the unique key
 * (`reason: 'unique'`).
 */
export type SubmitResult =
  | { job: JobRecordHeader; created: true }
  | { job: JobRecordHeader; created: false; reason: 'idempotent' | 'unique' };

export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;
const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]+$/;

/** Validates one submit and makes the job to store. */
export async function newJob(
  endpoint: Endpoint,
  input: unknown,
  options: Omit<SubmitOptions, 'owner'>,
  owner: string | null | undefined,
): Promise<NewJob> {
  const parsed = walkInput(() => endpoint.input.safeParse(input));
  if (!parsed.success) {
    throw new InvalidInputError(
      `The input does not match the ${endpoint.name} schema.`,
      toIssues(parsed.error.issues),
    );
  }
  const idempotencyKey = options.idempotencyKey ?? null;
  if (idempotencyKey !== null) validateIdempotencyKey(idempotencyKey);
  const schedule = checkSchedule(options, endpoint.priority);
  return {
    id: newJobId(),
    endpoint: endpoint.name,
    input: parsed.data,
    owner: owner ?? null,
    idempotencyKey,
    inputHash: idempotencyKey === null ? null : await hashInput(parsed.data),
    maxAttempts: endpoint.maxAttempts,
    ...schedule,
    ...(endpoint.limits ? { limitKey: limitKeyOf(endpoint, parsed.data, owner ?? null) } : {}),
    ...uniqueKeyOf(endpoint, options.uniqueKey, parsed.data, owner ?? null),
  };
}

export const MAX_LIMIT_KEY_LENGTH = 255;
export const MAX_UNIQUE_KEY_LENGTH = 255;

/** The job's key for the endpoint's limits: its key function's answer, checked ('' without one). */
function limitKeyOf(endpoint: Endpoint, input: unknown, owner: string | null): string {
  const keyOf = endpoint.limits?.key;
  if (!keyOf) return '';
  return checkKey(
    keyOf(input, { owner }),
    MAX_LIMIT_KEY_LENGTH,
    'limits.key',
    `The ${endpoint.name} endpoint's limit key`,
  );
}

/** The job's unique key: the submit's own, else the endpoint's key function's answer; checked. */
function uniqueKeyOf(
  endpoint: Endpoint,
  given: unknown,
  input: unknown,
  owner: string | null,
): Pick<NewJob, 'uniqueKey'> {
  if (given !== undefined && given !== null)
    return { uniqueKey: checkKey(given, MAX_UNIQUE_KEY_LENGTH, 'uniqueKey', 'The unique key') };
  const keyOf = endpoint.unique?.key;
  if (!keyOf) return {};
  return {
    uniqueKey: checkKey(
      keyOf(input, { owner }),
      MAX_UNIQUE_KEY_LENGTH,
      'unique.key',
      `The ${endpoint.name} endpoint's unique key`,
    ),
  };
}

/** A key (for limits or uniqueness): a storable string of 1 to `max` characters, else a 422 naming `field`. */
function checkKey(key: unknown, max: number, field: string, what: string): string {
  if (typeof key !== 'string' || key.length === 0 || key.length > max || !isStorableString(key)) {
    throw InvalidInputError.field(field, `${what} must be a string of 1 to ${max} characters.`);
  }
  return key;
}

/** Any error as this project's error type (unexpected ones become a generic 500 problem). */
export function asJobsError(error: unknown): JobsError {
  return error instanceof JobsError
    ? error
    : new JobsError('internal', 500, 'Internal error', { cause: error });
}

/** The scheduling options of a submit, checked: when the job may start, and its priority. */
function checkSchedule(
  options: Pick<SubmitOptions, 'runAt' | 'delayMs' | 'priority'>,
  defaultPriority: number,
): Pick<NewJob, 'runAt' | 'delayMs' | 'priority'> {
  const { runAt, delayMs } = options;
  if (runAt !== undefined) checkStorableDate(runAt, 'runAt');
  if (delayMs !== undefined) {
    checkNumber('delayMs', delayMs, 'nonNegative', (message) => InvalidInputError.field('delayMs', message));
  }
  const priority = checkPriority(options.priority ?? defaultPriority, (message) =>
    InvalidInputError.field('priority', message),
  );
  return { runAt: runAt ?? null, delayMs: runAt === undefined ? (delayMs ?? null) : null, priority };
}

function validateIdempotencyKey(key: string): void {
  if (
    typeof key !== 'string' ||
    key.length === 0 ||
    key.length > MAX_IDEMPOTENCY_KEY_LENGTH ||
    !IDEMPOTENCY_KEY_PATTERN.test(key)
  ) {
    throw InvalidInputError.field(
      'Idempotency-Key',
      `The idempotency key must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} visible ASCII characters.`,
    );
  }
}
