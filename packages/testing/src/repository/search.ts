import type { EndpointStats, JobRecordHeader, SearchQuery } from '@jobs/core';
import { expect } from 'vitest';
import { problem } from '../helpers.js';
import { LONG, type RepositoryFixture, SHORT, type SubSuite, subSuite } from './fixture.js';

function expectNewestFirst(jobs: JobRecordHeader[]) {
  for (let i = 1; i < jobs.length; i++) {
    const a = jobs[i - 1]!;
    const b = jobs[i]!;
    const ordered =
      a.createdAt.getTime() > b.createdAt.getTime() ||
      (a.createdAt.getTime() === b.createdAt.getTime() && a.id > b.id);
    expect(ordered, `jobs ${i - 1} and ${i} are not ordered (createdAt desc, id desc)`).toBe(true);
  }
}

/** Every page of a search, following the cursors (at most 20 pages). */
async function allPages(f: RepositoryFixture, query: SearchQuery) {
  const jobs: JobRecordHeader[] = [];
  const sizes: number[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 20; page++) {
    const result = await f.repo.search({ ...query, cursor });
    sizes.push(result.jobs.length);
    jobs.push(...result.jobs);
    if (result.nextCursor === null) break;
    cursor = result.nextCursor;
  }
  return { jobs, sizes };
}

const ids = (jobs: JobRecordHeader[]) => jobs.map((job) => job.id);

/** `search`: jobs across endpoints and owners for an operator, newest first, keyset-paginated, filtered. */
export const describeSearchContract: SubSuite = subSuite('search', ({ test }) => {
  test('finds the jobs of several endpoints and owners, newest first, as get() has them', async (f) => {
    const other = f.newEndpoint();
    const created: JobRecordHeader[] = [];
    for (const [endpoint, owner] of [
      [f.endpoint, 'a'],
      [other, 'b'],
      [f.endpoint, null],
      [other, 'a'],
    ] as const) {
      created.push(await f.createIn(endpoint, { owner }));
      await f.clock.pass(2);
    }
    const page = await f.repo.search({ endpoints: [f.endpoint, other], limit: 10 });
    expect(ids(page.jobs)).toEqual(ids(created).reverse());
    expect(page.nextCursor).toBeNull();
    for (const job of page.jobs) expect(job).toEqual(await f.header(job.id));
    expect(ids((await f.repo.search({ endpoints: [other], limit: 10 })).jobs)).toEqual(
      ids([created[3]!, created[1]!]),
    );
    expect(await f.repo.search({ endpoints: [], limit: 10 })).toEqual({ jobs: [], nextCursor: null });
  });

  test('filters by owner (one, none, any), status and creation time', async (f) => {
    const other = f.newEndpoint();
    const endpoints = [f.endpoint, other];
    const first = await f.create({ owner: 'alice' });
    await f.clock.pass(5);
    const { job: running } = await f.claimNew(LONG, { owner: 'alice' });
    await f.clock.pass(5);
    const anonymous = await f.createIn(other, { owner: null });
    await f.clock.pass(5);
    const bobs = await f.createIn(other, { owner: 'bob' });
    await f.repo.requestCancel(bobs.id, { retentionMs: LONG, error: problem('canceled') });

    const search = async (query: Omit<SearchQuery, 'limit' | 'endpoints'>) =>
      ids((await f.repo.search({ endpoints, limit: 10, ...query })).jobs);
    expect(await search({ owner: 'alice' })).toEqual([running.id, first.id]);
    expect(await search({ owner: null })).toEqual([anonymous.id]);
    expect(await search({ owner: 'nobody' })).toEqual([]);
    expect(await search({})).toEqual([bobs.id, anonymous.id, running.id, first.id]);
    expect(await search({ status: 'running' })).toEqual([running.id]);
    expect(await search({ status: 'canceled', owner: 'bob' })).toEqual([bobs.id]);
    expect(await search({ status: 'succeeded' })).toEqual([]);
    expect(await search({ createdFrom: running.createdAt })).toEqual([bobs.id, anonymous.id, running.id]);
    expect(await search({ createdBefore: anonymous.createdAt })).toEqual([running.id, first.id]);
    expect(await search({ createdFrom: running.createdAt, createdBefore: anonymous.createdAt })).toEqual([
      running.id,
    ]);
  });

  test('pages with cursors cover every matching job exactly once, in order (30 jobs, limit 7)', async (f) => {
    const other = f.newEndpoint();
    const wanted = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const job = await f.createIn(i % 2 === 0 ? f.endpoint : other, { owner: i % 3 === 0 ? 'x' : 'y' });
      if (job.owner === 'y') wanted.add(job.id);
      if (i % 4 === 0) await f.clock.pass(1);
    }
    const all = await allPages(f, { endpoints: [f.endpoint, other], limit: 7 });
    expect(all.sizes).toEqual([7, 7, 7, 7, 2]);
    expect(new Set(ids(all.jobs)).size).toBe(30);
    expectNewestFirst(all.jobs);

    const owned = await allPages(f, { endpoints: [f.endpoint, other], owner: 'y', limit: 7 });
    expect(ids(owned.jobs).sort()).toEqual([...wanted].sort());
    expectNewestFirst(owned.jobs);
    const one = await allPages(f, { endpoints: [other], owner: 'y', limit: 3 });
    expect(ids(one.jobs).sort()).toEqual(
      owned.jobs
        .filter((job) => job.endpoint === other)
        .map((job) => job.id)
        .sort(),
    );
  });

  test('leaves out expired jobs; refuses an unknown status', async (f) => {
    const expired = await f.expiringJob('failed');
    const kept = await f.create();
    await f.clock.pass(SHORT);
    expect(ids((await f.repo.search({ endpoints: [f.endpoint], limit: 10 })).jobs)).toEqual([kept.id]);
    expect(ids((await f.repo.search({ endpoints: [f.endpoint], limit: 10 })).jobs)).not.toContain(expired);
    await expect(
      f.repo.search({ endpoints: [f.endpoint], limit: 10, status: 'lost' as never }),
    ).rejects.toMatchObject({ name: 'InvalidInputError' });
  });
});

/** Settles a new job of `endpoint` after it ran `runMs` (by the repository's clock). */
async function finish(
  f: RepositoryFixture,
  endpoint: string,
  status: 'succeeded' | 'failed',
  runMs: number,
  owner: string | null = null,
) {
  const job = await f.createIn(endpoint, { owner });
  const claimed = await f.claim(job.id);
  await f.clock.pass(runMs);
  const outcome =
    status === 'succeeded'
      ? { status, output: { ok: true }, retentionMs: LONG }
      : { status, error: problem('job_failed'), retentionMs: LONG };
  expect(await f.settle(job.id, claimed!.leaseToken!, outcome)).toBe(true);
  return job;
}

function only(stats: EndpointStats[], endpoint: string): EndpointStats {
  const found = stats.find((entry) => entry.endpoint === endpoint);
  if (!found) throw new Error(`no stats for ${endpoint}`);
  return found;
}

/** `stats`: per endpoint, live jobs now and the final ones of a window, by bucket, with run-time percentiles. */
export const describeStatsContract: SubSuite = subSuite('stats', ({ test, clockTest }) => {
  test('counts queued and running jobs now and final jobs of the window; run times of those that ran', async (f) => {
    const since = new Date(f.clock.read() - 3_600_000);
    const empty = f.newEndpoint();
    await f.create();
    await f.dispatch();
    await f.create();
    await f.claimNew();
    await finish(f, f.endpoint, 'succeeded', 5);
    await finish(f, f.endpoint, 'failed', 5);
    const canceled = await f.create();
    await f.repo.requestCancel(canceled.id, { retentionMs: LONG, error: problem('canceled') });

    const stats = await f.repo.stats({ endpoints: [f.endpoint, empty], since, bucketMs: 60_000 });
    expect(stats.map((entry) => entry.endpoint)).toEqual([f.endpoint]);
    const entry = stats[0]!;
    expect(entry.counts).toEqual({ queued: 2, running: 1, succeeded: 1, failed: 1, canceled: 1 });
    const sum = (key: 'succeeded' | 'failed' | 'canceled') =>
      entry.buckets.reduce((total, bucket) => total + bucket[key], 0);
    expect([sum('succeeded'), sum('failed'), sum('canceled')]).toEqual([1, 1, 1]);
    for (const bucket of entry.buckets) {
      const offset = bucket.start.getTime() - since.getTime();
      expect(offset % 60_000).toBe(0);
      expect(offset).toBeGreaterThanOrEqual(0);
    }
    expect(entry.runTime?.count).toBe(2);
    const { p50, p90, p99, max } = entry.runTime!;
    expect(p50).toBeGreaterThanOrEqual(0);
    expect(p50 <= p90 && p90 <= p99 && p99 <= max).toBe(true);
    expect(await f.repo.stats({ endpoints: [], since, bucketMs: 60_000 })).toEqual([]);
  });

  test('filters by owner; leaves out expired jobs', async (f) => {
    const since = new Date(f.clock.read() - 3_600_000);
    await finish(f, f.endpoint, 'succeeded', 1, 'alice');
    await finish(f, f.endpoint, 'failed', 1, 'bob');
    await f.create({ owner: null });
    await f.expiringJob('succeeded');
    await f.clock.pass(SHORT);
    const counts = async (owner: string | null | undefined) =>
      (await f.repo.stats({ endpoints: [f.endpoint], owner, since, bucketMs: 60_000 }))[0]?.counts;
    expect(await counts(undefined)).toEqual({ queued: 1, running: 0, succeeded: 1, failed: 1, canceled: 0 });
    expect(await counts('alice')).toEqual({ queued: 0, running: 0, succeeded: 1, failed: 0, canceled: 0 });
    expect(await counts(null)).toEqual({ queued: 1, running: 0, succeeded: 0, failed: 0, canceled: 0 });
    expect(await counts('nobody')).toBeUndefined();
  });

  clockTest(
    'buckets by finish time from the window start; nearest-rank percentiles; earlier jobs left out',
    async (f) => {
      const other = f.newEndpoint();
      await finish(f, f.endpoint, 'succeeded', 50);
      await f.clock.pass(10);
      const since = new Date(f.clock.read());
      await f.create();
      await finish(f, f.endpoint, 'succeeded', 100); // finishes at since + 100
      await finish(f, f.endpoint, 'failed', 200); // + 300
      await finish(f, f.endpoint, 'succeeded', 300); // + 600
      const canceled = await f.create();
      await f.repo.requestCancel(canceled.id, { retentionMs: LONG, error: problem('canceled') }); // + 600
      await finish(f, other, 'succeeded', 1_000); // + 1600

      const stats = await f.repo.stats({ endpoints: [f.endpoint, other], since, bucketMs: 250 });
      expect(stats.map((entry) => entry.endpoint)).toEqual([f.endpoint, other].sort());
      const at = (ms: number) => new Date(since.getTime() + ms);
      expect(only(stats, f.endpoint)).toEqual({
        endpoint: f.endpoint,
        counts: { queued: 1, running: 0, succeeded: 2, failed: 1, canceled: 1 },
        buckets: [
          { start: at(0), succeeded: 1, failed: 0, canceled: 0 },
          { start: at(250), succeeded: 0, failed: 1, canceled: 0 },
          { start: at(500), succeeded: 1, failed: 0, canceled: 1 },
        ],
        runTime: { count: 3, p50: 200, p90: 300, p99: 300, max: 300 },
      });
      expect(only(stats, other)).toEqual({
        endpoint: other,
        counts: { queued: 0, running: 0, succeeded: 1, failed: 0, canceled: 0 },
        buckets: [{ start: at(1500), succeeded: 1, failed: 0, canceled: 0 }],
        runTime: { count: 1, p50: 1_000, p90: 1_000, p99: 1_000, max: 1_000 },
      });
    },
  );
});
