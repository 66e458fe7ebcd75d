// Flow limits across repositories on one file (as across processes): three repositories dispatch one endpoint's
// keyed jobs while jobs are claimed and finished in between; the jobs in flight never exceed a limit.
import { type DispatchItem, type JobRepository, NO_LIMITS, newLeaseToken } from '@jobs/core';
import { delay, makeNewJob } from '@jobs/testing';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { createSqliteRepository } from './index.js';
import { useTempFolder } from './test-support.js';

const file = useTempFolder();
const opened: JobRepository[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((repository) => repository.close()));
});

describe('flow limits on SQLite', () => {
  it('three repositories on one file dispatching and finishing at once never exceed the limits', async () => {
    const path = file('limits.sqlite');
    for (let i = 0; i < 3; i++) opened.push(createSqliteRepository({ path }));
    const endpoint = 'limited';
    const limits = { ...NO_LIMITS, concurrency: 5, concurrencyPerKey: 2 };
    const jobs = ['a', 'b', 'c', 'd'].flatMap((key) =>
      Array.from({ length: 15 }, () => makeNewJob(endpoint, { limitKey: key })),
    );
    await opened[0]!.create(jobs);
    // The file as it is: keyed jobs handed out (held by a dispatch, or marked) or running.
    const reader = new Database(path, { readonly: true });
    const counts = reader.prepare(
      `SELECT limit_key AS key, count(*) AS n FROM jobs WHERE endpoint = ? AND (status = 'running'
         OR (status = 'queued' AND (dispatched_at IS NOT NULL OR dispatching_until > ?))) GROUP BY limit_key`,
    );
    let peakTotal = 0;
    let peakPerKey = 0;
    const note = () => {
      const rows = counts.all(endpoint, Date.now()) as Array<{ key: string; n: number }>;
      peakTotal = Math.max(
        peakTotal,
        rows.reduce((total, row) => total + row.n, 0),
      );
      peakPerKey = Math.max(peakPerKey, ...rows.map((row) => row.n), 0);
    };
    let finished = 0;
    const work = async (repository: JobRepository, items: readonly DispatchItem[]) => {
      for (const item of items) {
        const token = newLeaseToken();
        const [claimed] = await repository.claim([{ id: item.id, leaseToken: token, leaseMs: 60_000 }]);
        if (!claimed) continue;
        note();
        await delay(Math.random() * 5);
        await repository.settle([
          {
            id: item.id,
            leaseToken: token,
            outcome: { status: 'succeeded', output: {}, retentionMs: 60_000 },
          },
        ]);
        finished++;
      }
    };
    const workers: Promise<void>[] = [];
    const dispatcher = async (repository: JobRepository) => {
      while (finished < jobs.length) {
        const taken: DispatchItem[] = [];
        await repository.dispatch(
          { limit: 3, endpoints: [endpoint], redispatchAfterMs: null, limits },
          async (items) => {
            note();
            taken.push(...items);
            await delay(Math.random() * 3);
            return items.map(() => true);
          },
        );
        if (taken.length === 0) await delay(2);
        else workers.push(work(repository, taken));
      }
    };
    await Promise.all(opened.flatMap((repository) => [dispatcher(repository), dispatcher(repository)]));
    await Promise.all(workers);
    reader.close();
    expect(finished).toBe(jobs.length);
    expect(peakTotal).toBeLessThanOrEqual(5);
    expect(peakPerKey).toBeLessThanOrEqual(2);
    expect(peakTotal).toBeGreaterThan(1);
  }, 60_000);
});
