import type { CleanupQuery, PendingCleanup } from '@jobs/core';
import { newJobId, newLeaseToken } from '@jobs/core';
import { expect } from 'vitest';
import { deleteUntilGone } from './expiry.js';
import { LONG, type RepositoryFixture, SHORT, type SubSuite, subSuite } from './fixture.js';

/** Claims the due cleanups of the test's endpoint (or `endpoints`) under a fresh token. */
async function claimCleanups(
  f: RepositoryFixture,
  query: Partial<CleanupQuery> = {},
): Promise<{ cleanups: PendingCleanup[]; token: string; ids: string[] }> {
  const token = query.leaseToken ?? newLeaseToken();
  const cleanups = await f.repo.claimCleanups({
    endpoints: [f.endpoint],
    limit: 100,
    leaseMs: LONG,
    ...query,
    leaseToken: token,
  });
  return { cleanups, token, ids: cleanups.map((cleanup) => cleanup.job.id) };
}

/** A succeeded job settled with `cleanup: true`, then removed: its pending cleanup is due now. */
async function removedWithCleanup(f: RepositoryFixture, endpoint = f.endpoint): Promise<string> {
  const job = await f.createIn(endpoint, { input: { file: 'a.txt' } });
  const claimed = await f.claim(job.id);
  const outcome = { status: 'succeeded', output: { url: 'u' }, retentionMs: LONG, cleanup: true } as const;
  expect(await f.settle(job.id, claimed!.leaseToken!, outcome)).toBe(true);
  expect(await f.repo.remove(job.id)).toMatchObject({ id: job.id });
  return job.id;
}

/** Durable worker cleanups: what leaves one, `claimCleanups` (due, endpoints, limit, leases) and `finishCleanup`. */
export const describeCleanupContract: SubSuite = subSuite('cleanups', ({ test, clockTest }) => {
  test('remove of a succeeded job settled with cleanup: true leaves a pending cleanup of the whole job', async (f) => {
    const job = await f.create({ input: { file: 'a.txt' }, owner: 'o' });
    const token = (await f.claim(job.id))!.leaseToken!;
    const outcome = {
      status: 'succeeded',
      output: { url: 'u' },
      retentionMs: LONG,
      cleanup: true,
    } as const;
    await f.settle(job.id, token, { ...outcome, progress: { fraction: 1 } });
    const stored = await f.mustGet(job.id);
    expect((await claimCleanups(f)).cleanups).toEqual([]);

    await f.repo.remove(job.id);
    const claim = await claimCleanups(f);
    expect(claim.cleanups).toEqual([{ job: stored, attempt: 1 }]);
    expect(await f.repo.finishCleanup(job.id, claim.token, null)).toBe(true);
  });

  test('deleteExpired of a succeeded job settled with cleanup: true leaves a pending cleanup', async (f) => {
    const id = await f.expiringJob('succeeded', { cleanup: true });
    await f.clock.pass(SHORT);
    expect((await claimCleanups(f)).cleanups).toEqual([]);
    await deleteUntilGone(f, [id]);
    const claim = await claimCleanups(f);
    expect(claim.cleanups).toEqual([
      {
        job: expect.objectContaining({
          id,
          status: 'succeeded',
          input: { value: 1 },
          output: { result: 'done' },
        }),
        attempt: 1,
      },
    ]);
    expect(await f.repo.finishCleanup(id, claim.token, null)).toBe(true);
  });

  test('no cleanup without cleanup: true, for failed and canceled jobs, or while the job is stored', async (f) => {
    const kept = await f.finalJob('succeeded', { cleanup: true });
    const removed = [await f.finalJob('succeeded'), await f.finalJob('failed'), await f.finalJob('canceled')];
    for (const job of removed) await f.repo.remove(job.id);
    const expired = [
      await f.expiringJob('succeeded'),
      await f.expiringJob('failed'),
      await f.expiringJob('canceled'),
    ];
    await f.clock.pass(SHORT);
    await deleteUntilGone(f, expired);
    expect((await claimCleanups(f)).cleanups).toEqual([]);
    expect(await f.header(kept.id)).toMatchObject({ status: 'succeeded' });
  });

  test('claimCleanups takes only the given endpoints, at most limit, oldest first', async (f) => {
    const other = f.newEndpoint();
    const ours: string[] = [];
    for (let i = 0; i < 3; i++) {
      ours.push(await removedWithCleanup(f));
      await f.clock.pass(10);
    }
    const theirs = await removedWithCleanup(f, other);

    expect((await claimCleanups(f, { endpoints: [] })).cleanups).toEqual([]);
    const elsewhere = await claimCleanups(f, { endpoints: [other, f.newEndpoint()] });
    expect(elsewhere.ids).toEqual([theirs]);
    // Oldest first: the two oldest are taken (in whatever order the batch lists them), then the last one.
    const first = await claimCleanups(f, { limit: 2 });
    expect([...first.ids].sort()).toEqual(ours.slice(0, 2).sort());
    const second = await claimCleanups(f, { limit: 2 });
    expect(second.ids).toEqual(ours.slice(2));
    for (const id of first.ids) expect(await f.repo.finishCleanup(id, first.token, null)).toBe(true);
    expect(await f.repo.finishCleanup(ours[2]!, second.token, null)).toBe(true);
    expect(await f.repo.finishCleanup(theirs, elsewhere.token, null)).toBe(true);
  });

  test('a held cleanup is not claimed again until its lease expires (a process killed mid-cleanup)', async (f) => {
    const id = await removedWithCleanup(f);
    const first = await claimCleanups(f, { leaseMs: SHORT });
    expect(first.cleanups).toMatchObject([{ attempt: 1 }]);
    expect((await claimCleanups(f)).cleanups).toEqual([]);
    await f.clock.pass(SHORT);
    const second = await claimCleanups(f);
    expect(second.cleanups).toMatchObject([{ job: { id }, attempt: 2 }]);
    expect(await f.repo.finishCleanup(id, first.token, null)).toBe(false);
    expect(await f.repo.finishCleanup(id, second.token, null)).toBe(true);
  });

  test('finishCleanup with a delay makes it due again that much later, and the attempt counts up', async (f) => {
    const soon = await removedWithCleanup(f);
    const late = await removedWithCleanup(f);
    const claim = await claimCleanups(f);
    expect(claim.ids.sort()).toEqual([soon, late].sort());
    expect(await f.repo.finishCleanup(soon, claim.token, SHORT)).toBe(true);
    expect(await f.repo.finishCleanup(late, claim.token, LONG)).toBe(true);
    // Ended: the token holds it no more.
    expect(await f.repo.finishCleanup(soon, claim.token, null)).toBe(false);

    await f.clock.pass(SHORT);
    const again = await claimCleanups(f);
    expect(again.cleanups).toMatchObject([{ job: { id: soon }, attempt: 2 }]);
    expect(await f.repo.finishCleanup(soon, again.token, null)).toBe(true);
    expect((await claimCleanups(f)).cleanups).toEqual([]);
  });

  test('finishCleanup with null deletes it; a wrong token, an expired lease or an unknown id give false', async (f) => {
    const id = await removedWithCleanup(f);
    const expired = await claimCleanups(f, { leaseMs: SHORT });
    await f.clock.pass(SHORT);
    expect(await f.repo.finishCleanup(id, expired.token, null)).toBe(false);

    const claim = await claimCleanups(f);
    expect(claim.cleanups).toMatchObject([{ attempt: 2 }]);
    expect(await f.repo.finishCleanup(id, newLeaseToken(), null)).toBe(false);
    expect(await f.repo.finishCleanup(newJobId(), claim.token, null)).toBe(false);
    expect(await f.repo.finishCleanup(id, claim.token, null)).toBe(true);
    expect(await f.repo.finishCleanup(id, claim.token, null)).toBe(false);
    await f.clock.pass(SHORT);
    expect((await claimCleanups(f)).cleanups).toEqual([]);
  });

  clockTest(
    'a cleanup lease ends exactly after leaseMs, a retry is due exactly after retryAfterMs',
    async (f) => {
      const id = await removedWithCleanup(f);
      const first = await claimCleanups(f, { leaseMs: 1_000 });
      await f.clock.pass(999);
      expect((await claimCleanups(f)).cleanups).toEqual([]);
      await f.clock.pass(1);
      const second = await claimCleanups(f);
      expect(second.ids).toEqual([id]);
      expect(await f.repo.finishCleanup(id, first.token, null)).toBe(false);
      expect(await f.repo.finishCleanup(id, second.token, 5_000)).toBe(true);
      await f.clock.pass(4_999);
      expect((await claimCleanups(f)).cleanups).toEqual([]);
      await f.clock.pass(1);
      const third = await claimCleanups(f);
      expect(third.cleanups).toMatchObject([{ job: { id }, attempt: 3 }]);
      expect(await f.repo.finishCleanup(id, third.token, null)).toBe(true);
    },
  );
});
