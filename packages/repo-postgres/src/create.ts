// Creating jobs: a batch inserted in one statement, idempotency and unique keys resolved against the jobs holding
// them.
import {
  type CreateResult,
  checkPriority,
  checkTraceContext,
  InvalidInputError,
  type ItemResult,
  type NewJob,
  UnavailableError,
} from '@jobs/core';
import type pg from 'pg';
import { type Handle, refused } from './handle.js';
import { type HeaderRow, toHeader } from './rows.js';
import { checkDelay, checkInteger, checkOptionalText, checkText, dateParam } from './values.js';

interface Item {
  index: number;
  id: string;
  endpoint: string;
  input: string;
  owner: string | null;
  key: string | null;
  hash: string | null;
  maxAttempts: number;
  runAt: string | null;
  delay: number | null;
  priority: number;
  limitKey: string | null;
  unique: string | null;
  traceContext: string | null;
}

/**
 * Inserts a batch of jobs, one statement a round; a job whose key is taken gets the live job holding it. With
 * `client`, every statement runs on it (inside the caller's transaction, if it has one open).
 */
export async function createJobs(
  db: Handle,
  jobs: readonly NewJob[],
  client?: pg.ClientBase,
): Promise<ItemResult<CreateResult>[]> {
  const results: Array<ItemResult<CreateResult> | undefined> = new Array(jobs.length);
  let pending: Item[] = [];
  jobs.forEach((job, index) => {
    try {
      pending.push({
        index,
        id: checkText(job.id, 'id', 200),
        endpoint: checkText(job.endpoint, 'endpoint', 200),
        owner: checkOptionalText(job.owner, 'owner'),
        key: checkOptionalText(job.idempotencyKey, 'idempotencyKey'),
        hash: checkOptionalText(job.inputHash, 'inputHash'),
        maxAttempts: checkInteger(job.maxAttempts, 'maxAttempts', 1),
        runAt: job.runAt == null ? null : dateParam(job.runAt, 'runAt'),
        delay: job.runAt == null && job.delayMs != null ? checkDelay(job.delayMs) : null,
        priority: checkPriority(job.priority ?? 0, (message) => InvalidInputError.field('priority', message)),
        input: db.json(job.input, 'input'),
        limitKey: checkOptionalText(job.limitKey ?? null, 'limitKey'),
        unique: checkOptionalText(job.uniqueKey ?? null, 'uniqueKey'),
        traceContext: traceContextJson(job.traceContext),
      });
    } catch (error) {
      results[index] = refused(error);
    }
  });
  // Inserted in key order, so two batches with the same keys wait for each other instead of deadlocking.
  pending.sort(
    (a, b) =>
      (a.key ?? '').localeCompare(b.key ?? '') ||
      (a.unique ?? '').localeCompare(b.unique ?? '') ||
      a.index - b.index,
  );
  const duplicateId = (item: Item) => {
    results[item.index] = refused(
      InvalidInputError.field('id', `A job with id ${item.id} already exists.`, 'duplicate'),
    );
  };
  for (let round = 0; pending.length > 0; round++) {
    if (round >= 5) {
      // Keys that keep changing hands (created and deleted by others meanwhile): let the caller try again.
      for (const item of pending)
        results[item.index] = refused(new UnavailableError('The job could not be created; try again.'));
      break;
    }
    const inserted = await db.query<HeaderRow>(
      'create',
      db.sql.insert,
      [
        pending.map((item) => item.id),
        pending.map((item) => item.endpoint),
        pending.map((item) => item.input),
        pending.map((item) => item.owner),
        pending.map((item) => item.key),
        pending.map((item) => item.hash),
        pending.map((item) => item.maxAttempts),
        pending.map((item) => item.runAt),
        pending.map((item) => item.delay),
        pending.map((item) => item.priority),
        db.channel,
        pending.map((item) => item.limitKey),
        pending.map((item) => item.unique),
        pending.map((item) => item.traceContext),
      ],
      client,
    );
    const byId = new Map(inserted.rows.map((row) => [row.id, row]));
    const missing: Item[] = [];
    for (const item of pending) {
      const row = byId.get(item.id);
      if (row?.endpoint === item.endpoint && row.idempotency_key === item.key) {
        byId.delete(item.id);
        results[item.index] = { ok: true, value: { job: toHeader(row), created: true } };
      } else if (item.key === null && item.unique === null) duplicateId(item);
      else missing.push(item);
    }
    pending = missing.length === 0 ? [] : await resolveKeys(db, missing, results, duplicateId, client);
  }
  return results as ItemResult<CreateResult>[];
}

/**
 * Jobs not inserted although they carry a key. The idempotency key's live job answers first; an expired job's key
 * is released and the item is inserted again; then the queued or running job holding the unique key answers; an
 * id already taken refuses the item. Returns those to insert again.
 */
async function resolveKeys(
  db: Handle,
  items: Item[],
  results: Array<ItemResult<CreateResult> | undefined>,
  duplicateId: (item: Item) => void,
  client: pg.ClientBase | undefined,
): Promise<Item[]> {
  const keyOf = (endpoint: string, owner: string | null, key: string | null) =>
    JSON.stringify([endpoint, owner, key]);
  const answer = (item: Item, row: HeaderRow, reason: 'idempotent' | 'unique') => {
    results[item.index] = { ok: true, value: { job: toHeader(row), created: false, reason } };
  };
  const retry: Item[] = [];
  const expired: string[] = [];
  let rest = items.filter((item) => item.key === null);
  const keyed = items.filter((item) => item.key !== null);
  if (keyed.length > 0) {
    const found = await db.query<HeaderRow & { expired: boolean }>(
      'create',
      db.sql.findByKeys,
      [keyed.map((item) => item.endpoint), keyed.map((item) => item.owner), keyed.map((item) => item.key)],
      client,
    );
    const byKey = new Map(
      found.rows.map((row) => [keyOf(row.endpoint, row.owner, row.idempotency_key), row]),
    );
    for (const item of keyed) {
      const row = byKey.get(keyOf(item.endpoint, item.owner, item.key));
      if (row && !row.expired) answer(item, row, 'idempotent');
      else if (row) {
        expired.push(row.id);
        retry.push(item);
      } else rest.push(item);
    }
  }
  if (expired.length > 0) await db.query('create', db.sql.releaseExpiredKeys, [expired], client);
  const unique = rest.filter((item) => item.unique !== null);
  rest = rest.filter((item) => item.unique === null);
  if (unique.length > 0) {
    const found = await db.query<HeaderRow & { unique_key: string }>(
      'create',
      db.sql.findByUniqueKeys,
      [
        unique.map((item) => item.endpoint),
        unique.map((item) => item.owner),
        unique.map((item) => item.unique),
      ],
      client,
    );
    const byKey = new Map(found.rows.map((row) => [keyOf(row.endpoint, row.owner, row.unique_key), row]));
    for (const item of unique) {
      const row = byKey.get(keyOf(item.endpoint, item.owner, item.unique));
      if (row) answer(item, row, 'unique');
      else rest.push(item);
    }
  }
  if (rest.length > 0) {
    // Its id is taken, or the job holding its key was deleted or finished meanwhile (then it is inserted next round).
    const taken = await db.query<{ id: string }>(
      'create',
      db.sql.exists,
      [rest.map((item) => item.id)],
      client,
    );
    const takenIds = new Set(taken.rows.map((row) => row.id));
    for (const item of rest) {
      if (takenIds.has(item.id)) duplicateId(item);
      else retry.push(item);
    }
  }
  return retry;
}

/** A new job's trace context as JSON text for the insert; null for none. */
function traceContextJson(value: unknown): string | null {
  const context = checkTraceContext(value);
  return context === null ? null : JSON.stringify(context);
}
