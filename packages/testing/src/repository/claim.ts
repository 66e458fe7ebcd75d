import type { JobRecord } from '@jobs/core';
import { newJobId, newLeaseToken } from '@jobs/core';
import { expect } from 'vitest';
import { problem } from '../helpers.js';
import { LONG, retry, SHORT, type SubSuite, subSuite } from './fixture.js';

/** `claim`: the compare-and-set from `queued` (or an expired lease) to `running`, alone and racing. */
export const describeClaimContract: SubSuite = subSuite('claim', ({ test, clockTest }) => {
  test('moves a queued job to running: attempt 1, the token, a lease of leaseMs from startedAt = now, no dispatch', async (f) => {
    const job = await f.create({ input: { claim: 'me' } });
    expect((await f.dispatch()).dispatched).toBe(1);
    expect((await f.header(job.id))?.dispatchedAt).toBeInstanceOf(Date);
    const token = newLeaseToken();
    const claimed = await f.claim(job.id, { leaseToken: token, leaseMs: 30_000 });
    expect(claimed).toMatchObject({
      id: job.id,
      status: 'running',
      attempt: 1,
      leaseToken: token,
      dispatchedAt: null,
      progress: null,
      finishedAt: null,
      expiresAt: null,
      cancelRequested: false,
      estimatedCompletionAt: null,
      input: { claim: 'me' },
      output: null,
    });
    f.expectNow(claimed!.startedAt);
    expect(claimed!.startedAt!.getTime()).toBeGreaterThanOrEqual(job.createdAt.getTime());
    f.expectDuration(claimed!.startedAt, claimed!.leaseExpiresAt, 30_000);
    expect(await f.repo.get(job.id)).toEqual(claimed);
  });

  test('estimatedDurationMs sets estimatedCompletionAt = now + it; omitted or null leaves it unchanged', async (f) => {
    const job = await f.create();
    const first = await f.claim(job.id, { leaseMs: SHORT, estimatedDurationMs: 5_000 });
    f.expectDuration(first!.startedAt, first!.estimatedCompletionAt, 5_000);
    const eta = first!.estimatedCompletionAt!.getTime();

    await f.clock.pass(SHORT);
    const omitted = await f.claim(job.id, { leaseMs: SHORT });
    expect(omitted).toMatchObject({ attempt: 2 });
    expect(omitted!.estimatedCompletionAt?.getTime()).toBe(eta);

    await f.clock.pass(SHORT);
    const withNull = await f.claim(job.id, { leaseMs: SHORT, estimatedDurationMs: null });
    expect(withNull).toMatchObject({ attempt: 3 });
    expect(withNull!.estimatedCompletionAt?.getTime()).toBe(eta);

    await f.clock.pass(SHORT);
    const again = await f.claim(job.id, { leaseMs: LONG, estimatedDurationMs: 60_000 });
    f.expectDuration(again!.startedAt, again!.estimatedCompletionAt, 60_000);
  });

  test('refuses unknown and final jobs, and changes nothing', async (f) => {
    expect(await f.claim(newJobId())).toBeNull();
    for (const status of ['succeeded', 'failed', 'canceled'] as const) {
      const job = await f.finalJob(status);
      expect(await f.claim(job.id), status).toBeNull();
      expect(await f.repo.get(job.id)).toEqual(job);
    }
    const canceled = await f.create();
    await f.repo.requestCancel(canceled.id, { retentionMs: LONG, error: problem('canceled') });
    const before = await f.mustGet(canceled.id);
    expect(await f.claim(canceled.id)).toBeNull();
    expect(await f.repo.get(canceled.id)).toEqual(before);
  });

  test('refuses a job running under a live lease, and changes nothing', async (f) => {
    const { job } = await f.claimNew();
    expect(await f.claim(job.id)).toBeNull();
    expect(await f.repo.get(job.id)).toEqual(job);
  });

  test('of 100 concurrent claims of one job exactly one wins', async (f) => {
    const job = await f.create();
    const tokens = Array.from({ length: 100 }, () => newLeaseToken());
    const results = await Promise.all(tokens.map((leaseToken) => f.claim(job.id, { leaseToken })));
    const winners = results.filter((r): r is JobRecord => r !== null);
    expect(winners).toHaveLength(1);
    const stored = await f.mustGet(job.id);
    expect(stored).toMatchObject({ status: 'running', attempt: 1, leaseToken: winners[0]!.leaseToken });
    expect(tokens).toContain(stored.leaseToken);
  });

  test('of 50 concurrent claims of a job whose lease expired exactly one wins', async (f) => {
    const { job } = await f.claimNew(SHORT);
    await f.clock.pass(SHORT);
    const results = await Promise.all(Array.from({ length: 50 }, () => f.claim(job.id)));
    const winners = results.filter((r): r is JobRecord => r !== null);
    expect(winners).toHaveLength(1);
    expect(await f.mustGet(job.id)).toMatchObject({ attempt: 2, leaseToken: winners[0]!.leaseToken });
  });

  test('refuses a queued job that is not due yet, and takes it once due', async (f) => {
    const { job, token } = await f.claimNew();
    const later = retry(LONG, { error: null });
    expect(await f.settle(job.id, token, later)).toBe(true);
    const requeued = await f.mustGet(job.id);
    expect(await f.claim(job.id)).toBeNull();
    expect(await f.repo.get(job.id)).toEqual(requeued);

    const other = await f.claimNew();
    await f.settle(other.job.id, other.token, { ...later, delayMs: SHORT });
    await f.clock.pass(SHORT);
    expect(await f.claim(other.job.id)).toMatchObject({ status: 'running', attempt: 2 });
  });

  test('takes a job whose lease expired as a new attempt; the old token is refused from then on', async (f) => {
    const { job, token: oldToken } = await f.claimNew(SHORT);
    await f.heartbeat(job.id, oldToken, { leaseMs: SHORT, progress: { fraction: 0.3 } });
    await f.clock.pass(SHORT);
    const newToken = newLeaseToken();
    const reclaimed = await f.claim(job.id, { leaseToken: newToken });
    expect(reclaimed).toMatchObject({
      status: 'running',
      attempt: 2,
      leaseToken: newToken,
      progress: null,
    });
    expect(reclaimed!.startedAt!.getTime()).toBeGreaterThan(job.startedAt!.getTime());
    f.expectDuration(reclaimed!.startedAt, reclaimed!.leaseExpiresAt, LONG);

    expect((await f.heartbeat(job.id, oldToken, { progress: { fraction: 0.9 } })).held).toBe(false);
    const stale = { status: 'succeeded', output: 'stale', retentionMs: LONG } as const;
    expect(await f.settle(job.id, oldToken, stale)).toBe(false);
    expect(await f.repo.get(job.id)).toEqual(reclaimed);

    expect(await f.settle(job.id, newToken, { ...stale, output: 'fresh' })).toBe(true);
    expect(await f.mustGet(job.id)).toMatchObject({ status: 'succeeded', output: 'fresh', attempt: 2 });
  });

  test('a racing claim and cancel of a queued job end consistently', async (f) => {
    const jobs = await Promise.all(Array.from({ length: 10 }, () => f.create()));
    await Promise.all(
      jobs.map(async (job) => {
        const token = newLeaseToken();
        const [claimed, canceled] = await Promise.all([
          f.claim(job.id, { leaseToken: token }),
          f.repo.requestCancel(job.id, { retentionMs: LONG, error: problem('canceled') }),
        ]);
        expect(canceled).not.toBeNull();
        const stored = await f.mustGet(job.id);
        if (claimed) {
          expect(stored).toMatchObject({ status: 'running', leaseToken: token, cancelRequested: true });
        } else {
          expect(stored).toMatchObject({ status: 'canceled', leaseToken: null });
        }
      }),
    );
  });

  clockTest('a lease is live until exactly leaseExpiresAt, a delay ends exactly at runAt', async (f) => {
    const { job } = await f.claimNew(1_000);
    await f.clock.pass(999);
    expect(await f.claim(job.id)).toBeNull();
    await f.clock.pass(1);
    const token = newLeaseToken();
    expect(await f.claim(job.id, { leaseToken: token, leaseMs: 1_000 })).toMatchObject({ attempt: 2 });

    const requeue = retry(5_000, { error: null });
    expect(await f.settle(job.id, token, requeue)).toBe(true);
    f.expectNow((await f.header(job.id))!.runAt, 5_000);
    await f.clock.pass(4_999);
    expect(await f.claim(job.id)).toBeNull();
    await f.clock.pass(1);
    expect(await f.claim(job.id)).toMatchObject({ attempt: 3 });
  });
});
