import type { DispatchItem, JobRecord } from '@jobs/core';
import { expect } from 'vitest';
import { deferred, delay, makeNewJob } from '../helpers.js';
import type { ContractSuite, RepositoryFixture } from './fixture.js';
import { retry, SHORT, unwrap } from './fixture.js';

/** Lets a claim started inside `publish` proceed when the store lets it (a store may hold it until recorded). */
const CLAIM_HEAD_START_MS = 50;

async function createJobs(f: RepositoryFixture, count: number) {
  const jobs = [];
  for (let i = 0; i < count; i++) jobs.push(await f.create());
  return jobs;
}

/** The tests of what `dispatch` records around `publish` (registered by describeDispatchContract). */
export function dispatchPublishTests({ test }: ContractSuite): void {
  test('holds the jobs while publish runs: a concurrent dispatch skips them', async (f) => {
    const jobs = await createJobs(f, 3);
    const ids = jobs.map((job) => job.id).sort();
    const published = deferred();
    const release = deferred();
    const first = f.dispatch({}, async (items) => {
      published.resolve();
      await release.promise;
      return items.map(() => true);
    });
    await published.promise;
    try {
      const second = await f.dispatch({ redispatchAfterMs: 0 });
      expect(second.items.map((item) => item.id)).toEqual([]);
      expect(second.dispatched).toBe(0);
    } finally {
      release.resolve();
    }
    const result = await first;
    expect(result.items.map((item) => item.id).sort()).toEqual(ids);
    expect(result.dispatched).toBe(3);
    for (const job of jobs) expect((await f.header(job.id))?.dispatchedAt).toBeInstanceOf(Date);
    expect((await f.dispatch()).found).toBe(0);
  });

  test('hands out each job once however many dispatchers run at the same time', async (f) => {
    const ids = (await f.repo.create(Array.from({ length: 20 }, () => makeNewJob(f.endpoint)))).map(
      (result) => unwrap(result).job.id,
    );
    const published: string[] = [];
    const publish = async (items: readonly DispatchItem[]) => {
      await delay(1);
      published.push(...items.map((item) => item.id));
      return items.map(() => true);
    };
    const results = await Promise.all(Array.from({ length: 6 }, () => f.dispatch({ limit: 5 }, publish)));
    // A last pass takes whatever the concurrent ones left (none should be left, but none may be lost either).
    await f.dispatch({}, publish);
    expect([...published].sort()).toEqual([...ids].sort());
    expect(results.reduce((sum, result) => sum + result.dispatched, 0)).toBeLessThanOrEqual(20);
    for (const id of ids) expect((await f.header(id))?.dispatchedAt).toBeInstanceOf(Date);
  });

  test('a publish that rejects records nothing: the jobs stay dispatchable (a crash between claim and publish)', async (f) => {
    const jobs = await createJobs(f, 2);
    const failure = new Error('broker down');
    const outcome = await f
      .dispatch({}, () => Promise.reject(failure))
      .then(
        () => null,
        (error: unknown) => error,
      );
    if (outcome !== null) expect(outcome).toBe(failure);
    for (const job of jobs) expect((await f.header(job.id))?.dispatchedAt).toBeNull();
    const again = await f.dispatch();
    expect(again.items.map((item) => item.id).sort()).toEqual(jobs.map((job) => job.id).sort());
    expect(again.dispatched).toBe(2);
  });

  test('records only the items whose publish entry is true; the others stay dispatchable', async (f) => {
    await createJobs(f, 3);
    const answers = [true, false, true];
    const result = await f.dispatch({}, () => answers);
    expect(result).toMatchObject({ found: 3, dispatched: 2 });
    const [a, b, c] = result.items.map((item) => item.id);
    expect((await f.header(a!))?.dispatchedAt).toBeInstanceOf(Date);
    expect((await f.header(b!))?.dispatchedAt).toBeNull();
    expect((await f.header(c!))?.dispatchedAt).toBeInstanceOf(Date);
    const again = await f.dispatch();
    expect(again.items.map((item) => item.id)).toEqual([b]);

    // An answer too short counts as false for the items it does not cover.
    const [d] = await createJobs(f, 1);
    expect(await f.dispatch({}, () => [])).toMatchObject({ found: 1, dispatched: 0 });
    expect((await f.header(d!.id))?.dispatchedAt).toBeNull();
  });

  test('a job claimed while its dispatch publishes is not marked; the others are', async (f) => {
    const [claimedJob, other] = await createJobs(f, 2);
    let claim: Promise<JobRecord | null> | undefined;
    const result = await f.dispatch({}, async (items) => {
      // A worker got the message before publish returned. The store may hold the claim until the dispatch is
      // recorded; either way the claim must leave the job undispatched.
      claim = f.claim(claimedJob!.id);
      await Promise.race([claim, delay(CLAIM_HEAD_START_MS)]);
      return items.map(() => true);
    });
    expect(result.found).toBe(2);
    expect(await claim).toMatchObject({ status: 'running', attempt: 1 });
    expect(await f.header(claimedJob!.id)).toMatchObject({ status: 'running', dispatchedAt: null });
    expect((await f.header(other!.id))?.dispatchedAt).toBeInstanceOf(Date);
  });

  test('a job claimed and retried while its dispatch publishes is not marked, and is handed out once due', async (f) => {
    const [job] = await createJobs(f, 1);
    let retried: Promise<boolean> | undefined;
    await f.dispatch({}, async (items) => {
      retried = (async () => {
        const claimed = await f.claim(job!.id);
        const requeue = retry(SHORT, { error: null });
        return f.settle(job!.id, claimed!.leaseToken!, requeue);
      })();
      await Promise.race([retried, delay(CLAIM_HEAD_START_MS)]);
      return items.map(() => true);
    });
    expect(await retried).toBe(true);
    expect(await f.header(job!.id)).toMatchObject({ status: 'queued', attempt: 1, dispatchedAt: null });
    await f.clock.pass(SHORT);
    expect((await f.dispatch()).items.map((item) => item.id)).toEqual([job!.id]);
  });

  test('dispatch leaves updatedAt as it is and announces nothing', async (f) => {
    const watch = await f.watch();
    const queued = await f.create();
    const { job: running } = await f.claimNew(SHORT);
    await watch.next(running.id, 'the claim', (change) => change.status === 'running');
    await f.clock.pass(SHORT);
    const before = [await f.header(queued.id), await f.header(running.id)];
    const heard = watch.changes.length;

    expect((await f.dispatch()).dispatched).toBe(2);
    await watch.barrier();
    const after = [await f.header(queued.id), await f.header(running.id)];
    for (const [i, job] of after.entries()) {
      expect(job?.dispatchedAt).toBeInstanceOf(Date);
      expect(job?.updatedAt).toEqual(before[i]!.updatedAt);
    }
    // Only the marker job of the barrier was announced since.
    expect(
      watch.changes.slice(heard).filter((change) => change.id === queued.id || change.id === running.id),
    ).toEqual([]);
  });
}
