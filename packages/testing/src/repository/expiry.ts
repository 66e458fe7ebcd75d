import type { JobRecordHeader } from '@jobs/core';
import { expect } from 'vitest';
import { makeNewJob, problem, waitFor } from '../helpers.js';
import { LONG, type RepositoryFixture, SHORT, type SubSuite, subSuite, unwrap } from './fixture.js';

/** Calls deleteExpired until each of `ids` was returned (other expired jobs of a shared store may come first). */
export async function deleteUntilGone(
  f: RepositoryFixture,
  ids: string[],
  limit = 100,
): Promise<JobRecordHeader[]> {
  const deleted: JobRecordHeader[] = [];
  await waitFor(
    async () => {
      const batch = await f.repo.deleteExpired(limit);
      expect(batch.length).toBeLessThanOrEqual(limit);
      deleted.push(...batch);
      return ids.every((id) => deleted.some((job) => job.id === id));
    },
    { timeoutMs: f.waitTimeoutMs, message: 'the expired jobs to be deleted' },
  );
  return deleted;
}

/** `deleteExpired`, and the rule that an expired job is absent for every other method. */
export const describeExpiryContract: SubSuite = subSuite('expiry', ({ test, clockTest }) => {
  test('deleteExpired deletes only final jobs past expiresAt, and returns them', async (f) => {
    const succeeded = await f.expiringJob('succeeded');
    const failed = await f.expiringJob('failed');
    const canceled = await f.create();
    await f.repo.requestCancel(canceled.id, { retentionMs: SHORT, error: problem('canceled') });
    const kept = await f.finalJob('succeeded');
    const queued = await f.create();
    const { job: running } = await f.claimNew(LONG);
    await f.clock.pass(SHORT);

    const deleted = await deleteUntilGone(f, [succeeded, failed, canceled.id]);
    const byId = new Map(deleted.map((job) => [job.id, job]));
    expect(byId.get(succeeded)).toMatchObject({ status: 'succeeded', endpoint: f.endpoint, attempt: 1 });
    expect(byId.get(failed)).toMatchObject({ status: 'failed', error: problem('job_failed') });
    expect(byId.get(canceled.id)).toMatchObject({ status: 'canceled', attempt: 0 });
    for (const job of deleted) {
      expect(['succeeded', 'failed', 'canceled']).toContain(job.status);
      expect(job.expiresAt!.getTime()).toBeLessThanOrEqual(Date.now() + 5 * 60_000);
    }
    for (const id of [kept.id, queued.id, running.id]) expect(byId.has(id)).toBe(false);
    expect(await f.repo.get(kept.id)).toEqual(kept);
    expect(await f.header(queued.id)).toEqual(queued);
    expect(await f.repo.get(running.id)).toEqual(running);
    // Deleted for good: never returned again.
    const later = await f.repo.deleteExpired(100);
    for (const id of [succeeded, failed, canceled.id]) expect(later.map((job) => job.id)).not.toContain(id);
  });

  test('deleteExpired deletes at most limit jobs per call', async (f) => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await f.expiringJob('succeeded'));
    await f.clock.pass(SHORT);
    const first = await f.repo.deleteExpired(2);
    expect(first).toHaveLength(2);
    expect(await f.repo.deleteExpired(0)).toEqual([]);
    const rest = ids.filter((id) => !first.some((job) => job.id === id));
    // Each call of deleteUntilGone's returns at most 2.
    await deleteUntilGone(f, rest, 2);
    for (const id of ids) expect(await f.header(id)).toBeNull();
  });

  test('an expired job is absent: get, list, requestCancel, remove and claim find nothing', async (f) => {
    const owner = 'expiring';
    const succeeded = await f.create({ owner });
    const claimed = await f.claim(succeeded.id);
    await f.settle(succeeded.id, claimed!.leaseToken!, {
      status: 'succeeded',
      output: 1,
      retentionMs: SHORT,
    });
    const canceled = await f.create({ owner });
    await f.repo.requestCancel(canceled.id, { retentionMs: SHORT, error: problem('canceled') });
    const live = await f.create({ owner });
    await f.clock.pass(SHORT);

    for (const id of [succeeded.id, canceled.id]) {
      expect(await f.repo.get(id)).toBeNull();
      expect(await f.repo.get(id, 'header')).toBeNull();
      expect(await f.repo.requestCancel(id, { retentionMs: LONG, error: problem('canceled') })).toBeNull();
      expect(await f.repo.remove(id)).toBeNull();
      expect(await f.claim(id)).toBeNull();
    }
    expect(await f.repo.list({ endpoint: f.endpoint, owner, limit: 10 })).toEqual({
      jobs: [await f.header(live.id)],
      nextCursor: null,
    });
    for (const status of ['succeeded', 'canceled'] as const) {
      expect((await f.repo.list({ endpoint: f.endpoint, owner, status, limit: 10 })).jobs).toEqual([]);
    }
    // Still there for deleteExpired, which returns them.
    const deleted = await deleteUntilGone(f, [succeeded.id, canceled.id]);
    expect(deleted.find((job) => job.id === succeeded.id)).toMatchObject({ status: 'succeeded' });
  });

  test('the idempotency key of an expired job is free again: a replay creates a new job', async (f) => {
    const replay = () => f.repo.create([makeNewJob(f.endpoint, { owner: 'o', idempotencyKey: 'replayed' })]);
    const first = unwrap((await replay())[0]);
    expect(first.created).toBe(true);
    const claimed = await f.claim(first.job.id);
    await f.settle(first.job.id, claimed!.leaseToken!, {
      status: 'succeeded',
      output: 1,
      retentionMs: SHORT,
    });
    await f.clock.pass(SHORT);

    const second = unwrap((await replay())[0]);
    expect(second.created).toBe(true);
    expect(second.job.id).not.toBe(first.job.id);
    expect(second.job).toMatchObject({ status: 'queued', idempotencyKey: 'replayed', owner: 'o' });
    expect(unwrap((await replay())[0])).toMatchObject({ created: false, job: { id: second.job.id } });

    // Deleting the expired job leaves the key with the new one.
    await deleteUntilGone(f, [first.job.id]);
    expect(unwrap((await replay())[0])).toMatchObject({ created: false, job: { id: second.job.id } });
    expect(await f.header(second.job.id)).toMatchObject({ status: 'queued' });
  });

  clockTest('a job expires exactly at expiresAt', async (f) => {
    const job = await f.create({ idempotencyKey: 'boundary' });
    await f.repo.requestCancel(job.id, { retentionMs: 1_000, error: problem('canceled') });
    await f.clock.pass(999);
    expect(await f.header(job.id)).toMatchObject({ status: 'canceled' });
    expect((await f.repo.deleteExpired(100)).map((j) => j.id)).not.toContain(job.id);
    const sameKey = () => f.repo.create([makeNewJob(f.endpoint, { idempotencyKey: 'boundary' })]);
    expect(unwrap((await sameKey())[0])).toMatchObject({ created: false, job: { id: job.id } });
    await f.clock.pass(1);
    expect(await f.header(job.id)).toBeNull();
    expect(unwrap((await sameKey())[0]).created).toBe(true);
    expect((await f.repo.deleteExpired(100)).map((j) => j.id)).toContain(job.id);
  });
});
