// submitInTransaction: a job inserted in the caller's own transaction exists if and only if it commits, is never
// handed out before the commit, and is dispatched at the commit by its change notification.
import {
  createJobService,
  createJobsRuntime,
  defineEndpoint,
  implement,
  type JobsRuntime,
  newJobId,
} from '@jobs/core';
import { createMemoryQueue, createMemoryRepository } from '@jobs/memory';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { PostgresJobRepository } from './repository.js';
import { DATABASE_URL, delay, dropSchema, randomSchema, testRepository } from './test-support.js';
import { submitInTransaction } from './transaction.js';

const schema = randomSchema('transaction');
const silent = { debug() {}, info() {}, warn() {}, error() {} };

const order = defineEndpoint({
  name: 'order-mail',
  input: z.object({ order: z.string() }),
  output: z.object({ sent: z.string() }),
  maxAttempts: 1,
});

let repository: PostgresJobRepository;
let runtime: JobsRuntime;
let caller: pg.Client;
/** The orders whose job ran, in order. */
let runs: string[];

beforeAll(async () => {
  const setup = testRepository(schema);
  await setup.migrate();
  await setup.pool.query(`CREATE TABLE "${schema}".orders (id text PRIMARY KEY, job_id text)`);
  await setup.close();
});

afterAll(async () => {
  await dropSchema(schema);
});

beforeEach(async () => {
  runs = [];
  repository = testRepository(schema, { logger: silent });
  runtime = createJobsRuntime({
    repository,
    queue: createMemoryQueue(),
    logger: silent,
    workers: [
      implement(order, (input) => {
        runs.push(input.order);
        return { sent: input.order };
      }),
    ],
    // No poll within a test: only a change notification (or a submit in this process) wakes the dispatcher.
    dispatcher: { pollIntervalMs: 600_000 },
    sweeper: false,
  });
  await runtime.start();
  caller = new pg.Client({ connectionString: DATABASE_URL, application_name: 'jobs-test-caller' });
  await caller.connect();
});

afterEach(async () => {
  await caller.end();
  await runtime.stop({ timeoutMs: 1_000 });
  await repository.close();
});

/** A job submitted the ordinary way, run to its end: every job dispatched before it was handed out too. */
async function barrier(): Promise<void> {
  const { job } = await runtime.service.submit(order.name, { order: `barrier-${newJobId()}` });
  expect(await runtime.service.wait(order.name, job.id, { until: 'final', timeoutMs: 10_000 })).toMatchObject(
    {
      status: 'succeeded',
    },
  );
}

async function orderRow(id: string) {
  const result = await repository.pool.query(`SELECT id, job_id FROM "${schema}".orders WHERE id = $1`, [id]);
  return result.rows[0] ?? null;
}

describe('submitInTransaction', () => {
  it('commit: the job exists with the business row, is not handed out before the commit, and runs after it', async () => {
    await caller.query('BEGIN');
    const submitted = await submitInTransaction(caller, runtime.service, order, { order: 'o-commit' });
    expect(submitted).toMatchObject({ created: true, job: { status: 'queued', endpoint: order.name } });
    const { job } = submitted;
    await caller.query(`INSERT INTO "${schema}".orders (id, job_id) VALUES ($1, $2)`, ['o-commit', job.id]);
    // Inside the transaction the job is there; outside it is not, and no dispatcher sees it, however long the
    // caller takes.
    const inside = await caller.query(`SELECT status FROM "${schema}".jobs WHERE id = $1`, [job.id]);
    expect(inside.rows).toEqual([{ status: 'queued' }]);
    await barrier();
    await delay(200);
    expect(await repository.get(job.id)).toBeNull();
    expect(runs).not.toContain('o-commit');

    await caller.query('COMMIT');
    expect(await orderRow('o-commit')).toEqual({ id: 'o-commit', job_id: job.id });
    // Woken by the notification of the commit (the dispatcher does not poll during the test).
    const final = await runtime.service.wait(order.name, job.id, { until: 'final', timeoutMs: 10_000 });
    expect(final).toMatchObject({ id: job.id, status: 'succeeded' });
    expect(await runtime.service.output(order.name, job.id)).toEqual({ sent: 'o-commit' });
    expect(runs.filter((run) => run === 'o-commit')).toHaveLength(1);
  });

  it('rollback: no job, no business row, nothing runs', async () => {
    await caller.query('BEGIN');
    await caller.query(`INSERT INTO "${schema}".orders (id) VALUES ($1)`, ['o-rollback']);
    const { job } = await submitInTransaction(caller, runtime.service, order.name, { order: 'o-rollback' });
    await caller.query('ROLLBACK');

    expect(await repository.get(job.id)).toBeNull();
    const rows = await repository.pool.query(`SELECT 1 FROM "${schema}".jobs WHERE id = $1`, [job.id]);
    expect(rows.rowCount).toBe(0);
    expect(await orderRow('o-rollback')).toBeNull();
    await barrier();
    expect(runs).not.toContain('o-rollback');
  });

  it('validates like submit before any statement: an invalid input throws and the transaction goes on', async () => {
    await caller.query('BEGIN');
    await caller.query(`INSERT INTO "${schema}".orders (id) VALUES ($1)`, ['o-invalid']);
    await expect(submitInTransaction(caller, runtime.service, order, { order: 42 })).rejects.toMatchObject({
      name: 'InvalidInputError',
      code: 'invalid_input',
    });
    await expect(
      submitInTransaction(caller, runtime.service, order, { order: 'x' }, { uniqueKey: '' }),
    ).rejects.toMatchObject({ name: 'InvalidInputError' });
    await caller.query('COMMIT');
    expect(await orderRow('o-invalid')).toEqual({ id: 'o-invalid', job_id: null });
  });

  it('keys work inside the transaction: an idempotent replay and a unique match return the committed job', async () => {
    const { job: held } = await runtime.service.submit(
      order.name,
      { order: 'held' },
      { uniqueKey: 'mail-1', idempotencyKey: 'idem-1', delayMs: 600_000 },
    );
    await caller.query('BEGIN');
    const unique = await submitInTransaction(
      caller,
      runtime.service,
      order,
      { order: 'other' },
      { uniqueKey: 'mail-1' },
    );
    expect(unique).toEqual({ job: held, created: false, reason: 'unique' });
    const replay = await submitInTransaction(
      caller,
      runtime.service,
      order,
      { order: 'held' },
      { idempotencyKey: 'idem-1' },
    );
    expect(replay).toMatchObject({ created: false, reason: 'idempotent', job: { id: held.id } });
    await caller.query('COMMIT');
    await runtime.service.delete(order.name, held.id);
  });

  it("a retry waiting on a unique key that the caller's transaction takes is refused once it commits", async () => {
    const failing = defineEndpoint({
      name: 'order-fail',
      input: order.input,
      output: order.output,
      maxAttempts: 1,
    });
    const failed = await repository.create([
      {
        id: newJobId(),
        endpoint: failing.name,
        input: { order: 'f' },
        owner: null,
        idempotencyKey: null,
        inputHash: null,
        maxAttempts: 1,
        uniqueKey: 'u',
      },
    ]);
    const failedJob = failed[0]!.ok ? failed[0]!.value.job : null;
    const [claimed] = await repository.claim([{ id: failedJob!.id, leaseToken: 't', leaseMs: 60_000 }]);
    expect(claimed).not.toBeNull();
    await repository.settle([
      {
        id: failedJob!.id,
        leaseToken: 't',
        outcome: { status: 'failed', error: { type: 'x', title: 'x', code: 'x' }, retentionMs: 60_000 },
      },
    ]);

    const service = createJobService({ repository, endpoints: [failing], logger: silent });
    try {
      await caller.query('BEGIN');
      const { job } = await submitInTransaction(caller, service, failing, { order: 'g' }, { uniqueKey: 'u' });
      // The retry sees no live holder (the insert is not committed) and waits on the unique index for it.
      const retrying = repository.retry(failedJob!.id, { attempts: 1 });
      await waitForLockWait();
      await caller.query('COMMIT');
      expect(await retrying).toMatchObject({
        retried: false,
        uniqueConflict: job.id,
        job: { status: 'failed' },
      });
      expect(await repository.get(failedJob!.id, 'header')).toMatchObject({ status: 'failed' });
      await repository.requestCancel(job.id, {
        retentionMs: 60_000,
        error: { type: 'x', title: 'x', code: 'x' },
      });
    } finally {
      await service.close();
    }
  });

  it("refuses a service whose repository is not PostgreSQL's", async () => {
    const service = createJobService({ repository: createMemoryRepository(), endpoints: [order] });
    await expect(submitInTransaction(caller, service, order, { order: 'x' })).rejects.toThrow(TypeError);
    await service.close();
  });
});

/**
 * Resolves once a statement of the test's repository waits for a lock (the retry behind the caller's insert).
 * Asked on a connection of its own: inside the caller's transaction, pg_stat_activity would stay as it was first
 * read.
 */
async function waitForLockWait(): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const waiting = await repository.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
       WHERE datname = current_database() AND application_name = 'jobs-test' AND wait_event_type = 'Lock'
         AND query LIKE '%max_attempts = j.attempt%'`,
    );
    if (waiting.rows[0]!.n > 0) return;
    await delay(10);
  }
  throw new Error('the retry never waited for the lock');
}
