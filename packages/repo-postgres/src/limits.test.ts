import { type DispatchItem, NO_LIMITS, newLeaseToken, silentLogger } from '@jobs/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PostgresJobRepository } from './repository.js';
import {
  delay,
  dropSchema,
  newJob,
  randomSchema,
  testRepository,
  values,
  withAdmin,
} from './test-support.js';

// Flow limits across repositories: dispatches of one endpoint from three repositories (three pools, as three
// processes would have) run one after another under the endpoint's advisory lock, so together they never hand out
// more than a limit, while workers claim and finish jobs in between.

const schema = randomSchema('limits');
const repositories: PostgresJobRepository[] = [];

beforeAll(async () => {
  for (let i = 0; i < 3; i++) repositories.push(testRepository(schema, { logger: silentLogger }));
  await repositories[0]!.migrate();
});

afterAll(async () => {
  await Promise.all(repositories.map((repository) => repository.close()));
  await dropSchema(schema);
});

/** Per key, the keyed jobs of the endpoint handed out and not final, as the database has them now. */
async function inFlight(endpoint: string): Promise<Map<string, number>> {
  const result = await withAdmin((client) =>
    client.query<{ limit_key: string; n: number }>(
      `SELECT limit_key, count(*)::int AS n FROM "${schema}".jobs
       WHERE endpoint = $1 AND (status = 'running' OR (status = 'queued' AND dispatched_at IS NOT NULL))
       GROUP BY limit_key`,
      [endpoint],
    ),
  );
  return new Map(result.rows.map((row) => [row.limit_key, row.n]));
}

describe('flow limits on PostgreSQL', () => {
  it('three repositories dispatching and finishing at once never exceed the per-key and global limits', async () => {
    const endpoint = 'limited';
    const limits = { ...NO_LIMITS, concurrency: 5, concurrencyPerKey: 2 };
    const jobs = ['a', 'b', 'c', 'd'].flatMap((key) =>
      Array.from({ length: 15 }, () => newJob(endpoint, { limitKey: key })),
    );
    values(await repositories[0]!.create(jobs));
    let peakTotal = 0;
    let peakPerKey = 0;
    const finished = new Set<string>();
    const failures: unknown[] = [];
    const check = async () => {
      const counts = await inFlight(endpoint);
      peakTotal = Math.max(
        peakTotal,
        [...counts.values()].reduce((a, b) => a + b, 0),
      );
      peakPerKey = Math.max(peakPerKey, ...counts.values(), 0);
    };
    const work = async (repository: PostgresJobRepository, items: readonly DispatchItem[]) => {
      await check();
      for (const item of items) {
        const token = newLeaseToken();
        const [claimed] = await repository.claim([{ id: item.id, leaseToken: token, leaseMs: 60_000 }]);
        if (!claimed) continue;
        await delay(Math.random() * 5);
        const [settled] = await repository.settle([
          {
            id: item.id,
            leaseToken: token,
            outcome: { status: 'succeeded', output: {}, retentionMs: 60_000 },
          },
        ]);
        if (settled?.ok && settled.value) finished.add(item.id);
      }
    };
    const dispatcher = async (repository: PostgresJobRepository) => {
      while (finished.size < jobs.length && failures.length === 0) {
        const dispatched: DispatchItem[] = [];
        await repository.dispatch(
          { limit: 3, endpoints: [endpoint], redispatchAfterMs: null, limits },
          async (items) => {
            dispatched.push(...items);
            await delay(Math.random() * 3);
            return items.map(() => true);
          },
        );
        await check();
        if (dispatched.length === 0) await delay(2);
        else
          work(repository, dispatched).catch((error: unknown) => {
            failures.push(error);
          });
      }
    };
    await Promise.all(repositories.flatMap((repository) => [dispatcher(repository), dispatcher(repository)]));
    expect(failures).toEqual([]);
    expect(finished.size).toBe(jobs.length);
    expect(peakTotal).toBeLessThanOrEqual(5);
    expect(peakPerKey).toBeLessThanOrEqual(2);
    expect(peakTotal).toBeGreaterThan(1);
  }, 60_000);
});
