import {
  type Endpoint,
  InvalidInputError,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  MAX_PRIORITY,
  MAX_UNIQUE_KEY_LENGTH,
  MIN_PRIORITY,
  type ProblemDetails,
  type SubmitManyItem,
  type ValidationIssue,
} from '@jobs/core';
import type { Context } from 'hono';
import { readJsonBody } from '../body.js';
import type { AppContext } from '../context.js';
import { UNIQUE_KEY_HEADER } from '../headers.js';
import { itemProblem, withProblemTypeBase } from '../problems.js';
import { type JobRepresentation, toRepresentation } from '../representation.js';
import {
  DELAY_HEADER,
  invalid,
  MAX_DELAY_SECONDS,
  PRIORITY_HEADER,
  parseDateTime,
  priorityMessage,
  RUN_AT_HEADER,
} from '../schedule.js';

/** Most jobs one batch request may submit. */
export const MAX_BATCH_JOBS = 1000;

/** The answer to one item of a batch. */
export type BatchItemResult =
  | {
      /** 202 (accepted), or 200 for a replayed job that already failed or was canceled: what a single submit answers. */
      status: 200 | 202;
      job: JobRepresentation;
      /** true when the item's idempotencyKey returned an existing job (`Idempotent-Replayed` of a single submit). */
      replayed: boolean;
      /** true when the live job holding the item's unique key was returned (`Job-Unique-Match` of a single submit). */
      uniqueMatch: boolean;
    }
  | { status: number; problem: ProblemDetails };

const ITEM_FIELDS = new Set(['input', 'idempotencyKey', 'uniqueKey', 'runAt', 'delaySeconds', 'priority']);
/** Headers of a single submit that have no meaning for a batch: each item says what they say. */
const ITEM_HEADERS: Record<string, string> = {
  'Idempotency-Key': 'idempotencyKey',
  [UNIQUE_KEY_HEADER]: 'uniqueKey',
  [RUN_AT_HEADER]: 'runAt',
  [DELAY_HEADER]: 'delaySeconds',
  [PRIORITY_HEADER]: 'priority',
};
const KEY_PATTERN = /^[\x21-\x7e]+$/;

/**
 * `POST /{endpoint}/batch` with `{ "jobs": [{ input, idempotencyKey?, uniqueKey?, runAt?, delaySeconds?, priority? }, …] }`:
 * one `submitMany` (one repository round trip). Not atomic: each item is stored or refused on its own, and the
 * answer is `200 { results: [...] }` in item order. A malformed envelope refuses the request (422, nothing stored).
 */
export async function submitBatch(ctx: AppContext, c: Context, endpoint: Endpoint): Promise<Response> {
  const owner = await ctx.ownerOf(c);
  const misplaced = Object.keys(ITEM_HEADERS).filter((name) => c.req.header(name) !== undefined);
  if (misplaced.length > 0) {
    throw invalid(
      misplaced.map((name) => ({
        path: [name],
        message: `A batch takes it per job: set "${ITEM_HEADERS[name]}" on each item instead.`,
      })),
      'header',
    );
  }
  const body = await readJsonBody(c.req.raw, ctx.maxBodyBytes, ctx.maxJsonDepth);
  const items = envelope(body);
  const parsed = items.map((item) => {
    try {
      return { ok: true as const, item: batchItem(item) };
    } catch (error) {
      if (!(error instanceof InvalidInputError)) throw error;
      return { ok: false as const, error };
    }
  });
  const valid = parsed.flatMap((entry) => (entry.ok ? [entry.item] : []));
  const stored = valid.length === 0 ? [] : await ctx.service.submitMany(endpoint.name, valid, { owner });
  const base = ctx.baseOf(c, 2);
  const problem = (error: unknown): BatchItemResult => {
    const details = withProblemTypeBase(itemProblem(error, ctx.logger, c.req.raw), ctx.problemTypeBase);
    return { status: details.status ?? 500, problem: details };
  };
  let next = 0;
  const results = parsed.map((entry): BatchItemResult => {
    if (!entry.ok) return problem(entry.error);
    const result = stored[next++]!;
    if (!result.ok) return problem(result.error);
    const { job } = result;
    return {
      status: job.status === 'failed' || job.status === 'canceled' ? 200 : 202,
      job: toRepresentation(base, job, ctx),
      replayed: !result.created && result.reason === 'idempotent',
      uniqueMatch: !result.created && result.reason === 'unique',
    };
  });
  c.header('Cache-Control', 'no-store');
  return c.json({ results }, 200);
}

/** The items of `{ "jobs": [...] }`; a 422 for the whole request when the body is not that. */
function envelope(body: unknown): unknown[] {
  const refuse = (path: Array<string | number>, message: string) =>
    new InvalidInputError(`The batch is malformed. ${message}`, [{ path, message }]);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw refuse([], 'Expected an object: { "jobs": [ { "input": … }, … ] }.');
  }
  const unknown = Object.keys(body).find((key) => key !== 'jobs');
  if (unknown !== undefined) throw refuse([unknown], `Unknown field ${JSON.stringify(unknown)}.`);
  const jobs = (body as { jobs?: unknown }).jobs;
  if (!Array.isArray(jobs)) throw refuse(['jobs'], 'Expected "jobs": an array of jobs to submit.');
  if (jobs.length > MAX_BATCH_JOBS) {
    throw refuse(['jobs'], `A batch holds at most ${MAX_BATCH_JOBS} jobs; this one has ${jobs.length}.`);
  }
  return jobs;
}

/** One item as `submitMany` takes it; a 422 naming its invalid fields otherwise. */
function batchItem(value: unknown): SubmitManyItem {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidInputError('The item is not an object: { "input": … }.', [
      { path: [], message: 'Expected an object.' },
    ]);
  }
  const item = value as Record<string, unknown>;
  const issues: ValidationIssue[] = [];
  const issue = (field: string, message: string) => issues.push({ path: [field], message });
  for (const key of Object.keys(item)) {
    if (!ITEM_FIELDS.has(key)) issue(key, `Unknown field; an item has ${[...ITEM_FIELDS].join(', ')}.`);
  }
  if (!('input' in item)) issue('input', 'Required: the input of the job.');
  const result: SubmitManyItem = { input: item.input };
  const { idempotencyKey, uniqueKey, runAt, delaySeconds, priority } = item;
  if (idempotencyKey !== undefined) {
    if (
      typeof idempotencyKey === 'string' &&
      idempotencyKey.length <= MAX_IDEMPOTENCY_KEY_LENGTH &&
      KEY_PATTERN.test(idempotencyKey)
    ) {
      result.idempotencyKey = idempotencyKey;
    } else {
      issue('idempotencyKey', `Expected 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} visible ASCII characters.`);
    }
  }
  if (uniqueKey !== undefined) {
    if (typeof uniqueKey === 'string' && uniqueKey.length > 0 && uniqueKey.length <= MAX_UNIQUE_KEY_LENGTH) {
      result.uniqueKey = uniqueKey;
    } else {
      issue('uniqueKey', `Expected a string of 1 to ${MAX_UNIQUE_KEY_LENGTH} characters.`);
    }
  }
  if (runAt !== undefined && delaySeconds !== undefined) {
    issue('runAt', 'runAt and delaySeconds exclude each other: give one of them.');
  } else if (runAt !== undefined) {
    const parsed = typeof runAt === 'string' ? parseDateTime(runAt) : 'Expected a date-time string.';
    if (typeof parsed === 'string') issue('runAt', parsed);
    else result.runAt = parsed;
  } else if (delaySeconds !== undefined) {
    if (typeof delaySeconds === 'number' && delaySeconds >= 0 && delaySeconds <= MAX_DELAY_SECONDS) {
      result.delayMs = Math.round(delaySeconds * 1000);
    } else {
      issue('delaySeconds', `Expected a number of seconds from 0 to ${MAX_DELAY_SECONDS}.`);
    }
  }
  if (priority !== undefined) {
    if (
      typeof priority === 'number' &&
      Number.isInteger(priority) &&
      priority >= MIN_PRIORITY &&
      priority <= MAX_PRIORITY
    ) {
      result.priority = priority;
    } else {
      issue('priority', priorityMessage());
    }
  }
  if (issues.length > 0) throw invalid(issues, 'field');
  return result;
}
