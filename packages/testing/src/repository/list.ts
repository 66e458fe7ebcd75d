import type { JobRecordHeader, JobStatus, SettleOutcome } from '@jobs/core';
import { expect } from 'vitest';
import { problem } from '../helpers.js';
import { LONG, type SubSuite, subSuite } from './fixture.js';

function expectOrderedNewestFirst(jobs: JobRecordHeader[]) {
  for (let i = 1; i < jobs.length; i++) {
    const a = jobs[i - 1]!;
    const b = jobs[i]!;
    const newer = a.createdAt.getTime() > b.createdAt.getTime();
    const tieBrokenById = a.createdAt.getTime() === b.createdAt.getTime() && a.id > b.id;
    expect(newer || tieBrokenById, `jobs ${i - 1} and ${i} are not ordered (createdAt desc, id desc)`).toBe(
      true,
    );
  }
}

/** `list`: one owner's jobs of one endpoint, newest first, keyset-paginated, optionally by status. */
export const describeListContract: SubSuite = subSuite('list', ({ test }) => {
  test('returns the headers newest first', async (f) => {
    const jobs: JobRecordHeader[] = [];
    for (let i = 0; i < 3; i++) {
      jobs.push(await f.create({ owner: 'o' }));
      await f.clock.pass(5);
    }
    const page = await f.repo.list({ endpoint: f.endpoint, owner: 'o', limit: 10 });
    expect(page.jobs.map((j) => j.id)).toEqual(jobs.map((j) => j.id).reverse());
    expect(page.nextCursor).toBeNull();
    expect(page.jobs[0]).toEqual(await f.header(jobs[2]!.id));
  });

  test('pages with cursors cover every job exactly once, in order (25 jobs, limit 7)', async (f) => {
    const ids = new Set<string>();
    for (let i = 0; i < 25; i++) {
      ids.add((await f.create({ owner: 'pager', input: { i } })).id);
      if (i % 3 === 0) await f.create({ owner: 'someone-else' });
      if (i % 4 === 0) await f.clock.pass(1);
    }
    const seen: JobRecordHeader[] = [];
    const sizes: number[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 10; page++) {
      const result = await f.repo.list({ endpoint: f.endpoint, owner: 'pager', limit: 7, cursor });
      sizes.push(result.jobs.length);
      seen.push(...result.jobs);
      if (result.nextCursor === null) break;
      cursor = result.nextCursor;
    }
    expect(sizes).toEqual([7, 7, 7, 4]);
    expect(seen.map((j) => j.id).sort()).toEqual([...ids].sort());
    expectOrderedNewestFirst(seen);
  });

  test('a full last page ends with no cursor or with a cursor to an empty page', async (f) => {
    for (let i = 0; i < 3; i++) await f.create({ owner: 'exact' });
    const page = await f.repo.list({ endpoint: f.endpoint, owner: 'exact', limit: 3 });
    expect(page.jobs).toHaveLength(3);
    if (page.nextCursor !== null) {
      const next = await f.repo.list({
        endpoint: f.endpoint,
        owner: 'exact',
        limit: 3,
        cursor: page.nextCursor,
      });
      expect(next).toEqual({ jobs: [], nextCursor: null });
    }
    expect(await f.repo.list({ endpoint: f.endpoint, owner: 'nobody', limit: 3 })).toEqual({
      jobs: [],
      nextCursor: null,
    });
  });

  test('filters by status', async (f) => {
    const owner = 'filter';
    const queued = await f.create({ owner });
    const { job: running } = await f.claimNew(LONG, { owner });
    const byStatus: Record<JobStatus, string[]> = {
      queued: [queued.id],
      running: [running.id],
      succeeded: [],
      failed: [],
      canceled: [],
    };
    for (const status of ['succeeded', 'failed'] as const) {
      const { job, token } = await f.claimNew(LONG, { owner });
      const outcome: SettleOutcome =
        status === 'succeeded'
          ? { status, output: 1, retentionMs: LONG }
          : { status, error: problem('job_failed'), retentionMs: LONG };
      await f.settle(job.id, token, outcome);
      byStatus[status].push(job.id);
    }
    const canceled = await f.create({ owner });
    await f.repo.requestCancel(canceled.id, { retentionMs: LONG, error: problem('canceled') });
    byStatus.canceled.push(canceled.id);

    for (const status of Object.keys(byStatus) as JobStatus[]) {
      const page = await f.repo.list({ endpoint: f.endpoint, owner, status, limit: 10 });
      expect(
        page.jobs.map((j) => j.id),
        status,
      ).toEqual(byStatus[status]);
      for (const job of page.jobs) expect(job).toEqual(await f.header(job.id));
    }
    expect((await f.repo.list({ endpoint: f.endpoint, owner, limit: 10 })).jobs).toHaveLength(5);
  });

  test('isolates owners, including the null owner, and endpoints', async (f) => {
    const alice = await f.create({ owner: 'alice' });
    const bob = await f.create({ owner: 'bob' });
    const anonymous = await f.create({ owner: null });
    const otherEndpoint = f.newEndpoint();
    const aliceElsewhere = await f.createIn(otherEndpoint, { owner: 'alice' });

    const ids = async (endpoint: string, owner: string | null) =>
      (await f.repo.list({ endpoint, owner, limit: 10 })).jobs.map((j) => j.id);
    expect(await ids(f.endpoint, 'alice')).toEqual([alice.id]);
    expect(await ids(f.endpoint, 'bob')).toEqual([bob.id]);
    expect(await ids(f.endpoint, null)).toEqual([anonymous.id]);
    expect(await ids(otherEndpoint, 'alice')).toEqual([aliceElsewhere.id]);
    expect(await ids(otherEndpoint, 'bob')).toEqual([]);
    expect(await ids(otherEndpoint, null)).toEqual([]);
  });

  test('rejects an invalid cursor with InvalidInputError', async (f) => {
    await f.create({ owner: 'o' });
    const wellFormedButWrong = btoa(JSON.stringify([Date.now(), 'not-a-job-id']));
    for (const cursor of ['not a cursor', btoa('{"x":1}'), wellFormedButWrong]) {
      await expect(
        f.repo.list({ endpoint: f.endpoint, owner: 'o', limit: 10, cursor }),
      ).rejects.toMatchObject({
        name: 'InvalidInputError',
        code: 'invalid_input',
      });
    }
  });
});
