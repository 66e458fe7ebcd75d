import type { JobChange, JobRecordHeader } from '@jobs/core';
import { expect } from 'vitest';
import { problem, waitFor } from '../helpers.js';
import { deleteUntilGone } from './expiry.js';
import { type ChangeWatch, LONG, retry, SHORT, type SubSuite, subSuite } from './fixture.js';

/** What a subscriber must hear of a job as it is now. */
function changeOf(job: JobRecordHeader): JobChange {
  return {
    id: job.id,
    status: job.status,
    updatedAt: job.updatedAt,
    attempt: job.attempt,
    cancelRequested: job.cancelRequested,
    runAt: job.status === 'queued' ? job.runAt : null,
  };
}

/** `subscribe`: a `JobChange` after every change, the subscription's life, and what is not announced. */
export const describeNotificationContract: SubSuite = subSuite('notifications', ({ test }) => {
  test('announces create, claim, heartbeat with progress or ETA, cancel, settle and remove with the right fields', async (f) => {
    const watch = await f.watch();
    /** Runs the operation, then waits for the change that says what the job is now. */
    const announced = async (id: string, what: string, operation: () => Promise<unknown>) => {
      await operation();
      const job = await f.header(id);
      const change = await watch.next(id, what, (c) => c.updatedAt.getTime() === job!.updatedAt.getTime());
      expect(change, what).toEqual(changeOf(job!));
    };
    const job = await f.create();
    await watch.next(job.id, 'create', (c) => c.status === 'queued');
    expect(watch.of(job.id)).toEqual([changeOf(job)]);
    const token = (await f.claim(job.id, { leaseMs: LONG }))!.leaseToken!;
    await watch.next(job.id, 'claim', (c) => c.status === 'running');
    expect(watch.of(job.id).at(-1)).toEqual(changeOf((await f.header(job.id))!));
    await announced(job.id, 'heartbeat with progress', () =>
      f.heartbeat(job.id, token, { progress: { fraction: 0.5 } }),
    );
    await announced(job.id, 'heartbeat with an ETA', () =>
      f.heartbeat(job.id, token, { estimatedRemainingMs: 1_000 }),
    );
    await announced(job.id, 'cancel of a running job', () =>
      f.repo.requestCancel(job.id, { retentionMs: LONG, error: problem('canceled') }),
    );
    expect(watch.of(job.id).at(-1)).toMatchObject({ status: 'running', cancelRequested: true });
    const requeue = retry(SHORT, { error: null });
    await announced(job.id, 'settle to queued', () => f.settle(job.id, token, requeue));
    expect(watch.of(job.id).at(-1)?.runAt).toBeInstanceOf(Date);
    await f.clock.pass(SHORT);
    const second = (await f.claim(job.id))!.leaseToken!;
    await watch.next(job.id, 'the second claim', (c) => c.attempt === 2);
    const done = { status: 'succeeded', output: 1, retentionMs: LONG } as const;
    await announced(job.id, 'settle succeeded', () => f.settle(job.id, second, done));
    const final = (await f.header(job.id))!;
    await f.repo.remove(job.id);
    const removal = await watch.next(job.id, 'remove', (c) => c.status === null);
    expect(removal).toEqual({ ...changeOf(final), status: null, updatedAt: expect.any(Date) });
    expect(removal.updatedAt.getTime()).toBeGreaterThanOrEqual(final.finishedAt!.getTime());
    f.expectNow(removal.updatedAt);

    const queued = await f.create();
    await announced(queued.id, 'cancel of a queued job', () =>
      f.repo.requestCancel(queued.id, { retentionMs: LONG, error: problem('canceled') }),
    );
    expect(watch.of(queued.id).at(-1)).toMatchObject({ status: 'canceled', runAt: null });
    const failing = await f.claimNew();
    const failure = { status: 'failed', error: problem('job_failed'), retentionMs: LONG } as const;
    await announced(failing.job.id, 'settle failed', () => f.settle(failing.job.id, failing.token, failure));
  });

  test('announces the deletion of an expired job with status null', async (f) => {
    const watch = await f.watch();
    const id = await f.expiringJob('succeeded');
    await watch.next(id, 'the settle', (c) => c.status === 'succeeded');
    await f.clock.pass(SHORT);
    await deleteUntilGone(f, [id]);
    const removal = await watch.next(id, 'deleteExpired', (c) => c.status === null);
    expect(removal).toMatchObject({ id, status: null, attempt: 1, cancelRequested: false, runAt: null });
  });

  test('a plain lease renewal and a heartbeat repeating the stored progress announce nothing', async (f) => {
    const watch = await f.watch();
    const { job, token } = await f.claimNew();
    await f.heartbeat(job.id, token, { progress: { fraction: 0.5, message: 'half' } });
    await watch.next(job.id, 'the progress', (c) => c.updatedAt.getTime() > job.updatedAt.getTime());
    const heard = watch.of(job.id).length;
    await f.heartbeat(job.id, token, { leaseMs: LONG });
    await f.heartbeat(job.id, token, { progress: { fraction: 0.5, message: 'half' } });
    await watch.barrier();
    expect(watch.of(job.id)).toHaveLength(heard);
  });

  test('subscribe resolves once live: a change made right after it is heard', async (f) => {
    const heard: string[] = [];
    const unsubscribe = await f.repo.subscribe((change) => heard.push(change.id));
    try {
      const job = await f.create();
      await waitFor(() => heard.includes(job.id), { timeoutMs: f.waitTimeoutMs, message: 'the create' });
    } finally {
      unsubscribe();
    }
  });

  test('delivers to every subscriber; unsubscribe stops delivery to that one only', async (f) => {
    const [first, second, third] = [await f.watch(), await f.watch(), await f.watch()];
    const job = await f.create();
    for (const watch of [first, second, third]) await watch.next(job.id, 'the create');
    first.stop();
    const later = await f.create();
    await f.claim(later.id);
    for (const watch of [second, third])
      await watch.next(later.id, 'the claim', (c) => c.status === 'running');
    await second.barrier();
    expect(first.of(later.id)).toEqual([]);
  });

  test('two subscriptions of one function are independent', async (f) => {
    const heard: string[] = [];
    const listener = (change: JobChange) => heard.push(change.id);
    const count = (id: string) => heard.filter((seen) => seen === id).length;
    const watch: ChangeWatch = await f.watch();
    const unsubscribeFirst = await f.repo.subscribe(listener);
    const unsubscribeSecond = await f.repo.subscribe(listener);
    try {
      const job = await f.create();
      await waitFor(() => count(job.id) >= 2, {
        timeoutMs: f.waitTimeoutMs,
        message: 'both subscriptions',
      });
      expect(count(job.id)).toBe(2);
      unsubscribeFirst();
      const later = await f.create();
      await watch.barrier();
      await waitFor(() => count(later.id) >= 1, {
        timeoutMs: f.waitTimeoutMs,
        message: 'the second subscription',
      });
      expect(count(later.id)).toBe(1);
    } finally {
      unsubscribeSecond();
    }
  });

  test('accepts onLiveChange: the subscription delivers, and is live when it resolves', async (f) => {
    const lives: boolean[] = [];
    const heard: string[] = [];
    const unsubscribe = await f.repo.subscribe((change) => heard.push(change.id), {
      onLiveChange: (live) => lives.push(live),
    });
    try {
      // Resolved means live: the only report allowed so far is "live".
      expect(lives.every((live) => live === true)).toBe(true);
      const job = await f.create();
      await waitFor(() => heard.includes(job.id), { timeoutMs: f.waitTimeoutMs, message: 'the create' });
    } finally {
      unsubscribe();
    }
  });
});
