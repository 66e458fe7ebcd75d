import { newLeaseToken, type SettleOutcome, silentLogger } from '@jobs/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresRepository, type PostgresJobRepository } from './repository.js';
import {
  DATABASE_URL,
  dropSchema,
  newJob,
  randomSchema,
  recordingPool,
  testRepository,
  values,
  waitFor,
  withAdmin,
} from './test-support.js';

// The PostgreSQL side of the batched lifecycle: a batch is one statement, and concurrent batches over the same
// jobs (in any order) neither deadlock nor hand a job to two claimers.

const schema = randomSchema('batching');
const PROBLEM = { type: 'about:blank', title: 'Failed', code: 'failed' };

beforeAll(async () => {
  const repository = testRepository(schema);
  await repository.migrate();
  await repository.close();
});

afterAll(async () => {
  await dropSchema(schema);
});

async function createJobs(
  repository: PostgresJobRepository,
  endpoint: string,
  count: number,
): Promise<string[]> {
  const jobs = Array.from({ length: count }, () => newJob(endpoint));
  return values(await repository.create(jobs)).map((result) => result.job.id);
}

describe('a batch is one statement', () => {
  let repository: PostgresJobRepository;
  let recorded: ReturnType<typeof recordingPool>;

  beforeAll(async () => {
    recorded = recordingPool({ connectionString: DATABASE_URL, max: 4 });
    repository = createPostgresRepository({ pool: recorded.pool, schema, logger: silentLogger });
    await repository.migrate();
  });

  afterAll(async () => {
    await repository.close();
    await recorded.pool.end();
  });

  /** The statements `fn` sends through the pool. */
  async function statementsOf(fn: () => Promise<unknown>) {
    const before = recorded.statements.length;
    await fn();
    return recorded.statements.slice(before);
  }

  it('100 creates (with and without idempotency keys) are one INSERT', async () => {
    const jobs = Array.from({ length: 100 }, (_, i) =>
      newJob('batch-create', {
        idempotencyKey: i % 2 === 0 ? `key-${crypto.randomUUID()}` : null,
        input: { i },
      }),
    );
    let results: Awaited<ReturnType<PostgresJobRepository['create']>> = [];
    const statements = await statementsOf(async () => {
      results = await repository.create(jobs);
    });
    expect(statements).toHaveLength(1);
    expect(statements[0]!.text).toMatch(/INSERT INTO/);
    expect(statements[0]!.text).toMatch(/unnest\(/);
    expect(values(results).map((result) => [result.created, result.job.id])).toEqual(
      jobs.map((job) => [true, job.id]),
    );
    for (const job of jobs.slice(0, 3))
      expect(await repository.get(job.id)).toMatchObject({ input: job.input });
  });

  it('claims, heartbeats and settles of 50 jobs are one statement each, with mixed outcomes', async () => {
    const ids = await createJobs(repository, 'batch-lifecycle', 50);
    const tokens = ids.map(() => newLeaseToken());
    let claimed: Awaited<ReturnType<PostgresJobRepository['claim']>> = [];
    expect(
      await statementsOf(async () => {
        claimed = await repository.claim(
          ids.map((id, i) => ({ id, leaseToken: tokens[i]!, leaseMs: 60_000 })),
        );
      }),
    ).toHaveLength(1);
    expect(claimed.map((job) => job?.status)).toEqual(ids.map(() => 'running'));

    let renewed: Awaited<ReturnType<PostgresJobRepository['heartbeat']>> = [];
    expect(
      await statementsOf(async () => {
        renewed = await repository.heartbeat(
          ids.map((id, i) => ({
            id,
            leaseToken: tokens[i]!,
            leaseMs: 60_000,
            ...(i % 2 === 0 ? { progress: { fraction: i / 50, message: `step ${i}` } } : {}),
          })),
        );
      }),
    ).toHaveLength(1);
    expect(values(renewed)).toEqual(ids.map(() => ({ held: true, cancelRequested: false })));

    const outcome = (i: number): SettleOutcome =>
      i % 3 === 0
        ? { status: 'succeeded', output: { i }, retentionMs: 60_000 }
        : i % 3 === 1
          ? { status: 'failed', error: PROBLEM, retentionMs: 60_000 }
          : { status: 'queued', delayMs: 1_000, error: PROBLEM, refundAttempt: false };
    let settled: Awaited<ReturnType<PostgresJobRepository['settle']>> = [];
    const statements = await statementsOf(async () => {
      settled = await repository.settle(
        ids.map((id, i) => ({ id, leaseToken: tokens[i]!, outcome: outcome(i) })),
      );
    });
    expect(statements).toHaveLength(1);
    expect(statements[0]!.text).toMatch(/^\s*WITH locked AS/);
    expect(values(settled)).toEqual(ids.map(() => true));
    for (const [i, id] of ids.entries()) {
      const job = await repository.get(id);
      expect(job?.status).toBe(outcome(i).status);
      if (i % 3 === 0) expect(job?.output).toEqual({ i });
    }
  });

  it('statements with parameters are named prepared statements, prepared once per connection', async () => {
    const ids = await createJobs(repository, 'batch-prepared', 3);
    for (const id of ids) await repository.get(id);
    const named = recorded.statements.filter((statement) => statement.name !== undefined);
    expect(named.length).toBeGreaterThan(0);
    // The same text always has the same name, and different texts different names.
    const byName = new Map<string, string>();
    for (const { name, text } of named) {
      expect(byName.get(name!) ?? text).toBe(text);
      byName.set(name!, text);
    }
    expect(new Set(byName.values()).size).toBe(byName.size);

    // On one connection: each statement is prepared once, however often it runs.
    const single = recordingPool({ connectionString: DATABASE_URL, max: 1 });
    const prepared = createPostgresRepository({ pool: single.pool, schema, logger: silentLogger });
    const plain = recordingPool({ connectionString: DATABASE_URL, max: 1 });
    const unprepared = createPostgresRepository({
      pool: plain.pool,
      schema,
      preparedStatements: false,
      logger: silentLogger,
    });
    try {
      for (const repo of [prepared, unprepared]) {
        for (let round = 0; round < 3; round++) {
          const [id] = await createJobs(repo, 'batch-prepared', 1);
          await repo.get(id!);
          await repo.get(id!, 'header');
        }
      }
      const listed = await single.pool.query<{ name: string }>('SELECT name FROM pg_prepared_statements');
      const names = listed.rows.map((row) => row.name);
      expect(names.filter((name) => name.startsWith('jobs_')).sort()).toEqual(
        [
          ...new Set(single.statements.flatMap((statement) => (statement.name ? [statement.name] : []))),
        ].sort(),
      );
      expect(names.length).toBeGreaterThanOrEqual(3);
      // preparedStatements: false sends no names and leaves nothing prepared on the connection.
      expect(plain.statements.filter((statement) => statement.name !== undefined)).toEqual([]);
      const none = await plain.pool.query('SELECT name FROM pg_prepared_statements');
      expect(none.rows).toEqual([]);
    } finally {
      await prepared.close();
      await unprepared.close();
      await single.pool.end();
      await plain.pool.end();
    }
  });
});

describe('concurrent batches over the same jobs', () => {
  let first: PostgresJobRepository;
  let second: PostgresJobRepository;

  beforeAll(() => {
    first = testRepository(schema, { logger: silentLogger });
    second = testRepository(schema, { logger: silentLogger });
  });

  afterAll(async () => {
    await first.close();
    await second.close();
  });

  it('two claim batches of the same 50 jobs in opposite orders never deadlock, and each job is claimed once', async () => {
    for (let round = 0; round < 30; round++) {
      const ids = await createJobs(first, `opposite-claims-${round}`, 50);
      const a = ids.map((id) => ({ id, leaseToken: newLeaseToken(), leaseMs: 60_000 }));
      const b = [...ids].reverse().map((id) => ({ id, leaseToken: newLeaseToken(), leaseMs: 60_000 }));
      // Both calls resolve: a deadlock would reject one of them (40P01, mapped to UnavailableError).
      const [claimedA, claimedB] = await Promise.all([first.claim(a), second.claim(b)]);
      const winners = new Map<string, string>();
      for (const [requests, claimed] of [
        [a, claimedA],
        [b, claimedB],
      ] as const) {
        claimed.forEach((job, i) => {
          if (!job) return;
          expect(winners.has(job.id), `${job.id} claimed twice`).toBe(false);
          expect(job).toMatchObject({ id: requests[i]!.id, leaseToken: requests[i]!.leaseToken, attempt: 1 });
          winners.set(job.id, requests[i]!.leaseToken);
        });
      }
      expect([...winners.keys()].sort()).toEqual([...ids].sort());
      const stored = await withAdmin((client) =>
        client.query<{ id: string; lease_token: string; attempt: number }>(
          `SELECT id, lease_token, attempt FROM "${schema}".jobs WHERE id = ANY($1)`,
          [ids],
        ),
      );
      for (const row of stored.rows) {
        expect(row.attempt).toBe(1);
        expect(row.lease_token).toBe(winners.get(row.id));
      }
    }
  }, 120_000);

  it('heartbeat and settle batches of the same jobs in opposite orders never deadlock', async () => {
    for (let round = 0; round < 20; round++) {
      const ids = await createJobs(first, `opposite-settles-${round}`, 50);
      const requests = ids.map((id) => ({ id, leaseToken: newLeaseToken(), leaseMs: 60_000 }));
      expect((await first.claim(requests)).every((job) => job !== null)).toBe(true);
      const reversed = [...requests].reverse();
      // Two renewals of every lease, in opposite orders: all held.
      const [renewedA, renewedB] = await Promise.all([
        first.heartbeat(requests.map((r) => ({ ...r, progress: { fraction: 0.5 } }))),
        second.heartbeat(reversed),
      ]);
      expect(values(renewedA).every((result) => result.held)).toBe(true);
      expect(values(renewedB).every((result) => result.held)).toBe(true);
      // A settle of every job against a renewal in the opposite order: every settle is recorded.
      const [settled, renewed] = await Promise.all([
        first.settle(
          requests.map((r) => ({
            id: r.id,
            leaseToken: r.leaseToken,
            outcome: { status: 'succeeded', output: round, retentionMs: 60_000 } as const,
          })),
        ),
        second.heartbeat(reversed),
      ]);
      expect(values(settled)).toEqual(ids.map(() => true));
      // A renewal that came after the settle finds the job no longer running under its token.
      for (const result of values(renewed)) expect(result).toMatchObject({ cancelRequested: false });
      for (const id of ids) expect(await first.get(id, 'header')).toMatchObject({ status: 'succeeded' });
    }
  }, 120_000);

  it('a job twice in one claim batch is claimed once', async () => {
    const [id] = await createJobs(first, 'twice-in-batch', 1);
    const claimed = await first.claim([
      { id: id!, leaseToken: newLeaseToken(), leaseMs: 60_000 },
      { id: id!, leaseToken: newLeaseToken(), leaseMs: 60_000 },
    ]);
    expect(claimed.filter((job) => job !== null)).toHaveLength(1);
    expect(await first.get(id!, 'header')).toMatchObject({ status: 'running', attempt: 1 });
  });
});

describe('lease renewals and progress updates', () => {
  it('are HOT updates: they change no indexed column', async () => {
    // A schema of its own, used by one connection only, so the table's statistics count exactly our updates.
    const hotSchema = randomSchema('hot');
    const pool = recordingPool({ connectionString: DATABASE_URL, max: 1 });
    const repository = createPostgresRepository({ pool: pool.pool, schema: hotSchema, logger: silentLogger });
    const stats = async () => {
      // Pending statistics of the repository's one backend are flushed when it goes idle after this.
      await pool.pool.query('SELECT pg_stat_force_next_flush()');
      const result = await withAdmin((client) =>
        client.query<{ updates: string; hot: string }>(
          `SELECT n_tup_upd AS updates, n_tup_hot_upd AS hot FROM pg_stat_user_tables
           WHERE schemaname = $1 AND relname = 'jobs'`,
          [hotSchema],
        ),
      );
      return { updates: Number(result.rows[0]?.updates ?? 0), hot: Number(result.rows[0]?.hot ?? 0) };
    };
    try {
      await repository.migrate();
      const [id] = await createJobs(repository, 'hot', 1);
      const leaseToken = newLeaseToken();
      expect(await repository.claim([{ id: id!, leaseToken, leaseMs: 60_000 }])).toMatchObject([{ id }]);
      const before = await waitFor(async () => {
        const current = await stats();
        return current.updates >= 1 ? current : null;
      }, 'the claim to show in the statistics');
      for (let i = 0; i < 10; i++) {
        values(await repository.heartbeat([{ id: id!, leaseToken, leaseMs: 60_000 }]));
        values(
          await repository.heartbeat([
            {
              id: id!,
              leaseToken,
              leaseMs: 60_000,
              progress: { fraction: i / 10 },
              estimatedRemainingMs: 1_000 * i,
            },
          ]),
        );
      }
      const after = await waitFor(async () => {
        const current = await stats();
        return current.updates >= before.updates + 20 ? current : null;
      }, 'the renewals to show in the statistics');
      expect(after.updates - before.updates).toBe(20);
      expect(after.hot - before.hot).toBe(20);
    } finally {
      await repository.close();
      await pool.pool.end();
      await dropSchema(hotSchema);
    }
  }, 60_000);
});
