// The job transitions, each a batch in as few statements as it can (the statements are in statements.ts): claim,
// heartbeat, settle, cancel, remove and expiry. Creating jobs is in create.ts.
import {
  type CancelOptions,
  type ClaimRequest,
  type HeartbeatRequest,
  type HeartbeatResult,
  InvalidInputError,
  type ItemResult,
  type JobRecord,
  type JobRecordHeader,
  type RetryOptions,
  type RetryResult,
  type SettleRequest,
} from '@jobs/core';
import { groupBy, type Handle, refused, rounds } from './handle.js';
import { getJob } from './queries.js';
import { type HeaderRow, type JobRow, toHeader, toRecord } from './rows.js';
import { checkDuration, checkInteger, checkProgress, checkText, isUsableText } from './values.js';

/** Claims each job whose lease is free (a batch: one statement per round and lease length). */
export async function claimJobs(
  db: Handle,
  requests: readonly ClaimRequest[],
): Promise<Array<JobRecord | null>> {
  const checked = requests.map((request, index) => ({
    index,
    id: request.id,
    token: checkText(request.leaseToken, 'leaseToken', 200),
    leaseMs: checkDuration(request.leaseMs, 'leaseMs'),
    estimate:
      request.estimatedDurationMs == null
        ? null
        : checkDuration(request.estimatedDurationMs, 'estimatedDurationMs'),
  }));
  const results: Array<JobRecord | null> = requests.map(() => null);
  // One lease length per statement: the host's requests all share it; others are split by it.
  const usable = checked.filter((request) => isUsableText(request.id));
  for (const round of rounds(usable)) {
    for (const group of groupBy(round, (request) => request.leaseMs)) {
      const claimed = await db.query<JobRow>('claim', db.sql.claim, [
        group.map((request) => request.id),
        group.map((request) => request.token),
        group.map((request) => request.estimate),
        group[0]!.leaseMs,
        db.channel,
      ]);
      const byId = new Map(claimed.rows.map((row) => [row.id, row]));
      for (const request of group) {
        const row = byId.get(request.id);
        if (row && row.lease_token === request.token) results[request.index] = toRecord(row);
      }
    }
  }
  return results;
}

/** Renews leases and writes progress (a batch: requests for the same run are merged into one update). */
export async function heartbeatJobs(
  db: Handle,
  requests: readonly HeartbeatRequest[],
): Promise<ItemResult<HeartbeatResult>[]> {
  interface Checked {
    indexes: number[];
    id: string;
    token: string;
    leaseMs: number;
    setProgress: boolean;
    progress: string | null;
    setEta: boolean;
    remaining: number | null;
  }
  const results: Array<ItemResult<HeartbeatResult>> = requests.map(() => ({
    ok: true,
    value: { held: false, cancelRequested: false },
  }));
  // Requests for the same run (a renewal and a progress report) are merged into one update.
  const merged = new Map<string, Checked>();
  const separate: Checked[] = [];
  requests.forEach((request, index) => {
    if (!isUsableText(request.id) || !isUsableText(request.leaseToken)) return;
    let checked: Checked;
    try {
      const setProgress = request.progress !== undefined;
      const setEta = request.estimatedRemainingMs !== undefined;
      checked = {
        indexes: [index],
        id: request.id,
        token: request.leaseToken,
        leaseMs: checkDuration(request.leaseMs, 'leaseMs'),
        setProgress,
        progress:
          setProgress && request.progress ? db.json(checkProgress(request.progress), 'progress') : null,
        setEta,
        remaining:
          setEta && request.estimatedRemainingMs !== null
            ? checkDuration(request.estimatedRemainingMs!, 'estimatedRemainingMs')
            : null,
      };
    } catch (error) {
      results[index] = refused(error);
      return;
    }
    const key = `${checked.leaseMs}\u0000${checked.token}\u0000${checked.id}`;
    const earlier = merged.get(key);
    if (!earlier) merged.set(key, checked);
    else if (earlier.token === checked.token) {
      earlier.indexes.push(index);
      if (checked.setProgress) Object.assign(earlier, { setProgress: true, progress: checked.progress });
      if (checked.setEta) Object.assign(earlier, { setEta: true, remaining: checked.remaining });
    } else separate.push(checked);
  });
  for (const round of rounds([...merged.values(), ...separate])) {
    for (const group of groupBy(round, (request) => request.leaseMs)) {
      const renewed = await db.query<{ id: string; cancel_requested: boolean }>(
        'heartbeat',
        db.sql.heartbeat,
        [
          group.map((request) => request.id),
          group.map((request) => request.token),
          group.map((request) => request.setProgress),
          group.map((request) => request.progress),
          group.map((request) => request.setEta),
          group.map((request) => request.remaining),
          group[0]!.leaseMs,
          db.channel,
        ],
      );
      const byId = new Map(renewed.rows.map((row) => [row.id, row]));
      for (const request of group) {
        const row = byId.get(request.id);
        if (!row) continue;
        for (const index of request.indexes) {
          results[index] = { ok: true, value: { held: true, cancelRequested: row.cancel_requested } };
        }
      }
    }
  }
  return results;
}

/** Records outcomes by compare-and-set on the lease token (a batch: one statement per round). */
export async function settleJobs(
  db: Handle,
  requests: readonly SettleRequest[],
): Promise<ItemResult<boolean>[]> {
  interface Checked {
    index: number;
    id: string;
    token: string;
    status: string;
    output: string | null;
    error: string | null;
    retention: number | null;
    delay: number | null;
    refund: boolean;
    setProgress: boolean;
    progress: string | null;
    cleanup: boolean;
    setEta: boolean;
    remaining: number | null;
  }
  const results: Array<ItemResult<boolean>> = requests.map(() => ({ ok: true, value: false }));
  const checked: Checked[] = [];
  requests.forEach((request, index) => {
    try {
      const item = checkSettle(db, request, index);
      if (isUsableText(request.id) && isUsableText(request.leaseToken)) checked.push(item);
    } catch (error) {
      results[index] = refused(error);
    }
  });
  for (const round of rounds(checked)) {
    const settled = await db.query<{ id: string }>('settle', db.sql.settle, [
      round.map((item) => item.id),
      round.map((item) => item.token),
      round.map((item) => item.status),
      round.map((item) => item.output),
      round.map((item) => item.error),
      round.map((item) => item.retention),
      round.map((item) => item.delay),
      round.map((item) => item.refund),
      round.map((item) => item.setProgress),
      round.map((item) => item.progress),
      round.map((item) => item.cleanup),
      round.map((item) => item.setEta),
      round.map((item) => item.remaining),
      db.channel,
    ]);
    const ids = new Set(settled.rows.map((row) => row.id));
    for (const item of round) results[item.index] = { ok: true, value: ids.has(item.id) };
  }
  return results;
}

function checkSettle(db: Handle, request: SettleRequest, index: number) {
  const outcome = request.outcome;
  const base = {
    index,
    id: request.id,
    token: request.leaseToken,
    status: outcome.status,
    output: null as string | null,
    error: null as string | null,
    retention: null as number | null,
    delay: null as number | null,
    refund: false,
    setProgress: false,
    progress: null as string | null,
    cleanup: false,
    setEta: false,
    remaining: null as number | null,
  };
  switch (outcome.status) {
    case 'succeeded':
      return {
        ...base,
        retention: checkDuration(outcome.retentionMs, 'retentionMs'),
        output: db.json(outcome.output, 'output'),
        setProgress: outcome.progress !== undefined,
        progress: outcome.progress ? db.json(checkProgress(outcome.progress), 'progress') : null,
        cleanup: outcome.cleanup === true,
        setEta: outcome.estimatedRemainingMs !== undefined,
        remaining:
          outcome.estimatedRemainingMs == null
            ? null
            : checkDuration(outcome.estimatedRemainingMs, 'estimatedRemainingMs'),
      };
    case 'failed':
    case 'canceled':
      return {
        ...base,
        retention: checkDuration(outcome.retentionMs, 'retentionMs'),
        error: db.jsonOrNull(outcome.error, 'error'),
      };
    case 'queued':
      return {
        ...base,
        delay: checkDuration(outcome.delayMs, 'delayMs'),
        error: db.jsonOrNull(outcome.error, 'error'),
        refund: outcome.refundAttempt === true,
      };
    default:
      throw InvalidInputError.field('status', 'Unknown settle outcome.');
  }
}

export async function cancelJob(
  db: Handle,
  id: string,
  options: CancelOptions,
): Promise<JobRecordHeader | null> {
  const retentionMs = checkDuration(options.retentionMs, 'retentionMs');
  const error = db.json(options.error, 'error');
  if (!isUsableText(id)) return null;
  const result = await db.query<HeaderRow>('requestCancel', db.sql.requestCancel, [
    id,
    error,
    retentionMs,
    db.channel,
  ]);
  if (result.rows[0]) return toHeader(result.rows[0]);
  return getJob(db, id, 'header');
}

/** SQLSTATE unique_violation. */
const UNIQUE_VIOLATION = '23505';

/**
 * failed or canceled → queued (one compare-and-set); any other job is answered as it is, and a job whose unique
 * key another live job holds with `uniqueConflict`. A holder that becomes final between the refused retry and the
 * look for it leaves the job retryable: it is tried again (a few rounds), never answered "not retryable".
 */
export async function retryJob(db: Handle, id: string, options: RetryOptions): Promise<RetryResult | null> {
  const attempts = checkInteger(options.attempts, 'attempts', 1, 1_000_000);
  if (!isUsableText(id)) return null;
  for (let round = 1; ; round++) {
    let retried: HeaderRow | undefined;
    try {
      retried = (await db.query<HeaderRow>('retry', db.sql.retry, [id, attempts, db.channel])).rows[0];
    } catch (error) {
      // A job holding its unique key was created (or retried) meanwhile and committed first: jobs_unique_idx.
      if ((error as { code?: unknown } | null)?.code !== UNIQUE_VIOLATION) throw error;
    }
    if (retried) return { retried: true, job: toHeader(retried) };
    const job = await getJob(db, id, 'header');
    if (job === null) return null;
    if (job.status !== 'failed' && job.status !== 'canceled') return { retried: false, job };
    const holder = await db.query<{ id: string }>('retry', db.sql.uniqueHolderOf, [id]);
    if (holder.rows[0]) return { retried: false, job, uniqueConflict: holder.rows[0].id };
    if (round === 3) return { retried: false, job };
  }
}

export async function removeJob(db: Handle, id: string): Promise<JobRecordHeader | null> {
  if (!isUsableText(id)) return null;
  const result = await db.query<HeaderRow>('remove', db.sql.remove, [id, db.channel]);
  return result.rows[0] ? toHeader(result.rows[0]) : null;
}

export async function deleteExpiredJobs(db: Handle, limit: number): Promise<JobRecordHeader[]> {
  checkInteger(limit, 'limit', 0, 100_000);
  if (limit === 0) return [];
  const result = await db.query<HeaderRow>('deleteExpired', db.sql.deleteExpired, [limit, db.channel]);
  return result.rows.map(toHeader).sort((a, b) => a.expiresAt!.getTime() - b.expiresAt!.getTime());
}
