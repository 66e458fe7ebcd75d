import { newJobId, newLeaseToken } from '@jobs/core';
import { expect } from 'vitest';
import { problem } from '../helpers.js';
import { LONG, SHORT, type SubSuite, subSuite } from './fixture.js';

/** `heartbeat`: lease renewal, progress and ETA, the cancel request, and refusal once the token lost the job. */
export const describeHeartbeatContract: SubSuite = subSuite('heartbeat', ({ test }) => {
  test('renews the lease to now + leaseMs; estimatedRemainingMs sets the ETA to now + it', async (f) => {
    const { job, token } = await f.claimNew(1_000);
    await f.clock.pass(10);
    const beat = await f.heartbeat(job.id, token, {
      leaseMs: 60_000,
      progress: { fraction: 0.25, message: 'a quarter' },
      estimatedRemainingMs: 120_000,
    });
    expect(beat).toEqual({ held: true, cancelRequested: false });
    const after = await f.mustGet(job.id);
    expect(after).toMatchObject({
      status: 'running',
      leaseToken: token,
      attempt: 1,
      progress: { fraction: 0.25, message: 'a quarter' },
    });
    f.expectNow(after.leaseExpiresAt, 60_000);
    f.expectNow(after.estimatedCompletionAt, 120_000);
    // Both from the same instant of the store's clock.
    f.expectDuration(after.leaseExpiresAt, after.estimatedCompletionAt, 60_000);
    expect(after.leaseExpiresAt!.getTime()).toBeGreaterThan(job.leaseExpiresAt!.getTime());
  });

  test('undefined leaves progress and ETA as they are, null clears them', async (f) => {
    const { job, token } = await f.claimNew();
    await f.heartbeat(job.id, token, { progress: { fraction: 0.25 }, estimatedRemainingMs: 120_000 });
    const set = await f.mustGet(job.id);

    expect((await f.heartbeat(job.id, token, { leaseMs: 60_000 })).held).toBe(true);
    const unchanged = await f.mustGet(job.id);
    expect(unchanged.progress).toEqual({ fraction: 0.25 });
    expect(unchanged.estimatedCompletionAt).toEqual(set.estimatedCompletionAt);

    await f.heartbeat(job.id, token, { progress: { fraction: 0.5 } });
    const progressed = await f.mustGet(job.id);
    expect(progressed.progress).toEqual({ fraction: 0.5 });
    expect(progressed.estimatedCompletionAt).toEqual(set.estimatedCompletionAt);

    await f.heartbeat(job.id, token, { progress: null, estimatedRemainingMs: null });
    const cleared = await f.mustGet(job.id);
    expect(cleared.progress).toBeNull();
    expect(cleared.estimatedCompletionAt).toBeNull();
  });

  test('a renewed lease keeps other claimers out past the original lease', async (f) => {
    const { job, token } = await f.claimNew(SHORT);
    expect((await f.heartbeat(job.id, token, { leaseMs: LONG })).held).toBe(true);
    await f.clock.pass(SHORT);
    expect(await f.claim(job.id)).toBeNull();
    expect((await f.mustGet(job.id)).leaseToken).toBe(token);
  });

  test('a lease that expired but was not taken over is renewed by its holder', async (f) => {
    const { job, token } = await f.claimNew(SHORT);
    await f.clock.pass(SHORT);
    expect(await f.heartbeat(job.id, token, { leaseMs: LONG })).toEqual({
      held: true,
      cancelRequested: false,
    });
    expect(await f.claim(job.id)).toBeNull();
    expect(await f.mustGet(job.id)).toMatchObject({ status: 'running', attempt: 1, leaseToken: token });
  });

  test('reports cancelRequested', async (f) => {
    const { job, token } = await f.claimNew();
    expect(await f.heartbeat(job.id, token)).toEqual({ held: true, cancelRequested: false });
    await f.repo.requestCancel(job.id, { retentionMs: LONG, error: problem('canceled') });
    expect(await f.heartbeat(job.id, token)).toEqual({ held: true, cancelRequested: true });
  });

  test('held is false for a wrong token, an unknown job, a queued job and after settle, and nothing changes', async (f) => {
    const { job, token } = await f.claimNew();
    const before = await f.mustGet(job.id);
    const wrong = await f.heartbeat(job.id, newLeaseToken(), {
      leaseMs: LONG * 2,
      progress: { fraction: 0.7 },
    });
    expect(wrong.held).toBe(false);
    expect(await f.repo.get(job.id)).toEqual(before);

    expect((await f.heartbeat(newJobId(), token)).held).toBe(false);

    const queued = await f.create();
    expect((await f.heartbeat(queued.id, token)).held).toBe(false);
    expect(await f.header(queued.id)).toEqual(queued);

    expect(await f.settle(job.id, token, { status: 'succeeded', output: 1, retentionMs: LONG })).toBe(true);
    const settled = await f.mustGet(job.id);
    const after = await f.heartbeat(job.id, token, { progress: { fraction: 1 }, estimatedRemainingMs: 5 });
    expect(after.held).toBe(false);
    expect(await f.repo.get(job.id)).toEqual(settled);
  });
});
