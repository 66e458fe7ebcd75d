import { type DispatchItem, newLeaseToken, silentLogger, UnavailableError } from '@jobs/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PostgresJobRepository } from './repository.js';
import {
  deferred,
  delay,
  dropSchema,
  newJob,
  randomAppName,
  randomSchema,
  testRepository,
  values,
  waitFor,
  withAdmin,
} from './test-support.js';

// dispatch() holds the jobs it takes (FOR UPDATE SKIP LOCKED, in a transaction) while `publish` runs, and records
// them in the same transaction: every job is handed out once, whatever happens to the dispatching process.

const schema = randomSchema('dispatch');
const app = randomAppName('dispatch');
let first: PostgresJobRepository;
let second: PostgresJobRepository;

beforeAll(async () => {
  first = testRepository(schema, { poolConfig: { application_name: app }, logger: silentLogger });
  second = testRepository(schema, { poolConfig: { application_name: app }, logger: silentLogger });
  await first.migrate();
});

afterAll(async () => {
  await first?.close();
  await second?.close();
  await dropSchema(schema);
});

async function createJobs(endpoint: string, count: number): Promise<string[]> {
  const jobs = Array.from({ length: count }, () => newJob(endpoint));
  return values(await first.create(jobs)).map((result) => result.job.id);
}

const ids = (items: readonly DispatchItem[]) => items.map((item) => item.id);
const acceptAll = async (items: readonly DispatchItem[]) => items.map(() => true);

async function dispatchedAt(jobIds: string[]): Promise<Map<string, Date | null>> {
  const result = await withAdmin((client) =>
    client.query<{ id: string; dispatched_at: Date | null }>(
      `SELECT id, dispatched_at FROM "${schema}".jobs WHERE id = ANY($1)`,
      [jobIds],
    ),
  );
  return new Map(result.rows.map((row) => [row.id, row.dispatched_at]));
}

describe('dispatch on PostgreSQL', () => {
  it('while one dispatch holds its jobs (publish not done), a dispatch from another repository skips them', async () => {
    const endpoint = 'held';
    const all = await createJobs(endpoint, 30);
    const release = deferred<void>();
    const holding = deferred<readonly DispatchItem[]>();
    const firstDispatch = first.dispatch(
      { limit: 10, endpoints: [endpoint], redispatchAfterMs: null },
      async (items) => {
        holding.resolve(items);
        await release.promise;
        return items.map(() => true);
      },
    );
    const held = ids(await holding.promise);
    try {
      // The first ten by (runAt, id): created in one statement, they share runAt.
      expect(held).toEqual([...all].sort().slice(0, 10));
      // Even re-dispatching everything at once (redispatchAfterMs 0) does not reach the held jobs.
      const seen: string[] = [];
      const result = await second.dispatch(
        { limit: 100, endpoints: [endpoint], redispatchAfterMs: 0 },
        async (items) => {
          seen.push(...ids(items));
          return items.map(() => true);
        },
      );
      expect(result).toMatchObject({ dispatched: 20, found: 20 });
      expect(seen.sort()).toEqual([...all].sort().slice(10));
      expect(seen.filter((id) => held.includes(id))).toEqual([]);
      // Nothing is recorded for the held jobs until their dispatch commits.
      const before = await dispatchedAt(held);
      expect([...before.values()].every((value) => value === null)).toBe(true);
    } finally {
      release.resolve();
    }
    expect(await firstDispatch).toMatchObject({ dispatched: 10, found: 10 });
    const after = await dispatchedAt(all);
    expect([...after.values()].every((value) => value !== null)).toBe(true);
    expect(
      await second.dispatch({ limit: 100, endpoints: [endpoint], redispatchAfterMs: null }, acceptAll),
    ).toMatchObject({
      dispatched: 0,
      found: 0,
    });
  });

  it('many dispatchers at once over many jobs: each job is handed out exactly once', async () => {
    const endpoint = 'many';
    const all = await createJobs(endpoint, 300);
    const repositories = [first, second, testRepository(schema, { logger: silentLogger })];
    const published: string[] = [];
    try {
      const dispatcher = async (repository: PostgresJobRepository) => {
        for (;;) {
          const result = await repository.dispatch(
            { limit: 7, endpoints: [endpoint], redispatchAfterMs: null },
            async (items) => {
              published.push(...ids(items));
              await delay(Math.random() * 5);
              return items.map(() => true);
            },
          );
          if (result.found === 0) return;
        }
      };
      await Promise.all(
        repositories.flatMap((repository) => [dispatcher(repository), dispatcher(repository)]),
      );
    } finally {
      await repositories[2]!.close();
    }
    expect(published).toHaveLength(all.length);
    expect(new Set(published).size).toBe(all.length);
    expect([...published].sort()).toEqual([...all].sort());
  }, 60_000);

  it('a dispatch whose connection dies while publish runs records nothing: the jobs stay dispatchable', async () => {
    const endpoint = 'died';
    const dyingApp = randomAppName('dispatch-dies');
    const dying = testRepository(schema, {
      poolConfig: { application_name: dyingApp },
      logger: silentLogger,
    });
    const all = await createJobs(endpoint, 5);
    try {
      let terminated = 0;
      const error = await dying
        .dispatch({ limit: 10, endpoints: [endpoint], redispatchAfterMs: null }, async (items) => {
          expect(ids(items).sort()).toEqual([...all].sort());
          // The process dies while publishing: its backend (idle in the dispatch transaction) is terminated.
          terminated = await withAdmin(async (client) => {
            const result = await client.query<{ done: boolean }>(
              `SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity
               WHERE application_name = $1 AND state = 'idle in transaction'`,
              [dyingApp],
            );
            return result.rows.filter((row) => row.done).length;
          });
          // Its transaction is gone with it: the locks are released at once.
          await waitFor(async () => {
            const locks = await withAdmin((client) =>
              client.query(
                `SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND state = 'idle in transaction'`,
                [app],
              ),
            );
            return locks.rowCount === 0;
          }, 'the terminated backend to be gone');
          return items.map(() => true);
        })
        .catch((e: unknown) => e);
      expect(terminated).toBe(1);
      expect(error).toBeInstanceOf(UnavailableError);
      expect([...(await dispatchedAt(all)).values()]).toEqual(all.map(() => null));
      // Another dispatcher hands them out.
      const seen: string[] = [];
      expect(
        await second.dispatch(
          { limit: 10, endpoints: [endpoint], redispatchAfterMs: null },
          async (items) => {
            seen.push(...ids(items));
            return items.map(() => true);
          },
        ),
      ).toMatchObject({ dispatched: 5, found: 5 });
      expect(seen.sort()).toEqual([...all].sort());
      // The repository whose connection died works again.
      expect(await dying.get(all[0]!, 'header')).toMatchObject({ status: 'queued' });
    } finally {
      await dying.close();
    }
  });

  it('a publish that rejects records nothing and the error reaches the caller; a partial publish records only what was published', async () => {
    const endpoint = 'partial';
    const all = await createJobs(endpoint, 4);
    const failure = new Error('queue down');
    await expect(
      first.dispatch({ limit: 10, endpoints: [endpoint], redispatchAfterMs: null }, async () => {
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect([...(await dispatchedAt(all)).values()]).toEqual(all.map(() => null));

    let order: string[] = [];
    const result = await first.dispatch(
      { limit: 10, endpoints: [endpoint], redispatchAfterMs: null },
      async (items) => {
        order = ids(items);
        return items.map((_item, i) => i % 2 === 0);
      },
    );
    expect(result).toMatchObject({ dispatched: 2, found: 4 });
    const recorded = await dispatchedAt(all);
    expect(order.map((id) => recorded.get(id) !== null)).toEqual([true, false, true, false]);
    // The connection of the failed dispatch went back to the pool in a clean state: nothing is left open.
    const open = await withAdmin((client) =>
      client.query(
        `SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND state = 'idle in transaction'`,
        [app],
      ),
    );
    expect(open.rowCount).toBe(0);
  });

  it('a claim of a job that a dispatch holds waits for it, and the claimed job is not left marked as dispatched', async () => {
    const endpoint = 'claimed-meanwhile';
    const [id] = await createJobs(endpoint, 1);
    const release = deferred<void>();
    const holding = deferred<void>();
    const dispatch = first.dispatch(
      { limit: 10, endpoints: [endpoint], redispatchAfterMs: null },
      async (items) => {
        holding.resolve();
        await release.promise;
        return items.map(() => true);
      },
    );
    await holding.promise;
    const leaseToken = newLeaseToken();
    const claim = second.claim([{ id: id!, leaseToken, leaseMs: 60_000 }]);
    // The claim is not refused because the row is held: it is answered once the dispatch is recorded.
    await delay(100);
    release.resolve();
    expect(await dispatch).toMatchObject({ dispatched: 1, found: 1 });
    const [claimed] = await claim;
    expect(claimed).toMatchObject({ id, status: 'running', attempt: 1, leaseToken, dispatchedAt: null });
    expect(await first.get(id!, 'header')).toMatchObject({ status: 'running', dispatchedAt: null });
  });

  it('reports when the next delayed job is due, by the database clock', async () => {
    const endpoint = 'delayed';
    const [id] = await createJobs(endpoint, 1);
    const leaseToken = newLeaseToken();
    await first.claim([{ id: id!, leaseToken, leaseMs: 60_000 }]);
    values(
      await first.settle([
        {
          id: id!,
          leaseToken,
          outcome: { status: 'queued', delayMs: 60_000, error: null, refundAttempt: false },
        },
      ]),
    );
    const result = await first.dispatch(
      { limit: 10, endpoints: [endpoint], redispatchAfterMs: null },
      acceptAll,
    );
    expect(result).toMatchObject({ dispatched: 0, found: 0 });
    expect(result.nextDueInMs).toBeGreaterThan(50_000);
    expect(result.nextDueInMs).toBeLessThanOrEqual(60_000);
  });
});
