import { newJobId } from '@jobs/core';
import { expect } from 'vitest';
import { problem } from '../helpers.js';
import { LONG, retry, SHORT, type SubSuite, subSuite } from './fixture.js';

/** `requestCancel`, and the cancel request (with the last error) surviving retries. */
export const describeCancelContract: SubSuite = subSuite('requestCancel', ({ test }) => {
  const cancel = { retentionMs: LONG, error: problem('canceled') };

  test('cancels a queued job: final, with the error, finishedAt = now and expiresAt = now + retention', async (f) => {
    const job = await f.create();
    const error = problem('canceled');
    const canceled = await f.repo.requestCancel(job.id, { retentionMs: 120_000, error });
    expect(canceled).toMatchObject({ id: job.id, status: 'canceled', error, leaseToken: null, attempt: 0 });
    f.expectNow(canceled!.finishedAt);
    f.expectDuration(canceled!.finishedAt, canceled!.expiresAt, 120_000);
    expect(await f.header(job.id)).toEqual(canceled);
    expect((await f.mustGet(job.id)).output).toBeNull();
  });

  test('marks a running job cancelRequested and leaves it running under its lease', async (f) => {
    const { job, token } = await f.claimNew();
    const result = await f.repo.requestCancel(job.id, { retentionMs: 1, error: problem('canceled') });
    expect(result).toMatchObject({
      status: 'running',
      cancelRequested: true,
      leaseToken: token,
      finishedAt: null,
      expiresAt: null,
      error: null,
    });
    expect(await f.header(job.id)).toEqual(result);
    const twice = await f.repo.requestCancel(job.id, cancel);
    expect(twice).toEqual(result);
    expect(
      await f.settle(job.id, token, { status: 'canceled', error: problem('canceled'), retentionMs: LONG }),
    ).toBe(true);
    expect(await f.header(job.id)).toMatchObject({ status: 'canceled', cancelRequested: true });
  });

  test('leaves a final job as it is and returns it', async (f) => {
    for (const status of ['succeeded', 'failed', 'canceled'] as const) {
      const job = await f.finalJob(status);
      const result = await f.repo.requestCancel(job.id, { retentionMs: 1, error: problem('other') });
      expect(await f.repo.get(job.id), status).toEqual(job);
      expect(result, status).toEqual(await f.header(job.id));
    }
  });

  test('is null for an unknown job', async (f) => {
    expect(await f.repo.requestCancel(newJobId(), cancel)).toBeNull();
  });

  test('cancelRequested and the error survive settle to queued and every later claim', async (f) => {
    const { job, token } = await f.claimNew();
    await f.repo.requestCancel(job.id, cancel);
    const failure = problem('job_failed');
    const requeue = retry(0, { error: failure });
    expect(await f.settle(job.id, token, requeue)).toBe(true);
    expect(await f.header(job.id)).toMatchObject({
      status: 'queued',
      attempt: 1,
      cancelRequested: true,
      error: failure,
    });

    const retried = await f.claim(job.id);
    expect(retried).toMatchObject({ status: 'running', attempt: 2, cancelRequested: true, error: failure });
    expect(await f.heartbeat(job.id, retried!.leaseToken!)).toEqual({ held: true, cancelRequested: true });

    // A release (graceful shutdown) keeps them as well, and so does a claim after an expired lease.
    expect(await f.settle(job.id, retried!.leaseToken!, { ...requeue, refundAttempt: true })).toBe(true);
    expect(await f.header(job.id)).toMatchObject({
      status: 'queued',
      attempt: 1,
      cancelRequested: true,
      error: failure,
    });
    await f.claim(job.id, { leaseMs: SHORT });
    await f.clock.pass(SHORT);
    const takenOver = await f.claim(job.id);
    expect(takenOver).toMatchObject({
      status: 'running',
      attempt: 3,
      cancelRequested: true,
      error: failure,
    });
    expect(await f.repo.get(job.id)).toEqual(takenOver);
  });

  test('a queued job asked to cancel while it ran is canceled by the next requestCancel', async (f) => {
    const { job, token } = await f.claimNew();
    await f.repo.requestCancel(job.id, cancel);
    await f.settle(job.id, token, retry(LONG, { error: null }));
    const canceled = await f.repo.requestCancel(job.id, { retentionMs: LONG, error: problem('canceled') });
    expect(canceled).toMatchObject({ status: 'canceled', error: problem('canceled'), leaseToken: null });
    expect(await f.header(job.id)).toEqual(canceled);
  });
});
