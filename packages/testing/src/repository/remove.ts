import { newJobId } from '@jobs/core';
import { expect } from 'vitest';
import { makeNewJob, problem } from '../helpers.js';
import { headerOf, LONG, type SubSuite, subSuite, unwrap } from './fixture.js';

/** `remove`: only final jobs, returned as they were; the idempotency key is free afterwards. */
export const describeRemoveContract: SubSuite = subSuite('remove', ({ test }) => {
  test('deletes a final job and returns it', async (f) => {
    for (const status of ['succeeded', 'failed', 'canceled'] as const) {
      const job = await f.finalJob(status);
      const removed = await f.repo.remove(job.id);
      expect(removed, status).toEqual(headerOf(job));
      expect(await f.repo.get(job.id)).toBeNull();
      expect(await f.repo.get(job.id, 'header')).toBeNull();
      expect(await f.repo.remove(job.id)).toBeNull();
      expect(
        (await f.repo.list({ endpoint: f.endpoint, owner: null, limit: 10 })).jobs.map((j) => j.id),
      ).not.toContain(job.id);
    }
  });

  test('refuses queued, running and unknown jobs, and changes nothing', async (f) => {
    const queued = await f.create();
    const { job: running } = await f.claimNew();
    expect(await f.repo.remove(queued.id)).toBeNull();
    expect(await f.repo.remove(running.id)).toBeNull();
    expect(await f.header(queued.id)).toEqual(queued);
    expect(await f.repo.get(running.id)).toEqual(running);
    expect(await f.repo.remove(newJobId())).toBeNull();
  });

  test('frees the idempotency key', async (f) => {
    const job = await f.create({ idempotencyKey: 'reuse' });
    await f.repo.requestCancel(job.id, { retentionMs: LONG, error: problem('canceled') });
    await f.repo.remove(job.id);
    const again = unwrap((await f.repo.create([makeNewJob(f.endpoint, { idempotencyKey: 'reuse' })]))[0]);
    expect(again.created).toBe(true);
    expect(again.job.id).not.toBe(job.id);
  });
});
