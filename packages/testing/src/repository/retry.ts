import { newJobId } from '@jobs/core';
import { expect } from 'vitest';
import { problem } from '../helpers.js';
import { LONG, type RepositoryFixture, SHORT, type SubSuite, subSuite } from './fixture.js';

/** A failed job whose run reported progress first (what a retry must clear). */
async function failedWithProgress(f: RepositoryFixture) {
  const { job, token } = await f.claimNew();
  await f.heartbeat(job.id, token, {
    progress: { fraction: 0.5, message: 'half' },
    estimatedRemainingMs: 5_000,
  });
  await f.settle(job.id, token, { status: 'failed', error: problem('job_failed'), retentionMs: LONG });
  return f.mustGet(job.id);
}

/** `retry`: failed or canceled → queued under the same id, by compare-and-set; anything else is left alone. */
export const describeRetryContract: SubSuite = subSuite('retry', ({ test, clockTest }) => {
  test('queues a failed job again: same id, due now, attempts granted, what the last run left cleared', async (f) => {
    const failed = await failedWithProgress(f);
    expect(failed).toMatchObject({ status: 'failed', attempt: 1, maxAttempts: 3 });
    await f.clock.pass(5);
    const result = await f.repo.retry(failed.id, { attempts: 2 });
    expect(result?.retried).toBe(true);
    const job = result!.job;
    expect(job).toMatchObject({
      id: failed.id,
      endpoint: failed.endpoint,
      status: 'queued',
      attempt: 1,
      maxAttempts: 3,
      error: null,
      progress: null,
      estimatedCompletionAt: null,
      startedAt: null,
      finishedAt: null,
      expiresAt: null,
      cancelRequested: false,
      dispatchedAt: null,
      leaseToken: null,
      leaseExpiresAt: null,
      owner: failed.owner,
      priority: failed.priority,
    });
    expect(job.createdAt).toEqual(failed.createdAt);
    f.expectNow(job.runAt);
    expect(job.updatedAt.getTime()).toBeGreaterThan(failed.updatedAt.getTime());
    expect(await f.header(failed.id)).toEqual(job);
    const stored = await f.mustGet(failed.id);
    expect(stored.output).toBeNull();
    expect(stored.input).toEqual(failed.input);

    // It runs again like any queued job, counting on from the attempts already made.
    const claimed = await f.claim(failed.id);
    expect(claimed).toMatchObject({ status: 'running', attempt: 2, maxAttempts: 3 });
  });

  test('queues a canceled job again and forgets the cancel request', async (f) => {
    const queued = await f.create();
    await f.repo.requestCancel(queued.id, { retentionMs: LONG, error: problem('canceled') });
    expect(await f.repo.retry(queued.id, { attempts: 3 })).toMatchObject({
      retried: true,
      job: { status: 'queued', attempt: 0, maxAttempts: 3, error: null, cancelRequested: false },
    });

    const { job: running, token } = await f.claimNew();
    await f.repo.requestCancel(running.id, { retentionMs: LONG, error: problem('canceled') });
    await f.settle(running.id, token, { status: 'canceled', error: problem('canceled'), retentionMs: LONG });
    expect(await f.header(running.id)).toMatchObject({ status: 'canceled', cancelRequested: true });
    const result = await f.repo.retry(running.id, { attempts: 1 });
    expect(result?.job).toMatchObject({
      status: 'queued',
      attempt: 1,
      maxAttempts: 2,
      cancelRequested: false,
    });
    const again = await f.claim(running.id);
    expect(again).toMatchObject({ status: 'running', attempt: 2, cancelRequested: false });
    expect(await f.heartbeat(running.id, again!.leaseToken!)).toEqual({ held: true, cancelRequested: false });
  });

  test('leaves queued, running and succeeded jobs as they are and says so', async (f) => {
    const queued = await f.create();
    const { job: running } = await f.claimNew();
    const succeeded = await f.finalJob('succeeded');
    for (const job of [queued, running, succeeded]) {
      const before = await f.mustGet(job.id);
      const result = await f.repo.retry(job.id, { attempts: 3 });
      expect(result, job.status).toEqual({ retried: false, job: await f.header(job.id) });
      expect(await f.repo.get(job.id), job.status).toEqual(before);
    }
  });

  test('is null for an unknown job', async (f) => {
    expect(await f.repo.retry(newJobId(), { attempts: 1 })).toBeNull();
    expect(await f.repo.retry('not a job id', { attempts: 1 })).toBeNull();
  });

  test('is null for an expired job, which stays expired', async (f) => {
    const id = await f.expiringJob('failed');
    await f.clock.pass(SHORT);
    expect(await f.repo.retry(id, { attempts: 1 })).toBeNull();
    expect(await f.header(id)).toBeNull();
  });

  test('refuses attempts that are not a positive integer, and changes nothing', async (f) => {
    const failed = await f.finalJob('failed');
    for (const attempts of [0, -1, 1.5, Number.NaN, 2_000_000]) {
      await expect(f.repo.retry(failed.id, { attempts }), String(attempts)).rejects.toMatchObject({
        name: 'InvalidInputError',
        code: 'invalid_input',
      });
    }
    expect(await f.repo.get(failed.id)).toEqual(failed);
  });

  test('of concurrent retries of one job, one retries it', async (f) => {
    const failed = await f.finalJob('failed');
    const results = await Promise.all(
      Array.from({ length: 5 }, () => f.repo.retry(failed.id, { attempts: 3 })),
    );
    expect(results.filter((result) => result?.retried)).toHaveLength(1);
    for (const result of results) expect(result?.job.status).toBe('queued');
  });

  test('a retried job is dispatched again, as never dispatched', async (f) => {
    const { job, token } = await f.claimNew();
    await f.settle(job.id, token, { status: 'failed', error: problem('job_failed'), retentionMs: LONG });
    expect((await f.dispatch()).items).toEqual([]);
    await f.repo.retry(job.id, { attempts: 1 });
    const dispatched = await f.dispatch();
    expect(dispatched.items).toEqual([{ id: job.id, endpoint: f.endpoint, traceContext: null }]);
    expect((await f.header(job.id))?.dispatchedAt).not.toBeNull();
  });

  test('is announced to subscribers as queued, with its runAt', async (f) => {
    const failed = await f.finalJob('failed');
    const watch = await f.watch();
    const result = await f.repo.retry(failed.id, { attempts: 1 });
    const change = await watch.next(failed.id, 'the retry', (c) => c.status === 'queued');
    expect(change).toMatchObject({
      status: 'queued',
      attempt: failed.attempt,
      cancelRequested: false,
      updatedAt: result!.job.updatedAt,
      runAt: result!.job.runAt,
    });
  });

  clockTest('a retried job no longer expires with its old retention', async (f) => {
    const id = await f.expiringJob('canceled');
    await f.repo.retry(id, { attempts: 1 });
    await f.clock.pass(SHORT);
    expect((await f.repo.deleteExpired(100)).map((job) => job.id)).not.toContain(id);
    expect(await f.header(id)).toMatchObject({ status: 'queued', expiresAt: null });
  });

  test('keeps the job in its owner list and holding its idempotency key', async (f) => {
    const job = await f.create({ owner: 'retrier', idempotencyKey: 'again' });
    await f.repo.requestCancel(job.id, { retentionMs: LONG, error: problem('canceled') });
    await f.repo.retry(job.id, { attempts: 1 });
    const page = await f.repo.list({ endpoint: f.endpoint, owner: 'retrier', limit: 10, status: 'queued' });
    expect(page.jobs.map((listed) => listed.id)).toEqual([job.id]);
    const [replay] = await f.repo.create([
      {
        id: newJobId(),
        endpoint: f.endpoint,
        input: { value: 1 },
        owner: 'retrier',
        idempotencyKey: 'again',
        inputHash: null,
        maxAttempts: 3,
      },
    ]);
    expect(replay).toMatchObject({ ok: true, value: { created: false, job: { id: job.id } } });
  });
});
