import { expect } from 'vitest';
import { problem } from '../helpers.js';
import { LONG, type RepositoryFixture, retry, SHORT, type SubSuite, subSuite } from './fixture.js';

/** Follows one job's updatedAt through operations that must move it or leave it. */
async function follow(f: RepositoryFixture, id: string) {
  let last = (await f.mustGet(id)).updatedAt.getTime();
  const after = async (operation: () => Promise<unknown>) => {
    // Lets the store's clock move on, so that a change lands on a later millisecond.
    await f.clock.pass(5);
    await operation();
    return f.mustGet(id);
  };
  return {
    async moves(what: string, operation: () => Promise<unknown>) {
      const job = await after(operation);
      expect(job.updatedAt.getTime(), `updatedAt after ${what}`).toBeGreaterThan(last);
      f.expectNow(job.updatedAt);
      last = job.updatedAt.getTime();
      return job;
    },
    async stays(what: string, operation: () => Promise<unknown>) {
      const job = await after(operation);
      expect(job.updatedAt.getTime(), `updatedAt after ${what}`).toBe(last);
      return job;
    },
  };
}

/** `updatedAt`: set to now by every change, strictly increasing per job, untouched by renewals and dispatches. */
export const describeUpdatedAtContract: SubSuite = subSuite('updatedAt', ({ test, clockTest }) => {
  test('is set at create and moves to now on claim, heartbeat with progress or ETA, cancel and settle', async (f) => {
    const job = await f.create();
    f.expectDuration(job.createdAt, job.updatedAt, 0);
    const updated = await follow(f, job.id);
    const claimed = await updated.moves('claim', () => f.claim(job.id));
    const token = claimed.leaseToken!;
    await updated.moves('heartbeat with progress', () =>
      f.heartbeat(job.id, token, { progress: { fraction: 0.5 } }),
    );
    await updated.moves('heartbeat with an ETA', () =>
      f.heartbeat(job.id, token, { estimatedRemainingMs: 60_000 }),
    );
    await updated.moves('requestCancel of a running job', () =>
      f.repo.requestCancel(job.id, { retentionMs: LONG, error: problem('canceled') }),
    );
    const requeue = retry();
    await updated.moves('settle to queued', () => f.settle(job.id, token, requeue));
    const again = await updated.moves('a second claim', () => f.claim(job.id));
    await updated.moves('settle succeeded', () =>
      f.settle(job.id, again.leaseToken!, { status: 'succeeded', output: 1, retentionMs: LONG }),
    );

    const failing = await f.claimNew();
    await (await follow(f, failing.job.id)).moves('settle failed', () =>
      f.settle(failing.job.id, failing.token, {
        status: 'failed',
        error: problem('job_failed'),
        retentionMs: LONG,
      }),
    );
    const queued = await f.create();
    await (await follow(f, queued.id)).moves('requestCancel of a queued job', () =>
      f.repo.requestCancel(queued.id, { retentionMs: LONG, error: problem('canceled') }),
    );
  });

  test('strictly increases per job, even for changes in the same millisecond', async (f) => {
    const job = await f.create();
    const seen = [job.updatedAt.getTime()];
    const record = async () => seen.push((await f.mustGet(job.id)).updatedAt.getTime());
    const token = (await f.claim(job.id))!.leaseToken!;
    await record();
    for (const fraction of [0.25, 0.5, 0.75]) {
      await f.heartbeat(job.id, token, { progress: { fraction } });
      await record();
    }
    await f.repo.requestCancel(job.id, { retentionMs: LONG, error: problem('canceled') });
    await record();
    await f.settle(job.id, token, { status: 'succeeded', output: 1, retentionMs: LONG });
    await record();
    for (let i = 1; i < seen.length; i++) expect(seen[i]!, `change ${i}`).toBeGreaterThan(seen[i - 1]!);
  });

  clockTest('a change in the millisecond of the previous one sets it 1 ms past that', async (f) => {
    const job = await f.create();
    const start = job.updatedAt.getTime();
    const token = (await f.claim(job.id))!.leaseToken!;
    await f.heartbeat(job.id, token, { progress: { fraction: 0.5 } });
    await f.settle(job.id, token, { status: 'succeeded', output: 1, retentionMs: LONG });
    expect((await f.mustGet(job.id)).updatedAt.getTime()).toBe(start + 3);
    // Once the clock is past it again, a change takes the clock's time.
    await f.clock.pass(10);
    const queued = await f.create();
    await f.clock.pass(10);
    await f.repo.requestCancel(queued.id, { retentionMs: LONG, error: problem('canceled') });
    expect((await f.mustGet(queued.id)).updatedAt.getTime()).toBe(f.clock.read());
  });

  test('stays on dispatch and on a heartbeat that changes neither progress nor ETA', async (f) => {
    const job = await f.create();
    const updated = await follow(f, job.id);
    const dispatched = await updated.stays('dispatch of a queued job', () => f.dispatch());
    expect(dispatched.dispatchedAt).toBeInstanceOf(Date);

    const claimed = await updated.moves('claim', () => f.claim(job.id, { leaseMs: SHORT }));
    const token = claimed.leaseToken!;
    const before = await updated.moves('a heartbeat with progress', () =>
      f.heartbeat(job.id, token, { progress: { fraction: 0.5 } }),
    );
    const renewed = await updated.stays('a heartbeat without progress or ETA', () =>
      f.heartbeat(job.id, token),
    );
    // The lease was renewed all the same.
    expect(renewed.leaseExpiresAt!.getTime()).toBeGreaterThan(before.leaseExpiresAt!.getTime());
    await updated.stays('a heartbeat repeating the progress', () =>
      f.heartbeat(job.id, token, { progress: { fraction: 0.5 } }),
    );
    await f.heartbeat(job.id, token, { leaseMs: SHORT });
    await f.clock.pass(SHORT);
    await updated.stays('dispatch of a running job with an expired lease', () => f.dispatch());
    expect((await f.mustGet(job.id)).dispatchedAt).toBeInstanceOf(Date);
  });
});
