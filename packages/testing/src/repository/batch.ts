import type { JobRecord, SettleRequest } from '@jobs/core';
import { newJobId, newLeaseToken } from '@jobs/core';
import { expect } from 'vitest';
import { makeNewJob, problem } from '../helpers.js';
import {
  expectInvalidItem,
  LONG,
  type RepositoryFixture,
  type SubSuite,
  subSuite,
  unwrap,
} from './fixture.js';

const SUCCEEDED = { status: 'succeeded', output: 'ok', retentionMs: LONG } as const;

async function runningJobs(f: RepositoryFixture, count: number) {
  const jobs: Array<{ job: JobRecord; token: string }> = [];
  for (let i = 0; i < count; i++) jobs.push(await f.claimNew());
  return jobs;
}

/**
 * The batch calls (`create`, `claim`, `heartbeat`, `settle`): one result per item in request order, each item
 * judged on its own as if it were alone.
 */
export const describeBatchContract: SubSuite = subSuite('batches', ({ test }) => {
  test('one result per item, in request order; an empty batch gives none', async (f) => {
    const jobs = Array.from({ length: 50 }, (_, i) => makeNewJob(f.endpoint, { input: { i } }));
    const created = (await f.repo.create(jobs)).map(unwrap);
    expect(created.map((r) => [r.created, r.job.id])).toEqual(jobs.map((job) => [true, job.id]));
    const requests = jobs.map((job) => ({ id: job.id, leaseToken: newLeaseToken(), leaseMs: LONG }));
    const claimed = await f.repo.claim([...requests].reverse());
    expect(claimed.map((job) => [job?.id, job?.leaseToken, job?.input])).toEqual(
      [...requests].reverse().map((r, i) => [r.id, r.leaseToken, { i: jobs.length - 1 - i }]),
    );
    const beats = await f.repo.heartbeat(requests.map((r) => ({ ...r, progress: { fraction: 0.5 } })));
    expect(beats.map(unwrap)).toEqual(requests.map(() => ({ held: true, cancelRequested: false })));
    const settled = await f.repo.settle(requests.map((r) => ({ ...r, outcome: SUCCEEDED })));
    expect(settled.map(unwrap)).toEqual(requests.map(() => true));
    for (const job of jobs) expect(await f.header(job.id)).toMatchObject({ status: 'succeeded' });

    expect(await f.repo.create([])).toEqual([]);
    expect(await f.repo.claim([])).toEqual([]);
    expect(await f.repo.heartbeat([])).toEqual([]);
    expect(await f.repo.settle([])).toEqual([]);
  });

  test('a create batch with invalid items refuses those with InvalidInputError and stores the others', async (f) => {
    const jobs = [
      makeNewJob(f.endpoint, { input: { n: 1 } }),
      makeNewJob(f.endpoint, { input: { text: 'nul \u0000 char' } }),
      makeNewJob(f.endpoint, { input: { n: 3 } }),
      makeNewJob(f.endpoint, { owner: 'lone \uD800 surrogate' }),
    ];
    const results = await f.repo.create(jobs);
    expect(results).toHaveLength(4);
    expect(unwrap(results[0]).job.id).toBe(jobs[0]!.id);
    expectInvalidItem(results[1]);
    expect(unwrap(results[2]).job.id).toBe(jobs[2]!.id);
    expectInvalidItem(results[3]);
    expect((await f.mustGet(jobs[0]!.id)).input).toEqual({ n: 1 });
    expect((await f.mustGet(jobs[2]!.id)).input).toEqual({ n: 3 });
    expect(await f.repo.get(jobs[1]!.id)).toBeNull();
    expect(await f.repo.get(jobs[3]!.id)).toBeNull();
  });

  test('two items with the same idempotency key: one is created, the other returns it', async (f) => {
    const jobs = [
      makeNewJob(f.endpoint, { owner: 'o', idempotencyKey: 'twice', input: { n: 1 } }),
      makeNewJob(f.endpoint, { owner: 'o', idempotencyKey: 'other' }),
      makeNewJob(f.endpoint, { owner: 'o', idempotencyKey: 'twice', input: { n: 2 } }),
    ];
    const [a, other, b] = (await f.repo.create(jobs)).map(unwrap);
    expect(other!.created).toBe(true);
    expect([a!.created, b!.created].sort()).toEqual([false, true]);
    expect(a!.job.id).toBe(b!.job.id);
    const winner = a!.created ? 0 : 2;
    expect(a!.job.id).toBe(jobs[winner]!.id);
    expect(await f.repo.get(jobs[2 - winner]!.id)).toBeNull();
    const page = await f.repo.list({ endpoint: f.endpoint, owner: 'o', limit: 10 });
    expect(page.jobs.map((job) => job.id).sort()).toEqual([a!.job.id, other!.job.id].sort());
  });

  test('two items with the same id: one is stored, the other refused with InvalidInputError', async (f) => {
    const id = newJobId();
    const results = await f.repo.create([
      makeNewJob(f.endpoint, { id, input: { n: 1 } }),
      makeNewJob(f.endpoint, { id, input: { n: 2 } }),
    ]);
    const stored = results.filter((result) => result.ok);
    expect(stored).toHaveLength(1);
    expectInvalidItem(results.find((result) => !result.ok));
    const winner = results[0]!.ok ? { n: 1 } : { n: 2 };
    expect((await f.mustGet(id)).input).toEqual(winner);
  });

  test('a claim batch straddling a cancel: the canceled job is null, the others are claimed', async (f) => {
    const [a, b, c] = [await f.create(), await f.create(), await f.create()];
    await f.repo.requestCancel(b.id, { retentionMs: LONG, error: problem('canceled') });
    const requests = [a, b, c].map((job) => ({ id: job.id, leaseToken: newLeaseToken(), leaseMs: LONG }));
    const [ca, cb, cc] = await f.repo.claim(requests);
    expect(ca).toMatchObject({ id: a.id, status: 'running', leaseToken: requests[0]!.leaseToken });
    expect(cb).toBeNull();
    expect(cc).toMatchObject({ id: c.id, status: 'running', leaseToken: requests[2]!.leaseToken });
    expect(await f.header(b.id)).toMatchObject({ status: 'canceled', attempt: 0, leaseToken: null });
  });

  test('the same job twice in one claim batch: exactly one wins', async (f) => {
    const [job, other] = [await f.create(), await f.create()];
    const requests = [job.id, job.id, other.id, job.id].map((id) => ({
      id,
      leaseToken: newLeaseToken(),
      leaseMs: LONG,
    }));
    const results = await f.repo.claim(requests);
    const winners = results.filter((r, i) => r !== null && requests[i]!.id === job.id);
    expect(winners).toHaveLength(1);
    expect(results[2]).toMatchObject({ id: other.id, attempt: 1 });
    expect(await f.header(job.id)).toMatchObject({ attempt: 1, leaseToken: winners[0]!.leaseToken });
  });

  test('a settle batch with a stale token records the others; the stale one is false and unchanged', async (f) => {
    const [a, b, c] = await runningJobs(f, 3);
    const before = await f.mustGet(b!.job.id);
    const results = await f.repo.settle([
      { id: a!.job.id, leaseToken: a!.token, outcome: SUCCEEDED },
      { id: b!.job.id, leaseToken: newLeaseToken(), outcome: SUCCEEDED },
      {
        id: c!.job.id,
        leaseToken: c!.token,
        outcome: { status: 'failed', error: problem('x'), retentionMs: LONG },
      },
    ]);
    expect(results.map(unwrap)).toEqual([true, false, true]);
    expect(await f.header(a!.job.id)).toMatchObject({ status: 'succeeded' });
    expect(await f.repo.get(b!.job.id)).toEqual(before);
    expect(await f.header(c!.job.id)).toMatchObject({ status: 'failed' });
  });

  test('a settle batch with an invalid output refuses that item with InvalidInputError and records the others', async (f) => {
    const [a, b, c] = await runningJobs(f, 3);
    const before = await f.mustGet(b!.job.id);
    const requests: SettleRequest[] = [
      { id: a!.job.id, leaseToken: a!.token, outcome: SUCCEEDED },
      { id: b!.job.id, leaseToken: b!.token, outcome: { ...SUCCEEDED, output: { text: 'lone \uDC00' } } },
      { id: c!.job.id, leaseToken: c!.token, outcome: SUCCEEDED },
    ];
    const results = await f.repo.settle(requests);
    expect(unwrap(results[0])).toBe(true);
    expectInvalidItem(results[1]);
    expect(unwrap(results[2])).toBe(true);
    expect(await f.repo.get(b!.job.id)).toEqual(before);
    // The refused item's job is still held: its worker can settle it with a value the store can hold.
    expect(await f.settle(b!.job.id, b!.token, SUCCEEDED)).toBe(true);
  });

  test('two outcomes for one job in one settle batch: exactly one is recorded', async (f) => {
    const { job, token } = await f.claimNew();
    const failed = { status: 'failed', error: problem('job_failed'), retentionMs: LONG } as const;
    const results = (
      await f.repo.settle([
        { id: job.id, leaseToken: token, outcome: SUCCEEDED },
        { id: job.id, leaseToken: token, outcome: failed },
      ])
    ).map(unwrap);
    expect([...results].sort()).toEqual([false, true]);
    expect(await f.header(job.id)).toMatchObject({ status: results[0] ? 'succeeded' : 'failed' });
  });

  test('a heartbeat batch judges each item alone', async (f) => {
    const [a, b] = await runningJobs(f, 2);
    const results = await f.repo.heartbeat([
      { id: a!.job.id, leaseToken: a!.token, leaseMs: LONG, progress: { fraction: 0.5 } },
      { id: b!.job.id, leaseToken: newLeaseToken(), leaseMs: LONG, progress: { fraction: 0.9 } },
      { id: newJobId(), leaseToken: a!.token, leaseMs: LONG },
      {
        id: b!.job.id,
        leaseToken: b!.token,
        leaseMs: LONG,
        progress: { fraction: 0.7, message: 'nul \u0000' },
      },
    ]);
    expect(unwrap(results[0])).toEqual({ held: true, cancelRequested: false });
    expect(unwrap(results[1]).held).toBe(false);
    expect(unwrap(results[2]).held).toBe(false);
    expectInvalidItem(results[3]);
    expect((await f.mustGet(a!.job.id)).progress).toEqual({ fraction: 0.5 });
    expect(await f.repo.get(b!.job.id)).toEqual(b!.job);
  });
});
