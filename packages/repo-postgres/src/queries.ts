// The repository's operations besides the job transitions: reads, dispatch (one transaction holds the jobs it
// publishes), listing, the pending cleanups and the recurring schedules' state.
import {
  type CleanupQuery,
  checkScheduleName,
  type DispatchPublisher,
  type DispatchQuery,
  type DispatchResult,
  decodeCursor,
  encodeCursor,
  InvalidInputError,
  isJobStatus,
  type JobRecord,
  type JobRecordHeader,
  type ListPage,
  type ListQuery,
  type PendingCleanup,
} from '@jobs/core';
import type { Handle } from './handle.js';
import { type HeaderRow, type JobRow, toHeader, toPendingCleanup, toRecord } from './rows.js';
import { listStatement } from './statements.js';
import {
  checkDuration,
  checkInteger,
  checkOptionalText,
  checkText,
  dateParam,
  isUsableText,
} from './values.js';

/** The live job (null when it is unknown or expired), or only its header. */
export async function getJob(
  db: Handle,
  id: string,
  projection?: 'header',
): Promise<JobRecord | JobRecordHeader | null> {
  if (!isUsableText(id)) return null;
  if (projection === 'header') {
    const result = await db.query<HeaderRow>('get', db.sql.getHeader, [id]);
    return result.rows[0] ? toHeader(result.rows[0]) : null;
  }
  const result = await db.query<JobRow>('get', db.sql.get, [id]);
  return result.rows[0] ? toRecord(result.rows[0]) : null;
}

export async function dispatch(
  db: Handle,
  query: DispatchQuery,
  publish: DispatchPublisher,
): Promise<DispatchResult> {
  const limit = checkInteger(query.limit, 'limit', 0, 100_000);
  const redispatch =
    query.redispatchAfterMs === null ? null : checkDuration(query.redispatchAfterMs, 'redispatchAfterMs');
  const endpoints =
    query.endpoints === undefined ? null : query.endpoints.map((e) => checkText(e, 'endpoint', 200));
  const excluded = (query.exceptEndpoints ?? []).map((e) => checkText(e, 'exceptEndpoints', 200));
  const maxAhead =
    query.maxAhead === undefined || endpoints?.length !== 1
      ? null
      : checkInteger(query.maxAhead, 'maxAhead', 0);
  await db.ensureReady();
  // The jobs are held (row locks) from the moment they are taken until the dispatch is recorded: another
  // dispatch skips them, and if publishing fails or this process dies, the transaction's rollback leaves them
  // dispatchable.
  return db.withClient('dispatch', async (client, drop) => {
    await db.query('dispatch', 'BEGIN', [], client);
    try {
      const taken = await db.query<{ id: string | null; endpoint: string; next_due: number | null }>(
        'dispatch',
        db.sql.dispatchTake,
        [limit, endpoints, redispatch, maxAhead, excluded],
        client,
      );
      const nextDue = taken.rows[0]?.next_due ?? null;
      const items = taken.rows
        .filter((row): row is { id: string; endpoint: string; next_due: number | null } => row.id !== null)
        .map((row) => ({ id: row.id, endpoint: row.endpoint }));
      const nextDueInMs = nextDue === null ? null : Math.max(0, nextDue);
      if (items.length === 0) {
        await db.query('dispatch', 'COMMIT', [], client);
        return { dispatched: 0, found: 0, nextDueInMs };
      }
      const published = await publish(items);
      const ids = items.filter((_item, index) => published[index] === true).map((item) => item.id);
      if (ids.length > 0) await db.query('dispatch', db.sql.dispatchMark, [ids], client);
      await db.query('dispatch', 'COMMIT', [], client);
      return { dispatched: ids.length, found: items.length, nextDueInMs };
    } catch (error) {
      // Bounded like every statement (a connection that stopped answering must not hold the call forever); a
      // connection whose rollback failed is in an unknown state and is dropped, not reused.
      await db.query('dispatch', 'ROLLBACK', [], client).catch((rollbackError: Error) => drop(rollbackError));
      throw error;
    }
  });
}

export async function list(db: Handle, query: ListQuery): Promise<ListPage> {
  const endpoint = checkText(query.endpoint, 'endpoint', 200);
  const owner = checkOptionalText(query.owner, 'owner');
  const limit = checkInteger(query.limit, 'limit', 1, 10_000);
  if (query.status !== undefined && !isJobStatus(query.status)) {
    throw InvalidInputError.field('status', `Unknown status ${JSON.stringify(query.status)}.`);
  }
  const cursor = query.cursor === undefined ? null : decodeCursor(query.cursor);
  const statement = listStatement(db.quotedSchema, {
    owner: owner !== null,
    status: query.status !== undefined,
    cursor: cursor !== null,
  });
  const parameters: Record<string, unknown> = {
    endpoint,
    limit: limit + 1,
    owner,
    status: query.status,
    cursorTime: cursor?.createdAt.toISOString(),
    cursorId: cursor?.id,
  };
  const result = await db.query<HeaderRow>(
    'list',
    statement.text,
    statement.parameters.map((name) => parameters[name]),
  );
  const jobs = result.rows.slice(0, limit).map(toHeader);
  const last = jobs[jobs.length - 1];
  const nextCursor =
    result.rows.length > limit && last ? encodeCursor({ createdAt: last.createdAt, id: last.id }) : null;
  return { jobs, nextCursor };
}

export async function claimCleanups(db: Handle, query: CleanupQuery): Promise<PendingCleanup[]> {
  const endpoints = query.endpoints.map((endpoint) => checkText(endpoint, 'endpoint', 200));
  const limit = checkInteger(query.limit, 'limit', 0, 10_000);
  const leaseMs = checkDuration(query.leaseMs, 'leaseMs');
  const token = checkText(query.leaseToken, 'leaseToken', 200);
  if (limit === 0 || endpoints.length === 0) return [];
  const result = await db.query<{
    job: Record<string, unknown>;
    input: unknown;
    output: unknown;
    attempt: number;
  }>('claimCleanups', db.sql.claimCleanups, [endpoints, limit, token, leaseMs]);
  return result.rows.map(toPendingCleanup);
}

export async function finishCleanup(
  db: Handle,
  id: string,
  leaseToken: string,
  retryAfterMs: number | null,
): Promise<boolean> {
  const delay = retryAfterMs === null ? null : checkDuration(retryAfterMs, 'retryAfterMs');
  if (!isUsableText(id) || !isUsableText(leaseToken)) return false;
  const result =
    delay === null
      ? await db.query('finishCleanup', db.sql.finishCleanup, [id, leaseToken])
      : await db.query('finishCleanup', db.sql.retryCleanup, [id, leaseToken, delay]);
  return (result.rowCount ?? 0) > 0;
}

export async function readSchedules(db: Handle, names: readonly string[]): Promise<Map<string, Date>> {
  const checked = names.map(checkScheduleName);
  const found = new Map<string, Date>();
  if (checked.length === 0) return found;
  const result = await db.query<{ name: string; last_ms: number }>('readSchedules', db.sql.readSchedules, [
    checked,
  ]);
  for (const row of result.rows) found.set(row.name, new Date(row.last_ms));
  return found;
}

export async function advanceSchedule(db: Handle, name: string, occurrence: Date): Promise<boolean> {
  const checked = checkScheduleName(name);
  const at = dateParam(occurrence, 'occurrence');
  const result = await db.query('advanceSchedule', db.sql.advanceSchedule, [checked, at]);
  return (result.rowCount ?? 0) > 0;
}
