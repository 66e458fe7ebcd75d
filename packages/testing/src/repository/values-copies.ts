import type { JobRecord, JobRecordHeader } from '@jobs/core';
import { newLeaseToken } from '@jobs/core';
import { expect } from 'vitest';
import { makeNewJob, problem } from '../helpers.js';
import { deleteUntilGone } from './expiry.js';
import { type ContractSuite, LONG, type RepositoryFixture, SHORT, unwrap } from './fixture.js';

/** Changes every mutable part of a job the caller was handed. */
function vandalize(job: JobRecordHeader | JobRecord): void {
  job.status = 'failed';
  job.attempt = 99;
  job.createdAt.setTime(0);
  job.updatedAt.setTime(0);
  job.runAt.setTime(0);
  job.finishedAt?.setTime(0);
  job.expiresAt?.setTime(0);
  if (job.progress) job.progress.message = 'vandalized';
  if (job.error) job.error.detail = 'vandalized';
  if ('input' in job && job.input && typeof job.input === 'object')
    (job.input as Record<string, unknown>).x = 1;
  if ('output' in job && job.output && typeof job.output === 'object')
    (job.output as Record<string, unknown>).x = 1;
}

async function claimOneCleanup(f: RepositoryFixture) {
  const leaseToken = newLeaseToken();
  const [cleanup] = await f.repo.claimCleanups({
    endpoints: [f.endpoint],
    limit: 10,
    leaseMs: LONG,
    leaseToken,
  });
  if (!cleanup) throw new Error('a pending cleanup should be due');
  return { cleanup, leaseToken };
}

/** Copies in and out (registered by describeValueContract). */
export function valueCopyTests({ test }: ContractSuite): void {
  test('copies in: changing what was passed to create, heartbeat, settle or requestCancel changes nothing', async (f) => {
    const input = { list: [1, 2], nested: { value: 'a' } };
    const newJob = makeNewJob(f.endpoint, { input, owner: 'owner' });
    await f.repo.create([newJob]);
    input.list.push(3);
    input.nested.value = 'changed';
    newJob.owner = 'someone else';
    expect(await f.mustGet(newJob.id)).toMatchObject({
      input: { list: [1, 2], nested: { value: 'a' } },
      owner: 'owner',
    });

    const token = (await f.claim(newJob.id))!.leaseToken!;
    const progress = { fraction: 0.5, message: 'half' };
    await f.heartbeat(newJob.id, token, { progress });
    progress.fraction = 0.9;
    expect((await f.mustGet(newJob.id)).progress).toEqual({ fraction: 0.5, message: 'half' });

    const output = { files: ['a.txt'] };
    await f.settle(newJob.id, token, { status: 'succeeded', output, retentionMs: LONG });
    output.files.push('b.txt');
    expect((await f.mustGet(newJob.id)).output).toEqual({ files: ['a.txt'] });

    const failing = await f.claimNew();
    const error = problem('job_failed');
    await f.settle(failing.job.id, failing.token, { status: 'failed', error, retentionMs: LONG });
    error.detail = 'changed';
    expect((await f.mustGet(failing.job.id)).error).toEqual(problem('job_failed'));

    const queued = await f.create();
    const cancelError = problem('canceled');
    await f.repo.requestCancel(queued.id, { retentionMs: LONG, error: cancelError });
    cancelError.detail = 'changed';
    expect((await f.mustGet(queued.id)).error).toEqual(problem('canceled'));
  });

  test('copies out: mutating what create, get, list, claim and requestCancel return changes nothing stored', async (f) => {
    const [result] = await f.repo.create([makeNewJob(f.endpoint, { input: { list: [1] } })]);
    const { job } = unwrap(result);
    const stored = await f.mustGet(job.id);
    vandalize(job);
    vandalize(stored);
    const header = await f.header(job.id);
    vandalize(header!);
    vandalize((await f.repo.list({ endpoint: f.endpoint, owner: null, limit: 10 })).jobs[0]!);
    const again = await f.mustGet(job.id);
    expect(again).toMatchObject({ status: 'queued', attempt: 0, input: { list: [1] } });
    expect(again.createdAt.getTime()).not.toBe(0);
    expect(again.runAt.getTime()).not.toBe(0);

    const claimed = await f.claim(job.id);
    const afterClaim = await f.mustGet(job.id);
    vandalize(claimed!);
    expect(await f.repo.get(job.id)).toEqual(afterClaim);

    const running = await f.claimNew();
    await f.heartbeat(running.job.id, running.token, { progress: { fraction: 0.5, message: 'half' } });
    const canceled = await f.repo.requestCancel(running.job.id, {
      retentionMs: LONG,
      error: problem('canceled'),
    });
    const afterCancel = await f.mustGet(running.job.id);
    vandalize(canceled!);
    expect(await f.repo.get(running.job.id)).toEqual(afterCancel);
  });

  test('copies out: mutating what remove returns, or a claimed cleanup, never changes the pending cleanup', async (f) => {
    const { job, token } = await f.claimNew(LONG, { input: { file: 'a.txt' } });
    await f.settle(job.id, token, {
      status: 'succeeded',
      output: { files: ['a'] },
      retentionMs: LONG,
      cleanup: true,
      progress: { fraction: 1, message: 'done' },
    });
    const snapshot = await f.mustGet(job.id);
    const removed = await f.repo.remove(job.id);
    vandalize(removed!);

    const first = await claimOneCleanup(f);
    expect(first.cleanup.job).toEqual(snapshot);
    vandalize(first.cleanup.job);
    expect(await f.repo.finishCleanup(job.id, first.leaseToken, 0)).toBe(true);
    const second = await claimOneCleanup(f);
    expect(second.cleanup).toEqual({ job: snapshot, attempt: 2 });
    expect(await f.repo.finishCleanup(job.id, second.leaseToken, null)).toBe(true);
  });

  test('copies out: mutating what deleteExpired returns never changes the pending cleanup', async (f) => {
    const id = await f.expiringJob('succeeded', { cleanup: true });
    await f.clock.pass(SHORT);
    const deleted = await deleteUntilGone(f, [id]);
    for (const job of deleted) if (job.id === id) vandalize(job);
    const { cleanup, leaseToken } = await claimOneCleanup(f);
    expect(cleanup.job).toMatchObject({ id, status: 'succeeded', attempt: 1, output: { result: 'done' } });
    expect(cleanup.job.createdAt.getTime()).not.toBe(0);
    expect(cleanup.job.expiresAt!.getTime()).not.toBe(0);
    expect(await f.repo.finishCleanup(id, leaseToken, null)).toBe(true);
  });
}
