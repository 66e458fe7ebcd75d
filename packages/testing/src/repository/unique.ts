import { type CreateResult, type NewJob, NO_LIMITS } from '@jobs/core';
import { expect } from 'vitest';
import { makeNewJob, problem } from '../helpers.js';
import {
  finalOutcome,
  LONG,
  type RepositoryFixture,
  retry,
  type SubSuite,
  subSuite,
  unwrap,
} from './fixture.js';

/** One create of this test's endpoint; its result. */
async function createOne(f: RepositoryFixture, overrides: Partial<NewJob>): Promise<CreateResult> {
  return unwrap((await f.repo.create([makeNewJob(f.endpoint, overrides)]))[0]);
}

/** The live (queued or running) jobs of this test's endpoint and owner. */
async function liveJobs(f: RepositoryFixture, owner: string | null = null) {
  const page = await f.repo.list({ endpoint: f.endpoint, owner, limit: 100 });
  return page.jobs.filter((job) => job.status === 'queued' || job.status === 'running');
}

/**
 * Unique jobs (`NewJob.uniqueKey`): at most one queued or running job per (endpoint, owner, uniqueKey). A create
 * whose key a live job holds stores nothing and returns that job; a final or removed job holds its key no more;
 * an idempotency key answers first; a retry never makes two live jobs of one key.
 */
export const describeUniqueContract: SubSuite = subSuite('unique jobs', ({ test }) => {
  test('a create whose unique key a queued or running job holds returns that job and stores nothing', async (f) => {
    const first = await f.create({ uniqueKey: 'report-1', input: { n: 1 } });
    const other = makeNewJob(f.endpoint, { uniqueKey: 'report-1', input: { n: 2 } });
    const [again] = await f.repo.create([other]);
    expect(unwrap(again)).toEqual({ job: first, created: false, reason: 'unique' });
    expect(await f.repo.get(other.id)).toBeNull();

    // Running, and queued again for a retry of its attempt: still live, still holding the key.
    const claimed = await f.claim(first.id);
    expect(await createOne(f, { uniqueKey: 'report-1' })).toMatchObject({
      created: false,
      reason: 'unique',
      job: { id: first.id, status: 'running' },
    });
    await f.settle(first.id, claimed!.leaseToken!, retry(0));
    expect(await createOne(f, { uniqueKey: 'report-1' })).toMatchObject({
      created: false,
      reason: 'unique',
      job: { id: first.id, status: 'queued' },
    });
    expect((await liveJobs(f)).map((job) => job.id)).toEqual([first.id]);
  });

  test('another owner, endpoint or key does not collide; a null owner counts as one owner', async (f) => {
    const alice = await f.create({ owner: 'alice', uniqueKey: 'k' });
    const bob = await createOne(f, { owner: 'bob', uniqueKey: 'k' });
    expect(bob.created).toBe(true);
    expect(bob.job.id).not.toBe(alice.id);
    expect((await createOne(f, { owner: 'alice', uniqueKey: 'k2' })).created).toBe(true);
    const elsewhere = f.newEndpoint();
    const [inOther] = await f.repo.create([makeNewJob(elsewhere, { owner: 'alice', uniqueKey: 'k' })]);
    expect(unwrap(inOther).created).toBe(true);
    const anonymous = await f.create({ uniqueKey: 'k' });
    expect(anonymous.id).not.toBe(alice.id);
    expect(await createOne(f, { owner: null, uniqueKey: 'k' })).toMatchObject({
      created: false,
      job: { id: anonymous.id, owner: null },
    });
    // An owner never receives another owner's job.
    expect(await createOne(f, { owner: 'alice', uniqueKey: 'k' })).toMatchObject({
      created: false,
      job: { id: alice.id, owner: 'alice' },
    });
    // Jobs without a unique key never collide.
    expect((await createOne(f, {})).created).toBe(true);
    expect((await createOne(f, {})).created).toBe(true);
  });

  test('once the job is final (succeeded, failed, canceled) or removed, the key makes a new job', async (f) => {
    for (const status of ['succeeded', 'failed', 'canceled'] as const) {
      const key = `final-${status}`;
      const first = await f.create({ uniqueKey: key });
      const claimed = await f.claim(first.id);
      expect(await f.settle(first.id, claimed!.leaseToken!, finalOutcome(status, LONG))).toBe(true);
      const next = await createOne(f, { uniqueKey: key });
      expect(next.created, status).toBe(true);
      expect(next.job.id).not.toBe(first.id);
    }
    const canceled = await f.create({ uniqueKey: 'canceled-while-queued' });
    await f.repo.requestCancel(canceled.id, { retentionMs: LONG, error: problem('canceled') });
    expect((await createOne(f, { uniqueKey: 'canceled-while-queued' })).created).toBe(true);

    const removed = await f.create({ uniqueKey: 'removed' });
    await f.repo.requestCancel(removed.id, { retentionMs: LONG, error: problem('canceled') });
    expect(await f.repo.remove(removed.id)).not.toBeNull();
    const after = await createOne(f, { uniqueKey: 'removed' });
    expect(after.created).toBe(true);
    // The new job holds the key now.
    expect(await createOne(f, { uniqueKey: 'removed' })).toMatchObject({
      created: false,
      job: { id: after.job.id },
    });
  });

  test('of 20 concurrent creates with one unique key exactly one creates, and all return its job', async (f) => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        f.repo.create([makeNewJob(f.endpoint, { owner: 'racer', uniqueKey: 'same', input: { i } })]),
      ),
    );
    const values = results.map(([result]) => unwrap(result));
    const created = values.filter((value) => value.created);
    expect(created).toHaveLength(1);
    const winner = created[0]!.job.id;
    for (const value of values) {
      expect(value.job.id).toBe(winner);
      if (!value.created) expect(value.reason).toBe('unique');
    }
    expect((await liveJobs(f, 'racer')).map((job) => job.id)).toEqual([winner]);
  });

  test('a batch with a repeated unique key: the first item creates, the later ones return it', async (f) => {
    const jobs = [
      makeNewJob(f.endpoint, { uniqueKey: 'twice', input: { n: 1 } }),
      makeNewJob(f.endpoint, { uniqueKey: 'other' }),
      makeNewJob(f.endpoint, { uniqueKey: 'twice', input: { n: 2 } }),
      makeNewJob(f.endpoint, { uniqueKey: 'twice', input: { n: 3 } }),
    ];
    const [a, other, b, c] = (await f.repo.create(jobs)).map(unwrap);
    expect(a).toMatchObject({ created: true, job: { id: jobs[0]!.id } });
    expect(other).toMatchObject({ created: true, job: { id: jobs[1]!.id } });
    expect(b).toEqual({ created: false, reason: 'unique', job: a!.job });
    expect(c).toEqual({ created: false, reason: 'unique', job: a!.job });
    expect(await f.repo.get(jobs[2]!.id)).toBeNull();
    expect(await f.repo.get(jobs[3]!.id)).toBeNull();
    expect((await liveJobs(f)).map((job) => job.id).sort()).toEqual([jobs[0]!.id, jobs[1]!.id].sort());
  });

  test('an idempotency key answers before the unique key', async (f) => {
    const original = await f.create({ idempotencyKey: 'idem', inputHash: 'h', uniqueKey: 'u' });
    // The same idempotency key with another unique key: the original, as a replay.
    expect(await createOne(f, { idempotencyKey: 'idem', inputHash: 'h', uniqueKey: 'u2' })).toEqual({
      job: original,
      created: false,
      reason: 'idempotent',
    });
    // A new idempotency key, the unique key held: the holder, for its unique key (nothing stored under 'idem2').
    const held = makeNewJob(f.endpoint, { idempotencyKey: 'idem2', inputHash: 'h', uniqueKey: 'u' });
    expect(unwrap((await f.repo.create([held]))[0])).toEqual({
      job: original,
      created: false,
      reason: 'unique',
    });
    expect(await f.repo.get(held.id)).toBeNull();
    // Once final, the original still answers its idempotency key, but no longer holds the unique key.
    const claimed = await f.claim(original.id);
    await f.settle(original.id, claimed!.leaseToken!, finalOutcome('succeeded', LONG));
    expect(await createOne(f, { idempotencyKey: 'idem', inputHash: 'h', uniqueKey: 'u' })).toMatchObject({
      created: false,
      reason: 'idempotent',
      job: { id: original.id, status: 'succeeded' },
    });
    expect((await createOne(f, { idempotencyKey: 'idem3', inputHash: 'h', uniqueKey: 'u' })).created).toBe(
      true,
    );
    // Two items of one batch: the first's idempotency key answers the second before its unique key does.
    const [x, y] = (
      await f.repo.create([
        makeNewJob(f.endpoint, { idempotencyKey: 'batch', inputHash: 'h', uniqueKey: 'bu' }),
        makeNewJob(f.endpoint, { idempotencyKey: 'batch', inputHash: 'h', uniqueKey: 'bu' }),
      ])
    ).map(unwrap);
    expect([x!.created, y!.created].sort()).toEqual([false, true]);
    const replay = x!.created ? y! : x!;
    expect(replay).toMatchObject({ reason: 'idempotent' });
  });

  test('a retry while another live job holds the unique key is refused with that job and changes nothing', async (f) => {
    const failed = await f.create({ owner: 'o', uniqueKey: 'u' });
    const claimed = await f.claim(failed.id);
    await f.settle(failed.id, claimed!.leaseToken!, finalOutcome('failed', LONG));
    const before = await f.mustGet(failed.id);
    const holder = await f.create({ owner: 'o', uniqueKey: 'u' });

    const refused = await f.repo.retry(failed.id, { attempts: 1 });
    expect(refused).toEqual({ retried: false, job: await f.header(failed.id), uniqueConflict: holder.id });
    expect(await f.mustGet(failed.id)).toEqual(before);

    // Once the holder is final, the retry goes through, and the retried job holds the key.
    await f.repo.requestCancel(holder.id, { retentionMs: LONG, error: problem('canceled') });
    const retried = await f.repo.retry(failed.id, { attempts: 1 });
    expect(retried).toMatchObject({ retried: true, job: { id: failed.id, status: 'queued' } });
    expect(retried!.uniqueConflict).toBeUndefined();
    expect(await createOne(f, { owner: 'o', uniqueKey: 'u' })).toMatchObject({
      created: false,
      reason: 'unique',
      job: { id: failed.id },
    });
    // The canceled holder cannot come back while the retried job holds the key.
    expect(await f.repo.retry(holder.id, { attempts: 1 })).toMatchObject({
      retried: false,
      uniqueConflict: failed.id,
    });
    // Another owner's job with the same key is no conflict.
    const foreign = await f.create({ owner: 'p', uniqueKey: 'u' });
    await f.repo.requestCancel(foreign.id, { retentionMs: LONG, error: problem('canceled') });
    expect(await f.repo.retry(foreign.id, { attempts: 1 })).toMatchObject({ retried: true });
  });

  test('a retry racing a create of the same unique key leaves exactly one live job', async (f) => {
    for (let round = 0; round < 5; round++) {
      const key = `race-${round}`;
      const failed = await f.create({ uniqueKey: key });
      const claimed = await f.claim(failed.id);
      await f.settle(failed.id, claimed!.leaseToken!, finalOutcome('failed', LONG));
      const [retried, [created]] = await Promise.all([
        f.repo.retry(failed.id, { attempts: 1 }),
        f.repo.create([makeNewJob(f.endpoint, { uniqueKey: key })]),
      ]);
      const result = unwrap(created);
      if (retried!.retried) {
        expect(result).toMatchObject({ created: false, reason: 'unique', job: { id: failed.id } });
      } else {
        expect(result.created).toBe(true);
        expect(retried!.uniqueConflict).toBe(result.job.id);
        expect(await f.header(failed.id)).toMatchObject({ status: 'failed' });
      }
      const live = (await liveJobs(f)).filter((job) => job.id === failed.id || job.id === result.job.id);
      expect(live).toHaveLength(1);
    }
  });

  test('a unique job with flow limits is handed out by the limited dispatch like any keyed job', async (f) => {
    // A higher priority makes the order of the two jobs certain (they may be created in one millisecond).
    const first = await f.create({ uniqueKey: 'u', limitKey: 'tenant', priority: 1 });
    expect(await createOne(f, { uniqueKey: 'u', limitKey: 'tenant' })).toMatchObject({
      created: false,
      job: { id: first.id },
    });
    const second = await f.create({ uniqueKey: 'v', limitKey: 'tenant' });
    const limits = { ...NO_LIMITS, concurrency: 1 };
    expect((await f.dispatch({})).items).toEqual([]);
    expect((await f.dispatch({ limits })).items.map((item) => item.id)).toEqual([first.id]);
    expect((await f.dispatch({ limits })).items).toEqual([]);
    const claimed = await f.claim(first.id);
    await f.settle(first.id, claimed!.leaseToken!, finalOutcome('succeeded', LONG));
    expect((await f.dispatch({ limits })).items.map((item) => item.id)).toEqual([second.id]);
    // The key is free once its job is final.
    expect((await createOne(f, { uniqueKey: 'u', limitKey: 'tenant' })).created).toBe(true);
  });
});
