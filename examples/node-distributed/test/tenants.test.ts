/**
 * A per-tenant limit with real processes: the `report` endpoint lets at most 2 jobs of one tenant run at once.
 * One API process and three worker processes (each with room for 8 reports) share PostgreSQL and RabbitMQ; a
 * tenant floods the endpoint while another submits a few. The execution log written by the worker code shows
 * that the limit held across the processes, and that the small tenant was served while the flood waited.
 */
import { describe, expect, it } from 'vitest';
import type { ExecutionRecord } from '../src/execution-log.js';
import { pool, submit, withScenario } from './harness.js';

const LIMIT = 2;

/** The most jobs of `ids` running at once, from the start and finish records of every process. */
function maxRunning(records: ExecutionRecord[], ids: Set<string>): number {
  const events = records
    .flatMap((record) =>
      (record.type === 'start' || record.type === 'finish' || record.type === 'abort') &&
      ids.has(record.jobId)
        ? [{ at: record.at, change: record.type === 'start' ? 1 : -1 }]
        : [],
    )
    // At the same millisecond, an end comes first: a slot is given again only after the job that held it ended.
    .sort((a, b) => a.at - b.at || a.change - b.change);
  let running = 0;
  let max = 0;
  for (const event of events) {
    running += event.change;
    max = Math.max(max, running);
  }
  return max;
}

describe('distributed deployment: a per-tenant limit', () => {
  it('at most 2 reports of one tenant run at once across 3 worker processes; a small tenant is not starved', async () => {
    await withScenario(
      { tag: 'tenants', apis: 1, workers: 3, workerEnv: { CONCURRENCY: '8' } },
      async (scenario) => {
        const api = scenario.api(0);
        const flood = await pool(30, 10, () => submit(api, 'report', { tenant: 'acme', ms: 150 }));
        expect(flood.map((response) => response.status)).toEqual(flood.map(() => 202));
        const small = await pool(3, 3, () => submit(api, 'report', { tenant: 'tiny', ms: 150 }));
        expect(small.map((response) => response.status)).toEqual([202, 202, 202]);
        await scenario.waitAllFinal(33, 60_000);

        const records = scenario.records();
        const floodIds = new Set(flood.map((response) => response.body.id as string));
        const smallIds = new Set(small.map((response) => response.body.id as string));
        expect(maxRunning(records, floodIds)).toBe(LIMIT);
        expect(maxRunning(records, smallIds)).toBeLessThanOrEqual(LIMIT);
        const starts = records.filter((record) => record.type === 'start');
        // Run by more than one process: the limit held across them, not inside one.
        expect(new Set(starts.filter((s) => floodIds.has(s.jobId)).map((s) => s.pid)).size).toBeGreaterThan(
          1,
        );
        // Fair turns: every small job started while most of the flood was still waiting.
        const lastSmallStart = Math.max(...starts.filter((s) => smallIds.has(s.jobId)).map((s) => s.at));
        const floodStartedBefore = starts.filter(
          (s) => floodIds.has(s.jobId) && s.at < lastSmallStart,
        ).length;
        expect(floodStartedBefore).toBeLessThanOrEqual(10);
        const jobs = await scenario.jobs();
        expect(jobs.filter((job) => job.status !== 'succeeded')).toEqual([]);
      },
    );
  }, 150_000);
});
