import type { JobRepository, SettleOutcome } from '@jobs/core';
import { isFinalStatus, newJobId, newLeaseToken } from '@jobs/core';
import { expect } from 'vitest';
import { expectDispatchOrder, makeNewJob, problem } from '../helpers.js';
import type { TestClock } from './fixture.js';
import type { ModelCleanup, ModelJob, RepositoryModel, SettleKind } from './model.js';

export type TokenChoice = 'current' | 'stale' | 'fresh';
export type Span = 'long' | 'short';
/**
 * null: an id the repository never saw. Otherwise `n` picks one of the jobs (or cleanups) so far, among those the
 * operation can apply to when `fit` is set and there are any (so that sequences get deep into the state machine).
 */
export type Target = { n: number; fit: boolean } | null;

/** `target` picks the job (or cleanup) an operation applies to. */
export type Operation =
  | { kind: 'create'; items: Array<{ owner: 'a' | 'b' | null; key: 'k1' | 'k2' | null; invalid: boolean }> }
  | { kind: 'claim'; items: Target[]; lease: Span }
  | {
      kind: 'heartbeat';
      items: Array<{ target: Target; token: TokenChoice; progress: number | null }>;
      lease: Span;
    }
  | {
      kind: 'settle';
      items: Array<{ target: Target; token: TokenChoice; outcome: SettleKind }>;
      retention: Span;
    }
  | { kind: 'cancel'; target: Target; retention: Span }
  | { kind: 'remove'; target: Target }
  | { kind: 'dispatch'; limit: number; answers: boolean[]; redispatch: boolean }
  | { kind: 'deleteExpired'; limit: number }
  | { kind: 'claimCleanups'; limit: number; lease: Span }
  | { kind: 'finishCleanup'; target: Target; token: TokenChoice; retry: 'done' | 'now' | 'later' }
  | { kind: 'advance'; ms: number };

export interface ModelRun {
  repo: JobRepository;
  model: RepositoryModel;
  clock: TestClock;
  endpoint: string;
  controlled: boolean;
}

const LONG_MS = 3_600_000;
/** A duration time can pass (with a controlled clock only; else every duration is long). */
const SHORT_MS = 1_000;

function pick<T>(items: T[], target: Target, fits: (item: T) => boolean): T | null {
  if (target === null) return null;
  const fitting = target.fit ? items.filter(fits) : [];
  const candidates = fitting.length > 0 ? fitting : items;
  return candidates.length === 0 ? null : candidates[target.n % candidates.length]!;
}

function chooseToken(
  holder: { token: string | null; staleTokens: string[] } | null,
  choice: TokenChoice,
): string {
  if (choice === 'current' && holder?.token) return holder.token;
  if (choice === 'stale' && holder && holder.staleTokens.length > 0) return holder.staleTokens.at(-1)!;
  return newLeaseToken();
}

function outcomeOf(kind: SettleKind, retentionMs: number, delayMs: number): SettleOutcome {
  switch (kind) {
    case 'succeeded':
    case 'succeededCleanup':
      return { status: 'succeeded', output: { ok: true }, retentionMs, cleanup: kind === 'succeededCleanup' };
    case 'failed':
      return { status: 'failed', error: problem('job_failed'), retentionMs };
    case 'canceled':
      return { status: 'canceled', error: problem('canceled'), retentionMs };
    case 'retry':
      return { status: 'queued', delayMs: 0, error: problem('job_failed'), refundAttempt: false };
    case 'retryLater':
      return { status: 'queued', delayMs, error: problem('job_failed'), refundAttempt: false };
    case 'release':
      return { status: 'queued', delayMs: 0, error: null, refundAttempt: true };
  }
}

/** Indices of a batch's items grouped by job id, in order. */
function byJob(ids: string[]): Map<string, number[]> {
  const groups = new Map<string, number[]>();
  for (const [i, id] of ids.entries()) groups.set(id, [...(groups.get(id) ?? []), i]);
  return groups;
}

/** Runs one operation on the repository and the model, and checks the repository's answer. */
export async function runOperation(run: ModelRun, op: Operation, where: string): Promise<void> {
  const { repo, model, controlled } = run;
  const ms = (span: Span) => (controlled && span === 'short' ? SHORT_MS : LONG_MS);
  const running = (j: ModelJob) => model.live(j) && j.status === 'running';
  const job = (target: Target, fits: (j: ModelJob) => boolean = running): ModelJob | null =>
    pick(model.jobs, target, fits);

  switch (op.kind) {
    case 'create': {
      const jobs = op.items.map((item, i) =>
        makeNewJob(run.endpoint, {
          owner: item.owner,
          idempotencyKey: item.key,
          input: item.invalid ? { text: 'nul \u0000' } : { i },
        }),
      );
      const results = await repo.create(jobs);
      expect(results, where).toHaveLength(jobs.length);
      for (const [i, item] of op.items.entries()) {
        const result = results[i]!;
        if (item.invalid) {
          expect(result.ok || result.error.name, where).toBe('InvalidInputError');
          continue;
        }
        if (!result.ok) throw result.error;
        const holder = model.keyHolder(item.owner, item.key);
        if (holder && holder.id === jobs[i]!.id) {
          // An earlier item of this batch returned this one: it is the one created.
          expect(result.value, where).toMatchObject({ created: true, job: { id: holder.id } });
        } else if (holder) {
          expect(result.value, where).toMatchObject({ created: false, job: { id: holder.id } });
        } else if (result.value.created) {
          expect(result.value.job.id, where).toBe(jobs[i]!.id);
          model.add(jobs[i]!.id, item.owner, item.key);
        } else {
          // Another item of the batch with the same key was the one created.
          const later = jobs.findIndex((other, j) => j > i && other.id === result.value.job.id);
          expect(later, where).toBeGreaterThan(i);
          expect(op.items[later], where).toMatchObject({ owner: item.owner, key: item.key, invalid: false });
          model.add(result.value.job.id, item.owner, item.key);
        }
      }
      return;
    }

    case 'claim': {
      const leaseMs = ms(op.lease);
      const requests = op.items.map((target) => ({
        id: job(target, (j) => model.claimable(j))?.id ?? newJobId(),
        leaseToken: newLeaseToken(),
        leaseMs,
      }));
      const results = await repo.claim(requests);
      expect(results, where).toHaveLength(requests.length);
      for (const [id, indices] of byJob(requests.map((r) => r.id))) {
        const claimed = model.jobs.find((j) => j.id === id);
        const winners = indices.filter((i) => results[i] !== null);
        if (!claimed || !model.claimable(claimed)) {
          expect(winners, where).toEqual([]);
          continue;
        }
        expect(winners, `${where}: one claim of ${id} wins`).toHaveLength(1);
        const winner = requests[winners[0]!]!;
        model.claim(claimed, winner.leaseToken, leaseMs);
        expect(results[winners[0]!], where).toMatchObject({
          id,
          status: 'running',
          attempt: claimed.attempt,
          leaseToken: winner.leaseToken,
        });
      }
      return;
    }

    case 'heartbeat': {
      const leaseMs = ms(op.lease);
      const items = op.items.map((item) => {
        const target = job(item.target);
        return {
          target,
          request: { id: target?.id ?? newJobId(), leaseToken: chooseToken(target, item.token), leaseMs },
        };
      });
      const requests = items.map(({ request }, i) => {
        const progress = op.items[i]!.progress;
        return progress === null ? request : { ...request, progress: { fraction: progress } };
      });
      const held = items.map(({ target, request }) => model.holds(target, request.leaseToken));
      const results = await repo.heartbeat(requests);
      for (const [i, { target }] of items.entries()) {
        const result = results[i]!;
        if (!result.ok) throw result.error;
        expect(result.value.held, where).toBe(held[i]);
        if (held[i]) {
          expect(result.value.cancelRequested, where).toBe(target!.cancelRequested);
          target!.leaseExpiresAt = model.now() + leaseMs;
        }
      }
      return;
    }

    case 'settle': {
      const retentionMs = ms(op.retention);
      const items = op.items.map((item) => {
        const target = job(item.target);
        const leaseToken = chooseToken(target, item.token);
        return {
          target,
          leaseToken,
          kind: item.outcome,
          outcome: outcomeOf(item.outcome, retentionMs, ms('short')),
        };
      });
      const holds = items.map(({ target, leaseToken }) => model.holds(target, leaseToken));
      const ids = items.map(({ target }) => target?.id ?? newJobId());
      const results = await repo.settle(
        items.map(({ leaseToken, outcome }, i) => ({ id: ids[i]!, leaseToken, outcome })),
      );
      const values = results.map((result) => {
        if (!result.ok) throw result.error;
        return result.value;
      });
      for (const [, indices] of byJob(ids)) {
        const candidates = indices.filter((i) => holds[i]);
        for (const i of indices) if (!holds[i]) expect(values[i], `${where}: item ${i}`).toBe(false);
        if (candidates.length === 0) continue;
        const winners = candidates.filter((i) => values[i]);
        expect(winners, `${where}: one settle of a job wins`).toHaveLength(1);
        const { target, kind, outcome } = items[winners[0]!]!;
        model.settle(target!, kind, outcome);
      }
      return;
    }

    case 'cancel': {
      const target = job(op.target, (j) => model.live(j) && !isFinalStatus(j.status));
      const retentionMs = ms(op.retention);
      const result = await repo.requestCancel(target?.id ?? newJobId(), {
        retentionMs,
        error: problem('canceled'),
      });
      if (!model.live(target)) {
        expect(result, where).toBeNull();
        return;
      }
      model.cancel(target, retentionMs);
      expect(result, where).toMatchObject({
        id: target.id,
        status: target.status,
        cancelRequested: target.cancelRequested,
      });
      return;
    }

    case 'remove': {
      // Fitting: a job whose removal leaves a pending cleanup (the cleanup operations need one).
      const target = job(op.target, (j) => model.removable(j) && j.cleanup);
      const removable = model.removable(target);
      const result = await repo.remove(target?.id ?? newJobId());
      expect(result === null, where).toBe(!removable);
      if (removable) {
        expect(result, where).toMatchObject({ id: target.id, status: target.status });
        model.delete(target);
      }
      return;
    }

    case 'dispatch':
      return dispatchStep(run, op, where);

    case 'deleteExpired': {
      const expected = model.jobs.filter((j) => model.expired(j));
      const deleted = await repo.deleteExpired(op.limit);
      expect(deleted.length, where).toBeLessThanOrEqual(op.limit);
      const ids = new Set(deleted.map((j) => j.id));
      for (const candidate of model.jobs.filter((j) => ids.has(j.id))) {
        expect(expected, `${where}: ${candidate.id} was not expired`).toContain(candidate);
        model.delete(candidate);
      }
      if (deleted.length < op.limit) for (const j of expected) expect(ids.has(j.id), where).toBe(true);
      return;
    }

    case 'claimCleanups':
      return claimCleanupsStep(run, op, where);

    case 'finishCleanup': {
      const cleanup: ModelCleanup | null = pick(model.cleanups, op.target, (c) => c.token !== null);
      const token = chooseToken(cleanup, op.token);
      const retryAfterMs = op.retry === 'done' ? null : op.retry === 'now' ? 0 : ms('short');
      const holds = model.holdsCleanup(cleanup ?? undefined, token);
      expect(await repo.finishCleanup(cleanup?.id ?? newJobId(), token, retryAfterMs), where).toBe(holds);
      if (holds) model.finishCleanup(cleanup!, retryAfterMs);
      return;
    }

    case 'advance':
      await run.clock.pass(op.ms);
      return;
  }
}

async function dispatchStep(run: ModelRun, op: Extract<Operation, { kind: 'dispatch' }>, where: string) {
  const { repo, model } = run;
  const redispatchAfterMs = op.redispatch ? 0 : null;
  const expected = model.dispatchable(redispatchAfterMs);
  let published: string[] = [];
  const result = await repo.dispatch(
    { limit: op.limit, endpoints: [run.endpoint], redispatchAfterMs },
    async (items) => {
      published = items.map((item) => item.id);
      return items.map((_, i) => op.answers[i]!);
    },
  );
  const expectedIds = expected.map((j) => j.id);
  if (run.controlled) {
    // Times are known exactly: so is the order, up to ties.
    expectDispatchOrder(published, expected, op.limit, where);
  } else if (expectedIds.length <= op.limit) {
    expect([...published].sort(), where).toEqual([...expectedIds].sort());
  } else {
    expect(published, where).toHaveLength(op.limit);
    for (const id of published) expect(expectedIds, where).toContain(id);
  }
  expect(result.found, where).toBe(published.length);
  expect(result.dispatched, where).toBe(published.filter((_, i) => op.answers[i]).length);
  for (const [i, id] of published.entries()) {
    if (op.answers[i]) model.jobs.find((j) => j.id === id)!.dispatchedAt = model.now();
  }
}

async function claimCleanupsStep(
  run: ModelRun,
  op: Extract<Operation, { kind: 'claimCleanups' }>,
  where: string,
) {
  const { repo, model } = run;
  const leaseMs = run.controlled && op.lease === 'short' ? SHORT_MS : LONG_MS;
  const leaseToken = newLeaseToken();
  const expected = model.claimableCleanups();
  const claimed = await repo.claimCleanups({
    endpoints: [run.endpoint],
    limit: op.limit,
    leaseMs,
    leaseToken,
  });
  const ids = claimed.map((cleanup) => cleanup.job.id);
  const expectedIds = expected.map((cleanup) => cleanup.id);
  if (expectedIds.length <= op.limit) expect([...ids].sort(), where).toEqual([...expectedIds].sort());
  else {
    expect(ids, where).toHaveLength(op.limit);
    for (const id of ids) expect(expectedIds, where).toContain(id);
  }
  for (const cleanup of claimed) {
    const pending = expected.find((c) => c.id === cleanup.job.id)!;
    model.claimCleanup(pending, leaseToken, leaseMs);
    expect(cleanup, where).toMatchObject({
      attempt: pending.attempt,
      job: { status: 'succeeded', output: { ok: true } },
    });
  }
}

/** After every step: each job the model knows is stored (or absent) exactly as the model says. */
export async function checkModel({ repo, model, controlled }: ModelRun, where: string): Promise<void> {
  for (const [index, job] of model.jobs.entries()) {
    const stored = await repo.get(job.id, 'header');
    const label = `${where}, job ${index}`;
    if (!model.live(job)) {
      expect(stored, `${label} should be absent`).toBeNull();
      continue;
    }
    expect(stored, label).not.toBeNull();
    expect(
      {
        status: stored!.status,
        attempt: stored!.attempt,
        cancelRequested: stored!.cancelRequested,
        leaseToken: stored!.leaseToken,
        dispatched: stored!.dispatchedAt !== null,
      },
      label,
    ).toEqual({
      status: job.status,
      attempt: job.attempt,
      cancelRequested: job.cancelRequested,
      leaseToken: job.status === 'running' ? job.token : null,
      dispatched: job.dispatchedAt !== null,
    });
    if (controlled) {
      expect(
        {
          runAt: stored!.runAt.getTime(),
          leaseExpiresAt: stored!.leaseExpiresAt?.getTime() ?? null,
          expiresAt: stored!.expiresAt?.getTime() ?? null,
          dispatchedAt: stored!.dispatchedAt?.getTime() ?? null,
        },
        label,
      ).toEqual({
        runAt: job.runAt,
        leaseExpiresAt: job.status === 'running' ? job.leaseExpiresAt : null,
        expiresAt: job.expiresAt,
        dispatchedAt: job.dispatchedAt,
      });
    }
  }
}
