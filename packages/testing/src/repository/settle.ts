import type { SettleOutcome } from '@jobs/core';
import { newJobId, newLeaseToken } from '@jobs/core';
import { expect } from 'vitest';
import { problem } from '../helpers.js';
import { LONG, retry, SHORT, type SubSuite, subSuite } from './fixture.js';

/** `settle`: the final outcomes, the retry (`queued`), and refusal for a token that no longer holds the job. */
export const describeSettleContract: SubSuite = subSuite('settle', ({ test }) => {
  test('succeeded stores the output, finishedAt = now, expiresAt = now + retention, and clears the lease', async (f) => {
    const { job, token } = await f.claimNew();
    await f.clock.pass(10);
    const outcome = { status: 'succeeded', output: { answer: 42 }, retentionMs: 3_600_000 } as const;
    expect(await f.settle(job.id, token, outcome)).toBe(true);
    const settled = await f.mustGet(job.id);
    expect(settled).toMatchObject({
      id: job.id,
      status: 'succeeded',
      output: { answer: 42 },
      error: null,
      attempt: 1,
      leaseToken: null,
      leaseExpiresAt: null,
      startedAt: job.startedAt,
    });
    f.expectNow(settled.finishedAt);
    expect(settled.finishedAt!.getTime()).toBeGreaterThanOrEqual(job.startedAt!.getTime());
    f.expectDuration(settled.finishedAt, settled.expiresAt, 3_600_000);
  });

  test('succeeded stores the progress given with it; undefined leaves it, null clears it', async (f) => {
    const outcome = { status: 'succeeded', output: 'done', retentionMs: LONG } as const;
    const given = await f.claimNew();
    await f.heartbeat(given.job.id, given.token, { progress: { fraction: 0.5 } });
    await f.settle(given.job.id, given.token, { ...outcome, progress: { fraction: 1, message: 'all' } });
    expect((await f.mustGet(given.job.id)).progress).toEqual({ fraction: 1, message: 'all' });

    const kept = await f.claimNew();
    await f.heartbeat(kept.job.id, kept.token, { progress: { fraction: 0.5 } });
    await f.settle(kept.job.id, kept.token, outcome);
    expect((await f.mustGet(kept.job.id)).progress).toEqual({ fraction: 0.5 });

    const cleared = await f.claimNew();
    await f.heartbeat(cleared.job.id, cleared.token, { progress: { fraction: 0.5 } });
    await f.settle(cleared.job.id, cleared.token, { ...outcome, progress: null });
    expect((await f.mustGet(cleared.job.id)).progress).toBeNull();
  });

  test('failed stores the error', async (f) => {
    const { job, token } = await f.claimNew();
    const error = { ...problem('job_failed'), extra: { reason: 'disk full' } };
    expect(await f.settle(job.id, token, { status: 'failed', error, retentionMs: 60_000 })).toBe(true);
    const settled = await f.mustGet(job.id);
    expect(settled).toMatchObject({
      status: 'failed',
      error,
      output: null,
      leaseToken: null,
      leaseExpiresAt: null,
    });
    f.expectDuration(settled.finishedAt, settled.expiresAt, 60_000);
  });

  test('canceled stores the error or null', async (f) => {
    const a = await f.claimNew();
    await f.settle(a.job.id, a.token, {
      status: 'canceled',
      error: problem('canceled'),
      retentionMs: 60_000,
    });
    const withError = await f.mustGet(a.job.id);
    expect(withError).toMatchObject({ status: 'canceled', error: problem('canceled'), leaseToken: null });
    f.expectDuration(withError.finishedAt, withError.expiresAt, 60_000);

    const b = await f.claimNew();
    await f.settle(b.job.id, b.token, { status: 'canceled', error: null, retentionMs: 60_000 });
    const withoutError = await f.mustGet(b.job.id);
    expect(withoutError).toMatchObject({ status: 'canceled', error: null, leaseToken: null });
    expect(withoutError.finishedAt).toBeInstanceOf(Date);
  });

  test('with a stale token is false and changes nothing', async (f) => {
    const { job } = await f.claimNew();
    const before = await f.mustGet(job.id);
    for (const outcome of [
      { status: 'succeeded', output: 'x', retentionMs: 1 },
      { status: 'failed', error: problem('job_failed'), retentionMs: 1 },
      { status: 'canceled', error: null, retentionMs: 1 },
      retry(0, { error: null, refundAttempt: true }),
    ] satisfies SettleOutcome[]) {
      expect(await f.settle(job.id, newLeaseToken(), outcome), outcome.status).toBe(false);
      expect(await f.repo.get(job.id)).toEqual(before);
    }
  });

  test('is false for a queued or unknown job', async (f) => {
    const queued = await f.create();
    const outcome: SettleOutcome = { status: 'succeeded', output: 1, retentionMs: 1000 };
    expect(await f.settle(queued.id, newLeaseToken(), outcome)).toBe(false);
    expect(await f.header(queued.id)).toEqual(queued);
    expect(await f.settle(newJobId(), newLeaseToken(), outcome)).toBe(false);
  });

  test('a second settle with the same token is false and changes nothing', async (f) => {
    const { job, token } = await f.claimNew();
    expect(await f.settle(job.id, token, { status: 'succeeded', output: 'one', retentionMs: 60_000 })).toBe(
      true,
    );
    const first = await f.mustGet(job.id);
    expect(await f.settle(job.id, token, { status: 'failed', error: problem('x'), retentionMs: 1 })).toBe(
      false,
    );
    expect(await f.settle(job.id, token, { status: 'succeeded', output: 'two', retentionMs: 1 })).toBe(false);
    expect(await f.repo.get(job.id)).toEqual(first);
  });

  test('queued sets runAt = now + delayMs, keeps the attempt, stores the error, clears lease, dispatch, progress and ETA', async (f) => {
    // A running job with a dispatch recorded: its lease expired and the dispatcher handed it out again.
    const { job, token } = await f.claimNew(SHORT);
    await f.clock.pass(SHORT);
    expect((await f.dispatch()).dispatched).toBe(1);
    await f.heartbeat(job.id, token, { progress: { fraction: 0.4 }, estimatedRemainingMs: 10_000 });
    const before = await f.mustGet(job.id);
    expect(before).toMatchObject({ dispatchedAt: expect.any(Date), progress: { fraction: 0.4 } });
    expect(before.estimatedCompletionAt).toBeInstanceOf(Date);

    const error = problem('job_failed');
    const requeue = retry(30_000, { error });
    await f.clock.pass(10);
    expect(await f.settle(job.id, token, requeue)).toBe(true);
    const requeued = await f.mustGet(job.id);
    expect(requeued).toMatchObject({
      status: 'queued',
      attempt: 1,
      error,
      leaseToken: null,
      leaseExpiresAt: null,
      dispatchedAt: null,
      progress: null,
      estimatedCompletionAt: null,
      finishedAt: null,
      expiresAt: null,
      output: null,
    });
    f.expectNow(requeued.runAt, 30_000);
    f.expectDuration(requeued.updatedAt, requeued.runAt, 30_000);
    expect(await f.settle(job.id, token, { status: 'succeeded', output: 1, retentionMs: 1 })).toBe(false);
    expect(await f.repo.get(job.id)).toEqual(requeued);
  });

  test('queued with refundAttempt gives the attempt back', async (f) => {
    const { job, token } = await f.claimNew();
    const release = retry(0, { error: null, refundAttempt: true });
    expect(await f.settle(job.id, token, release)).toBe(true);
    expect(await f.header(job.id)).toMatchObject({
      status: 'queued',
      attempt: 0,
      error: null,
      leaseToken: null,
    });
    const again = await f.claim(job.id);
    expect(again).toMatchObject({ status: 'running', attempt: 1 });
    await f.settle(job.id, again!.leaseToken!, { ...release, refundAttempt: false });
    expect(await f.claim(job.id)).toMatchObject({ status: 'running', attempt: 2 });
  });
});
