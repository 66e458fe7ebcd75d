import { defineSchedule, type Schedule, Scheduler, silentLogger } from '@jobs/core';
import { expect, it } from 'vitest';
import { uniqueName } from '../helpers.js';
import type { RuntimeFixture, TestEndpoint } from './fixture.js';

const MINUTE = 60_000;

/** Recurring schedules: each occurrence submitted once across processes, restarts and missed occurrences. */
export function scheduleTests(fixture: () => RuntimeFixture, timeout: number): void {
  /** A clock the test moves, starting at a whole minute a little in the past. */
  function testClock() {
    let now = Math.floor(Date.now() / MINUTE) * MINUTE - 10 * MINUTE;
    return {
      read: () => now,
      set: (at: number) => {
        now = at;
      },
    };
  }

  function everyMinute(e: TestEndpoint, missed: 'skip' | 'run-once' = 'skip'): Schedule {
    return defineSchedule({
      name: uniqueName('every-minute'),
      endpoint: e,
      cron: '* * * * *',
      input: { value: 5 },
      missed,
    });
  }

  it(
    'each occurrence is submitted exactly once by many processes checking at the same moment',
    async () => {
      const t = fixture();
      const e = t.endpoint();
      const clock = testClock();
      const schedule = everyMinute(e);
      const processes = Array.from({ length: 5 }, () => {
        const api = t.runtime([], { endpoints: [e], schedules: [schedule], scheduler: false });
        return new Scheduler({
          repository: t.repository,
          service: api.service,
          schedules: [schedule],
          clock: clock.read,
          logger: silentLogger,
        });
      });
      const start = clock.read() + 30_000;
      clock.set(start);
      // The first check of a schedule starts it: nothing before it is due.
      const first = await Promise.all(processes.map((p) => p.check()));
      expect(first.flatMap((report) => report.submitted)).toEqual([]);
      for (let minute = 1; minute <= 3; minute++) {
        clock.set(start + minute * MINUTE);
        const reports = await Promise.all(processes.map((p) => p.check()));
        const submitted = reports.flatMap((report) => report.submitted);
        const occurrence = new Date(start - 30_000 + minute * MINUTE);
        expect(submitted.filter((job) => job.created)).toHaveLength(1);
        // Processes that raced the winner got its job back, not one of their own.
        expect(new Set(submitted.map((job) => job.jobId)).size).toBe(1);
        for (const job of submitted) expect(job.occurrence).toEqual(occurrence);
        const stored = await t.backend.repository.get(submitted[0]!.jobId);
        expect(stored).toMatchObject({ endpoint: e.name, input: { value: 5 }, runAt: occurrence });
      }
      const listed = await t
        .runtime([], { endpoints: [e], schedules: [schedule], scheduler: false })
        .service.listSchedules(e.name);
      expect(listed).toEqual([
        expect.objectContaining({
          name: schedule.name,
          cron: '* * * * *',
          lastOccurrenceAt: new Date(start - 30_000 + 3 * MINUTE),
        }),
      ]);
    },
    timeout,
  );

  it(
    'a process started after an occurrence was submitted does not submit it again, even once its job is gone',
    async () => {
      const t = fixture();
      const e = t.endpoint({ retentionMs: 1 });
      const clock = testClock();
      const schedule = everyMinute(e);
      const ran: string[] = [];
      const worker = t.worker(e, (value, ctx) => {
        ran.push(ctx.job.id);
        return { doubled: value.value * 2 };
      });
      const api = t.runtime([worker], { schedules: [schedule], scheduler: false });
      await api.start();
      const scheduler = () =>
        new Scheduler({
          repository: t.repository,
          service: api.service,
          schedules: [schedule],
          clock: clock.read,
          logger: silentLogger,
        });
      await scheduler().check();
      clock.set(clock.read() + MINUTE);
      const [job] = (await scheduler().check()).submitted;
      expect(job?.created).toBe(true);
      await t.waitUntil(() => ran.includes(job!.jobId), 'the job to run');
      // The job expires and is deleted: its idempotency key is free again, the recorded occurrence is not.
      await t.waitUntil(async () => {
        await api.sweeper?.sweep();
        return (await t.backend.repository.get(job!.jobId)) === null;
      }, 'the job to expire');
      expect((await scheduler().check()).submitted).toEqual([]);
    },
    timeout,
  );

  it(
    "occurrences missed while nothing ran: 'skip' submits none of them, 'run-once' one for the latest",
    async () => {
      const t = fixture();
      const e = t.endpoint();
      const clock = testClock();
      const skip = everyMinute(e, 'skip');
      const runOnce = everyMinute(e, 'run-once');
      const api = t.runtime([], { endpoints: [e], schedules: [skip, runOnce], scheduler: false });
      const scheduler = new Scheduler({
        repository: t.repository,
        service: api.service,
        schedules: [skip, runOnce],
        clock: clock.read,
        lateAfterMs: 1_000,
        logger: silentLogger,
      });
      const start = clock.read();
      await scheduler.check();
      // Everything was down for 5 minutes and 30 seconds: five occurrences missed, none on time.
      clock.set(start + 5 * MINUTE + 30_000);
      const report = await scheduler.check();
      expect(report.submitted).toHaveLength(1);
      expect(report.submitted[0]).toMatchObject({
        schedule: runOnce.name,
        occurrence: new Date(start + 5 * MINUTE),
      });
      expect(report.skipped).toBe(5 + 4);
      // Both go on from the next occurrence.
      clock.set(start + 6 * MINUTE);
      const next = await scheduler.check();
      expect(next.submitted.map((job) => job.schedule).sort()).toEqual([skip.name, runOnce.name].sort());
    },
    timeout,
  );

  it(
    "a runtime's scheduler submits each occurrence by its timer and the workers run it",
    async () => {
      const t = fixture();
      const e = t.endpoint();
      const ran: number[] = [];
      const schedule = defineSchedule({
        name: uniqueName('every-second'),
        endpoint: e,
        everyMs: 1_000,
        input: { value: 1 },
      });
      const rt = t.runtime(
        [
          t.worker(e, (value, ctx) => {
            ran.push(ctx.job.runAt.getTime());
            return { doubled: value.value * 2 };
          }),
        ],
        { schedules: [schedule] },
      );
      await rt.start();
      await t.waitUntil(() => ran.length >= 2, 'two occurrences to run');
      for (const at of ran) expect(at % 1_000).toBe(0);
      expect(new Set(ran).size).toBe(ran.length);
      const [listed] = await rt.service.listSchedules(e.name);
      expect(listed).toMatchObject({ name: schedule.name, everyMs: 1_000, missed: 'skip' });
      expect(listed!.nextOccurrenceAt!.getTime() % 1_000).toBe(0);
    },
    timeout,
  );
}
