import { MAX_PRIORITY, MIN_PRIORITY } from '@jobs/core';
import { expect } from 'vitest';
import { makeNewJob } from '../helpers.js';
import { expectInvalidItem, LONG, SHORT, subSuite, unwrap } from './fixture.js';

/** Delayed jobs, priorities and the bound on jobs waiting in the queue (`maxAhead`). */
export const describeScheduleContract = subSuite('scheduling', ({ test }) => {
  test('a job created with runAt keeps that time to the millisecond and is not claimable before it', async (f) => {
    const runAt = new Date(Math.floor(f.clock.read()) + LONG + 0.4);
    const job = await f.create({ runAt });
    expect(job.runAt.getTime()).toBe(Math.floor(runAt.getTime()));
    expect(job.status).toBe('queued');
    expect(await f.claim(job.id)).toBeNull();
    expect((await f.dispatch()).found).toBe(0);
  });

  test('a job created with delayMs runs no earlier than createdAt + delay, then is dispatched and claimable', async (f) => {
    const job = await f.create({ delayMs: SHORT });
    f.expectDuration(job.createdAt, job.runAt, SHORT);
    expect(await f.claim(job.id)).toBeNull();
    const early = await f.dispatch();
    expect(early.found).toBe(0);
    expect(early.nextDueInMs).not.toBeNull();
    await f.clock.pass(SHORT);
    const due = await f.dispatch();
    expect(due.items.map((item) => item.id)).toEqual([job.id]);
    expect(await f.claim(job.id)).toMatchObject({ status: 'running', attempt: 1 });
  });

  test('runAt wins over delayMs; without either the job is due at once', async (f) => {
    const runAt = new Date(Math.floor(f.clock.read()) + LONG);
    const both = await f.create({ runAt, delayMs: SHORT });
    expect(both.runAt.getTime()).toBe(runAt.getTime());
    const plain = await f.create();
    expect(plain.runAt.getTime()).toBe(plain.createdAt.getTime());
  });

  test('a delayed job can be canceled before it runs', async (f) => {
    const job = await f.create({ delayMs: LONG });
    const canceled = await f.repo.requestCancel(job.id, {
      retentionMs: LONG,
      error: { type: 'x', title: 'x', code: 'canceled' },
    });
    expect(canceled).toMatchObject({ status: 'canceled' });
    expect((await f.dispatch({ redispatchAfterMs: 0 })).found).toBe(0);
  });

  test('priority is stored (default 0); among due jobs the higher priority is handed out first', async (f) => {
    const low = await f.create({ priority: -5 });
    const plain = await f.create();
    const high = await f.create({ priority: 7 });
    const top = await f.create({ priority: MAX_PRIORITY });
    expect([low.priority, plain.priority, high.priority, top.priority]).toEqual([-5, 0, 7, MAX_PRIORITY]);
    const first = await f.dispatch({ limit: 2 });
    expect(first.items.map((item) => item.id)).toEqual([top.id, high.id]);
    const rest = await f.dispatch({ limit: 2 });
    expect(rest.items.map((item) => item.id)).toEqual([plain.id, low.id]);
  });

  test('a priority that is not an integer from -1000 to 1000 refuses its item, and a runAt or delay no store can hold too', async (f) => {
    const results = await f.repo.create([
      makeNewJob(f.endpoint, { priority: MAX_PRIORITY + 1 }),
      makeNewJob(f.endpoint, { priority: MIN_PRIORITY - 1 }),
      makeNewJob(f.endpoint, { priority: 1.5 }),
      makeNewJob(f.endpoint, { runAt: new Date(Date.UTC(10_000, 0, 1)) }),
      makeNewJob(f.endpoint, { runAt: new Date(Number.NaN) }),
      makeNewJob(f.endpoint, { delayMs: -1 }),
      // Past the largest time a Date can hold.
      makeNewJob(f.endpoint, { delayMs: 1e20 }),
      makeNewJob(f.endpoint, { priority: MIN_PRIORITY }),
    ]);
    for (const result of results.slice(0, 7)) expectInvalidItem(result);
    expect(unwrap(results[7]).job.priority).toBe(MIN_PRIORITY);
  });

  test('maxAhead: fresh jobs are handed out only while fewer than that many wait in the queue unclaimed', async (f) => {
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push((await f.create({ priority: i })).id);
    const first = await f.dispatch({ maxAhead: 2 });
    expect(first.items.map((item) => item.id)).toEqual([ids[4], ids[3]]);
    // Two wait in the queue unclaimed: no room.
    expect((await f.dispatch({ maxAhead: 2 })).found).toBe(0);
    // One is claimed: room for one more, the next by priority.
    expect(await f.claim(ids[4]!)).not.toBeNull();
    const next = await f.dispatch({ maxAhead: 2 });
    expect(next.items.map((item) => item.id)).toEqual([ids[2]]);
    // Without the bound, the rest goes at once.
    const rest = await f.dispatch();
    expect(rest.items.map((item) => item.id)).toEqual([ids[1], ids[0]]);
  });

  test('maxAhead counts only this endpoint, and bounds never-dispatched jobs only', async (f) => {
    const other = f.newEndpoint();
    await f.createIn(other);
    expect((await f.dispatch({ endpoints: [other] })).found).toBe(1);
    // The other endpoint's job waiting in the queue takes none of this endpoint's room.
    const mine = await f.create();
    expect((await f.dispatch({ maxAhead: 1 })).items.map((item) => item.id)).toEqual([mine.id]);
    // Claimed (its message consumed), then its worker dies: its lease runs out.
    expect(await f.claim(mine.id, { leaseMs: SHORT })).not.toBeNull();
    const second = await f.create();
    expect((await f.dispatch({ maxAhead: 1 })).items.map((item) => item.id)).toEqual([second.id]);
    await f.clock.pass(SHORT);
    // No room for a fresh job (the second waits in the queue), yet the orphaned one is handed out again.
    const third = await f.create();
    const again = await f.dispatch({ maxAhead: 1 });
    expect(again.items.map((item) => item.id)).toEqual([mine.id]);
    expect(again.items.map((item) => item.id)).not.toContain(third.id);
  });

  test('exceptEndpoints leaves those endpoints alone: their fresh and orphaned jobs wait for a dispatch of their own', async (f) => {
    const bounded = f.newEndpoint();
    const orphan = await f.createIn(bounded);
    expect((await f.dispatch({ endpoints: [bounded] })).found).toBe(1);
    expect(await f.claim(orphan.id, { leaseMs: SHORT })).not.toBeNull();
    await f.clock.pass(SHORT);
    const fresh = await f.createIn(bounded);
    const mine = await f.create();
    const others = await f.dispatch({ endpoints: [f.endpoint, bounded], exceptEndpoints: [bounded] });
    expect(others.items.map((item) => item.id)).toEqual([mine.id]);
    const own = await f.dispatch({ endpoints: [bounded] });
    expect(own.items.map((item) => item.id)).toEqual([fresh.id, orphan.id]);
  });
});
