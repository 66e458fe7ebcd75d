import { expect } from 'vitest';
import { expectDispatchOrder, makeNewJob, problem } from '../helpers.js';
import { dispatchPublishTests } from './dispatch-publish.js';
import { type ContractSuite, LONG, retry, SHORT, type SubSuite, subSuite } from './fixture.js';

/**
 * `dispatch`: which jobs are dispatchable (queued and due, or running with an expired lease, not handed out
 * since, or longer ago than `redispatchAfterMs`), in which order, for which endpoints; how `publish` is called
 * and what is recorded when it resolves, rejects or answers false; the hold on jobs being published.
 */
export const describeDispatchContract: SubSuite = subSuite('dispatch', (suite) => {
  dispatchSelectionTests(suite);
  dispatchPublishTests(suite);
});

function dispatchSelectionTests({ test, clockTest }: ContractSuite): void {
  test('hands out a queued job once: publishes it once with its endpoint and records dispatchedAt = now', async (f) => {
    const job = await f.create();
    let calls = 0;
    const first = await f.dispatch({}, (items) => {
      calls++;
      return items.map(() => true);
    });
    expect(calls).toBe(1);
    expect(first).toMatchObject({ dispatched: 1, found: 1, items: [{ id: job.id, endpoint: f.endpoint }] });
    const dispatched = await f.header(job.id);
    expect(dispatched).toMatchObject({ status: 'queued', dispatchedAt: expect.any(Date) });
    f.expectNow(dispatched!.dispatchedAt);
    expect(dispatched!.dispatchedAt!.getTime()).toBeGreaterThanOrEqual(job.createdAt.getTime());

    expect(await f.dispatch()).toMatchObject({ dispatched: 0, found: 0, items: [] });
    expect(await f.dispatch({ redispatchAfterMs: LONG })).toMatchObject({ found: 0, items: [] });
  });

  test('finds running jobs with an expired lease; never a live lease, a final job or a job not due', async (f) => {
    const { job: expired, token } = await f.claimNew(SHORT);
    await f.claimNew(LONG);
    await f.finalJob('succeeded');
    await f.finalJob('failed');
    const canceled = await f.create();
    await f.repo.requestCancel(canceled.id, { retentionMs: LONG, error: problem('canceled') });
    const later = await f.claimNew();
    await f.settle(later.job.id, later.token, retry(LONG, { error: null }));
    await f.clock.pass(SHORT);

    const result = await f.dispatch({ redispatchAfterMs: 0 });
    expect(result.items).toEqual([{ id: expired.id, endpoint: f.endpoint, traceContext: null }]);
    expect(result).toMatchObject({ dispatched: 1, found: 1 });
    const after = await f.header(expired.id);
    expect(after).toMatchObject({
      status: 'running',
      leaseToken: token,
      attempt: 1,
      dispatchedAt: expect.any(Date),
    });
  });

  test('with redispatchAfterMs hands out again jobs dispatched that long ago; with null never', async (f) => {
    const queued = await f.create();
    const { job: running } = await f.claimNew(SHORT);
    await f.clock.pass(SHORT);
    expect((await f.dispatch()).dispatched).toBe(2);
    expect((await f.dispatch()).found).toBe(0);
    expect((await f.dispatch({ redispatchAfterMs: LONG })).found).toBe(0);

    await f.clock.pass(SHORT);
    expect((await f.dispatch()).found).toBe(0);
    const again = await f.dispatch({ redispatchAfterMs: SHORT });
    expect(again.items.map((item) => item.id).sort()).toEqual([queued.id, running.id].sort());
    expect(again.dispatched).toBe(2);
    // Recorded again: not due for redispatch until redispatchAfterMs passed once more.
    expect((await f.dispatch({ redispatchAfterMs: LONG })).found).toBe(0);
    // Inclusive: with 0, a job dispatched just now is handed out again at once.
    const zero = await f.dispatch({ redispatchAfterMs: 0 });
    expect(zero.items.map((item) => item.id).sort()).toEqual([queued.id, running.id].sort());
  });

  test('a claim and a retry clear dispatchedAt: the job is dispatchable again when it next can be claimed', async (f) => {
    const job = await f.create();
    await f.dispatch();
    const claimed = await f.claim(job.id, { leaseMs: SHORT });
    expect(claimed?.dispatchedAt).toBeNull();
    await f.clock.pass(SHORT);
    // The worker died: its lease expired and the job was not dispatched since the claim.
    expect((await f.dispatch()).items.map((item) => item.id)).toEqual([job.id]);

    const retried = await f.claim(job.id);
    const requeue = retry();
    expect(await f.settle(job.id, retried!.leaseToken!, requeue)).toBe(true);
    expect((await f.header(job.id))?.dispatchedAt).toBeNull();
    expect((await f.dispatch()).items.map((item) => item.id)).toEqual([job.id]);
  });

  test("with endpoints only those endpoints' jobs; an empty list finds none, undefined every endpoint", async (f) => {
    const other = f.newEndpoint();
    const ours = await f.create();
    const theirs = await f.createIn(other);
    const { job: expired } = await f.claimNew(SHORT);
    await f.clock.pass(SHORT);

    expect((await f.dispatch({ endpoints: [] })).found).toBe(0);
    // Every endpoint, published nowhere: nothing recorded, so the store is as before for everyone.
    const all = await f.dispatch({ endpoints: undefined, limit: 1_000 }, (items) => items.map(() => false));
    const allIds = all.items.map((item) => item.id);
    for (const id of [ours.id, theirs.id, expired.id]) expect(allIds).toContain(id);
    expect(all.items).toContainEqual({ id: theirs.id, endpoint: other, traceContext: null });
    expect(all.dispatched).toBe(0);

    const mine = await f.dispatch({ endpoints: [f.endpoint] });
    expect(mine.items.map((item) => item.id).sort()).toEqual([ours.id, expired.id].sort());
    const elsewhere = await f.dispatch({ endpoints: [other, f.newEndpoint()] });
    expect(elsewhere.items).toEqual([{ id: theirs.id, endpoint: other, traceContext: null }]);
    expect((await f.dispatch({ endpoints: [f.endpoint, other] })).found).toBe(0);
  });

  test('hands out the earliest runAt first (ties in any order), at most limit at a time; found equals the limit when more wait', async (f) => {
    // Created first, but retried: its runAt is after the others'.
    const { job: retried, token } = await f.claimNew();
    await f.settle(retried.id, token, retry(SHORT, { error: null }));
    const fresh = await f.repo.create(Array.from({ length: 3 }, () => makeNewJob(f.endpoint)));
    await f.clock.pass(10);
    fresh.push(...(await f.repo.create(Array.from({ length: 2 }, () => makeNewJob(f.endpoint)))));
    await f.clock.pass(SHORT);

    const jobs = await Promise.all(
      [retried.id, ...fresh.map((r) => (r.ok ? r.value.job.id : ''))].map(f.header),
    );
    const candidates = jobs.map((job) => ({ id: job!.id, rank: [job!.runAt.getTime()] }));
    expect(Math.max(...candidates.map((c) => c.rank[0]!))).toBe(candidates[0]!.rank[0]);

    const first = await f.dispatch({ limit: 4 });
    expect(first).toMatchObject({ found: 4, dispatched: 4 });
    const firstIds = first.items.map((item) => item.id);
    expectDispatchOrder(firstIds, candidates, 4);
    expect(firstIds).not.toContain(retried.id);
    const rest = await f.dispatch({ limit: 4 });
    expect(rest).toMatchObject({ found: 2, dispatched: 2 });
    const restIds = rest.items.map((item) => item.id);
    expectDispatchOrder(
      restIds,
      candidates.filter((c) => !firstIds.includes(c.id)),
      4,
    );
    expect(restIds.at(-1)).toBe(retried.id);
  });

  test('nextDueInMs: the time until the earliest queued job that is not due yet', async (f) => {
    const { job, token } = await f.claimNew();
    await f.settle(job.id, token, retry(60_000, { error: null }));
    const result = await f.dispatch();
    expect(result.found).toBe(0);
    expect(result.nextDueInMs).not.toBeNull();
    expect(result.nextDueInMs!).toBeGreaterThan(0);
    expect(result.nextDueInMs!).toBeLessThanOrEqual(60_000);
  });

  clockTest('nextDueInMs counts down by the clock; the job is dispatchable exactly at runAt', async (f) => {
    const { job, token } = await f.claimNew();
    await f.settle(job.id, token, retry(60_000, { error: null }));
    await f.clock.pass(59_999);
    expect(await f.dispatch()).toMatchObject({ found: 0, nextDueInMs: 1 });
    await f.clock.pass(1);
    expect((await f.dispatch()).items.map((item) => item.id)).toEqual([job.id]);
  });
}
