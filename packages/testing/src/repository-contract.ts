import type { DispatchQuery, JobRecord, JobRepository, JobStatus, NewJob, SettleOutcome } from '@jobs/core';
import { newJobId, newLeaseToken } from '@jobs/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { delay, makeNewJob, problem, purgeJobs, trackJobs, uniqueName, waitFor } from './helpers.js';

export interface RepositoryContractOptions {
  /** Runs after each test, before the repository is closed (e.g. to drop what the test left in a shared store). */
  cleanup?: (repository: JobRepository) => Promise<void>;
  /** Timeout of each test. Default 30 s. */
  testTimeoutMs?: number;
  /** How long a test waits for an asynchronous effect (a notification). Default 10 s. */
  waitTimeoutMs?: number;
}

export type RepositoryFactory = () => Promise<JobRepository> | JobRepository;

/** A long lease: it never expires during a test. */
const LONG_LEASE = 600_000;
/** Timestamps of one operation may be taken at slightly different instants; values are checked to this much. */
const CLOCK_TOLERANCE_MS = 1_000;
/** Repository clock versus the test's clock (only used to catch unit or time zone errors). */
const SKEW_TOLERANCE_MS = 5 * 60_000;
const DISPATCH_LIMIT = 1_000;

/**
 * Registers a `describe` block that checks everything `JobRepository` (packages/core/src/repository.ts)
 * promises. Each test gets a fresh repository from `factory` and closes it afterwards; the jobs it created
 * are removed, so a store shared with other runs is fine (every test uses its own endpoint names).
 */
export function describeJobRepositoryContract(
  name: string,
  factory: RepositoryFactory,
  options: RepositoryContractOptions = {},
): void {
  const timeout = options.testTimeoutMs ?? 30_000;
  const waitTimeoutMs = options.waitTimeoutMs ?? 10_000;

  describe(`JobRepository contract: ${name}`, () => {
    let raw: JobRepository;
    let repo: JobRepository;
    let createdIds: Set<string>;
    let endpoint: string;

    beforeEach(async () => {
      raw = await factory();
      createdIds = new Set();
      repo = trackJobs(raw, createdIds);
      endpoint = uniqueName('repo');
    });

    afterEach(async () => {
      try {
        await purgeJobs(raw, createdIds);
        await options.cleanup?.(raw);
      } finally {
        await raw.close();
      }
    });

    async function create(overrides: Partial<NewJob> = {}): Promise<JobRecord> {
      const result = await repo.create(makeNewJob(endpoint, overrides));
      expect(result.created).toBe(true);
      return result.job;
    }

    async function mustGet(id: string): Promise<JobRecord> {
      const job = await repo.get(id);
      if (!job) throw new Error(`job ${id} should exist`);
      return job;
    }

    async function claimNew(leaseMs = LONG_LEASE, overrides: Partial<NewJob> = {}) {
      const job = await create(overrides);
      const token = newLeaseToken();
      const claimed = await repo.claim(job.id, { leaseToken: token, leaseMs });
      if (!claimed) throw new Error('a fresh queued job should be claimable');
      return { job: claimed, token };
    }

    async function finalJob(status: 'succeeded' | 'failed' | 'canceled', retentionMs = LONG_LEASE) {
      const { job, token } = await claimNew();
      const outcome: SettleOutcome =
        status === 'succeeded'
          ? { status, output: { result: job.id }, retentionMs }
          : status === 'failed'
            ? { status, error: problem('job_failed'), retentionMs }
            : { status, error: problem('canceled'), retentionMs };
      const settled = await repo.settle(job.id, token, outcome);
      if (!settled) throw new Error('settle by the lease holder should succeed');
      return settled;
    }

    function expectDuration(from: Date | null, to: Date | null, expectedMs: number) {
      expect(from).toBeInstanceOf(Date);
      expect(to).toBeInstanceOf(Date);
      const actual = to!.getTime() - from!.getTime();
      expect(actual).toBeGreaterThanOrEqual(expectedMs - CLOCK_TOLERANCE_MS);
      expect(actual).toBeLessThanOrEqual(expectedMs + CLOCK_TOLERANCE_MS);
    }

    function expectOrderedNewestFirst(jobs: JobRecord[]) {
      for (let i = 1; i < jobs.length; i++) {
        const a = jobs[i - 1]!;
        const b = jobs[i]!;
        const newer = a.createdAt.getTime() > b.createdAt.getTime();
        const tieBrokenById = a.createdAt.getTime() === b.createdAt.getTime() && a.id > b.id;
        expect(
          newer || tieBrokenById,
          `jobs ${i - 1} and ${i} are not ordered (createdAt desc, id desc)`,
        ).toBe(true);
      }
    }

    describe('create and get', () => {
      it(
        'stores a queued job with attempt 0, runAt = createdAt and no dispatch, lease or result',
        async () => {
          const eta = new Date(Date.now() + 60_000);
          const input = { text: 'hello', nested: { list: [1, 2, 3] } };
          const newJob = makeNewJob(endpoint, {
            input,
            owner: 'owner-1',
            idempotencyKey: 'key-1',
            inputHash: 'hash-1',
            maxAttempts: 5,
            estimatedCompletionAt: eta,
          });
          const result = await repo.create(newJob);
          expect(result.created).toBe(true);
          const job = result.job;
          expect(job).toMatchObject({
            id: newJob.id,
            endpoint,
            status: 'queued',
            attempt: 0,
            maxAttempts: 5,
            input,
            output: null,
            owner: 'owner-1',
            idempotencyKey: 'key-1',
            inputHash: 'hash-1',
            error: null,
            progress: null,
            cancelRequested: false,
            startedAt: null,
            finishedAt: null,
            expiresAt: null,
            dispatchedAt: null,
            leaseToken: null,
            leaseExpiresAt: null,
          });
          for (const field of ['createdAt', 'updatedAt', 'runAt', 'estimatedCompletionAt'] as const) {
            expect(job[field], field).toBeInstanceOf(Date);
          }
          expect(job.estimatedCompletionAt!.getTime()).toBe(eta.getTime());
          expect(Math.abs(job.runAt.getTime() - job.createdAt.getTime())).toBeLessThanOrEqual(
            CLOCK_TOLERANCE_MS,
          );
          expect(Math.abs(job.createdAt.getTime() - Date.now())).toBeLessThanOrEqual(SKEW_TOLERANCE_MS);
          expect(await repo.get(newJob.id)).toEqual(job);
        },
        timeout,
      );

      it(
        'get of an unknown id is null',
        async () => {
          expect(await repo.get(newJobId())).toBeNull();
        },
        timeout,
      );

      it(
        'round-trips JSON values of every kind',
        async () => {
          const inputs: unknown[] = [
            null,
            true,
            0,
            -12.5,
            'plain',
            'unicode é 漢字 🚀 "quotes" \\ back',
            [],
            [1, 'two', { three: 3 }, [null]],
            {},
            { deep: { deeper: { deepest: [{ a: 1 }, { b: false }] } }, empty: '' },
          ];
          for (const input of inputs) {
            const job = await create({ input });
            expect(job.input, JSON.stringify(input)).toEqual(input);
            expect((await mustGet(job.id)).input, JSON.stringify(input)).toEqual(input);
          }
        },
        timeout,
      );

      it(
        'a value the store cannot hold is either stored faithfully or refused with InvalidInputError',
        async () => {
          const input = { text: 'nul \u0000 char' };
          const newJob = makeNewJob(endpoint, { input });
          let result: Awaited<ReturnType<JobRepository['create']>> | undefined;
          try {
            result = await repo.create(newJob);
          } catch (error) {
            expect(error).toMatchObject({ name: 'InvalidInputError', code: 'invalid_input' });
            expect(await repo.get(newJob.id)).toBeNull();
            return;
          }
          expect(result.job.input).toEqual(input);
          expect((await mustGet(newJob.id)).input).toEqual(input);
        },
        timeout,
      );

      it(
        'copies values in and out',
        async () => {
          const eta = new Date(Date.now() + 60_000);
          const input = { list: [1, 2], nested: { value: 'a' } };
          const newJob = makeNewJob(endpoint, { input, estimatedCompletionAt: eta });
          const { job } = await repo.create(newJob);
          const stored = await mustGet(job.id);

          input.list.push(3);
          input.nested.value = 'changed';
          eta.setTime(0);
          (job.input as typeof input).list.push(4);
          job.createdAt.setTime(0);
          job.status = 'failed';
          stored.runAt.setTime(0);
          (stored.input as typeof input).nested.value = 'changed too';

          const again = await mustGet(job.id);
          expect(again.input).toEqual({ list: [1, 2], nested: { value: 'a' } });
          expect(again.status).toBe('queued');
          expect(again.createdAt.getTime()).not.toBe(0);
          expect(again.runAt.getTime()).not.toBe(0);
          expect(again.estimatedCompletionAt!.getTime()).not.toBe(0);

          const token = newLeaseToken();
          await repo.claim(job.id, { leaseToken: token, leaseMs: LONG_LEASE });
          const progress = { fraction: 0.5, message: 'half' };
          await repo.heartbeat(job.id, token, { leaseMs: LONG_LEASE, progress });
          progress.fraction = 0.9;
          expect((await mustGet(job.id)).progress).toEqual({ fraction: 0.5, message: 'half' });

          const output = { files: ['a.txt'] };
          const settled = await repo.settle(job.id, token, {
            status: 'succeeded',
            output,
            retentionMs: LONG_LEASE,
          });
          output.files.push('b.txt');
          (settled!.output as typeof output).files.push('c.txt');
          expect((await mustGet(job.id)).output).toEqual({ files: ['a.txt'] });
        },
        timeout,
      );

      it(
        'copies errors in',
        async () => {
          const { job, token } = await claimNew();
          const error = problem('job_failed');
          await repo.settle(job.id, token, { status: 'failed', error, retentionMs: LONG_LEASE });
          error.detail = 'changed';
          expect((await mustGet(job.id)).error).toEqual(problem('job_failed'));
        },
        timeout,
      );
    });

    describe('idempotency', () => {
      it(
        'the same (owner, endpoint, key) returns the original job and stores nothing',
        async () => {
          const original = await create({ owner: 'alice', idempotencyKey: 'k1', input: { n: 1 } });
          const second = makeNewJob(endpoint, { owner: 'alice', idempotencyKey: 'k1', input: { n: 2 } });
          const result = await repo.create(second);
          expect(result.created).toBe(false);
          expect(result.job.id).toBe(original.id);
          expect(result.job.input).toEqual({ n: 1 });
          expect(await repo.get(second.id)).toBeNull();
        },
        timeout,
      );

      it(
        'returns the original in whatever state it is now',
        async () => {
          const keyed = await create({ idempotencyKey: 'state-key' });
          const token = newLeaseToken();
          await repo.claim(keyed.id, { leaseToken: token, leaseMs: LONG_LEASE });
          const result = await repo.create(makeNewJob(endpoint, { idempotencyKey: 'state-key' }));
          expect(result.created).toBe(false);
          expect(result.job).toMatchObject({ id: keyed.id, status: 'running', attempt: 1 });
        },
        timeout,
      );

      it(
        'a different owner, endpoint or key creates a new job',
        async () => {
          const original = await create({ owner: 'alice', idempotencyKey: 'k1' });
          const otherOwner = await repo.create(makeNewJob(endpoint, { owner: 'bob', idempotencyKey: 'k1' }));
          const otherEndpoint = await repo.create(
            makeNewJob(uniqueName('repo'), { owner: 'alice', idempotencyKey: 'k1' }),
          );
          const otherKey = await repo.create(makeNewJob(endpoint, { owner: 'alice', idempotencyKey: 'k2' }));
          const nullOwner = await repo.create(makeNewJob(endpoint, { owner: null, idempotencyKey: 'k1' }));
          const results = [otherOwner, otherEndpoint, otherKey, nullOwner];
          for (const result of results) expect(result.created).toBe(true);
          const ids = new Set([original.id, ...results.map((r) => r.job.id)]);
          expect(ids.size).toBe(5);
        },
        timeout,
      );

      it(
        'a null owner counts as one owner',
        async () => {
          const first = await create({ owner: null, idempotencyKey: 'anon' });
          const second = await repo.create(makeNewJob(endpoint, { owner: null, idempotencyKey: 'anon' }));
          expect(second.created).toBe(false);
          expect(second.job.id).toBe(first.id);
        },
        timeout,
      );

      it(
        'jobs without a key never collide',
        async () => {
          const a = await create({ owner: 'alice' });
          const b = await create({ owner: 'alice' });
          expect(a.id).not.toBe(b.id);
        },
        timeout,
      );

      it(
        'of 20 concurrent creates with the same key exactly one creates, and all return its id',
        async () => {
          const results = await Promise.all(
            Array.from({ length: 20 }, (_, i) =>
              repo.create(makeNewJob(endpoint, { owner: 'racer', idempotencyKey: 'same', input: { i } })),
            ),
          );
          const created = results.filter((r) => r.created);
          expect(created).toHaveLength(1);
          const winner = created[0]!.job.id;
          for (const result of results) expect(result.job.id).toBe(winner);
          const page = await repo.list({ endpoint, owner: 'racer', limit: 100 });
          expect(page.jobs.map((j) => j.id)).toEqual([winner]);
        },
        timeout,
      );
    });

    describe('claim', () => {
      it(
        'moves a queued job to running: attempt 1, the token, a lease of leaseMs, startedAt, no dispatch',
        async () => {
          const job = await create();
          await repo.markDispatched(job.id);
          const token = newLeaseToken();
          const claimed = await repo.claim(job.id, { leaseToken: token, leaseMs: 30_000 });
          expect(claimed).not.toBeNull();
          expect(claimed).toMatchObject({
            id: job.id,
            status: 'running',
            attempt: 1,
            leaseToken: token,
            dispatchedAt: null,
            progress: null,
            finishedAt: null,
            expiresAt: null,
            cancelRequested: false,
          });
          expect(claimed!.startedAt).toBeInstanceOf(Date);
          expect(claimed!.startedAt!.getTime()).toBeGreaterThanOrEqual(job.createdAt.getTime());
          expect(claimed!.updatedAt.getTime()).toBeGreaterThanOrEqual(job.updatedAt.getTime());
          expectDuration(claimed!.startedAt, claimed!.leaseExpiresAt, 30_000);
          expect(await repo.get(job.id)).toEqual(claimed);
        },
        timeout,
      );

      it(
        'refuses unknown and final jobs',
        async () => {
          expect(
            await repo.claim(newJobId(), { leaseToken: newLeaseToken(), leaseMs: LONG_LEASE }),
          ).toBeNull();
          for (const status of ['succeeded', 'failed', 'canceled'] as const) {
            const job = await finalJob(status);
            expect(await repo.claim(job.id, { leaseToken: newLeaseToken(), leaseMs: LONG_LEASE })).toBeNull();
            expect(await repo.get(job.id)).toEqual(job);
          }
          const canceled = await create();
          await repo.requestCancel(canceled.id, { retentionMs: LONG_LEASE, error: problem('canceled') });
          expect(
            await repo.claim(canceled.id, { leaseToken: newLeaseToken(), leaseMs: LONG_LEASE }),
          ).toBeNull();
          expect((await mustGet(canceled.id)).status).toBe('canceled');
        },
        timeout,
      );

      it(
        'refuses a job running under a live lease, and changes nothing',
        async () => {
          const { job } = await claimNew();
          expect(await repo.claim(job.id, { leaseToken: newLeaseToken(), leaseMs: LONG_LEASE })).toBeNull();
          expect(await repo.get(job.id)).toEqual(job);
        },
        timeout,
      );

      it(
        'of 100 concurrent claims of one job exactly one wins',
        async () => {
          const job = await create();
          const tokens = Array.from({ length: 100 }, () => newLeaseToken());
          const results = await Promise.all(
            tokens.map((leaseToken) => repo.claim(job.id, { leaseToken, leaseMs: LONG_LEASE })),
          );
          const winners = results.filter((r): r is JobRecord => r !== null);
          expect(winners).toHaveLength(1);
          const stored = await mustGet(job.id);
          expect(stored).toMatchObject({ status: 'running', attempt: 1, leaseToken: winners[0]!.leaseToken });
          expect(tokens).toContain(stored.leaseToken);
        },
        timeout,
      );

      it(
        'of 50 concurrent claims of a job whose lease expired exactly one wins',
        async () => {
          const { job } = await claimNew(50);
          await delay(120);
          const results = await Promise.all(
            Array.from({ length: 50 }, () =>
              repo.claim(job.id, { leaseToken: newLeaseToken(), leaseMs: LONG_LEASE }),
            ),
          );
          const winners = results.filter((r): r is JobRecord => r !== null);
          expect(winners).toHaveLength(1);
          expect(await mustGet(job.id)).toMatchObject({ attempt: 2, leaseToken: winners[0]!.leaseToken });
        },
        timeout,
      );

      it(
        'refuses a queued job that is not due yet, and takes it once due',
        async () => {
          const { job, token } = await claimNew();
          const requeued = await repo.settle(job.id, token, {
            status: 'queued',
            delayMs: 60_000,
            error: null,
            refundAttempt: false,
          });
          expect(requeued).not.toBeNull();
          expect(await repo.claim(job.id, { leaseToken: newLeaseToken(), leaseMs: LONG_LEASE })).toBeNull();
          expect(await repo.get(job.id)).toEqual(requeued);

          const other = await claimNew();
          await repo.settle(other.job.id, other.token, {
            status: 'queued',
            delayMs: 50,
            error: null,
            refundAttempt: false,
          });
          await delay(120);
          const again = await repo.claim(other.job.id, { leaseToken: newLeaseToken(), leaseMs: LONG_LEASE });
          expect(again).toMatchObject({ status: 'running', attempt: 2 });
        },
        timeout,
      );

      it(
        'takes a job whose lease expired as a new attempt; the old token is refused from then on',
        async () => {
          const { job, token: oldToken } = await claimNew(50);
          await repo.heartbeat(job.id, oldToken, { leaseMs: 50, progress: { fraction: 0.3 } });
          await delay(120);
          const newToken = newLeaseToken();
          const reclaimed = await repo.claim(job.id, { leaseToken: newToken, leaseMs: LONG_LEASE });
          expect(reclaimed).toMatchObject({
            status: 'running',
            attempt: 2,
            leaseToken: newToken,
            progress: null,
          });
          expect(reclaimed!.startedAt!.getTime()).toBeGreaterThan(job.startedAt!.getTime());
          expectDuration(reclaimed!.startedAt, reclaimed!.leaseExpiresAt, LONG_LEASE);

          const beat = await repo.heartbeat(job.id, oldToken, {
            leaseMs: LONG_LEASE,
            progress: { fraction: 0.9 },
          });
          expect(beat.held).toBe(false);
          expect(
            await repo.settle(job.id, oldToken, { status: 'succeeded', output: 'stale', retentionMs: 1000 }),
          ).toBeNull();
          expect(await repo.get(job.id)).toEqual(reclaimed);

          const done = await repo.settle(job.id, newToken, {
            status: 'succeeded',
            output: 'fresh',
            retentionMs: 1000,
          });
          expect(done).toMatchObject({ status: 'succeeded', output: 'fresh', attempt: 2 });
        },
        timeout,
      );

      it(
        'a racing claim and cancel of a queued job end consistently',
        async () => {
          const jobs = await Promise.all(Array.from({ length: 10 }, () => create()));
          await Promise.all(
            jobs.map(async (job) => {
              const token = newLeaseToken();
              const [claimed, canceled] = await Promise.all([
                repo.claim(job.id, { leaseToken: token, leaseMs: LONG_LEASE }),
                repo.requestCancel(job.id, { retentionMs: LONG_LEASE, error: problem('canceled') }),
              ]);
              expect(canceled).not.toBeNull();
              const stored = await mustGet(job.id);
              if (claimed) {
                expect(stored).toMatchObject({ status: 'running', leaseToken: token, cancelRequested: true });
              } else {
                expect(stored).toMatchObject({ status: 'canceled', leaseToken: null });
              }
            }),
          );
        },
        timeout,
      );
    });

    describe('heartbeat', () => {
      it(
        'extends the lease and stores progress and ETA; undefined leaves them, null clears them',
        async () => {
          const { job, token } = await claimNew(1_000);
          const eta = new Date(Date.now() + 120_000);
          const beat = await repo.heartbeat(job.id, token, {
            leaseMs: 60_000,
            progress: { fraction: 0.25, message: 'a quarter' },
            estimatedCompletionAt: eta,
          });
          expect(beat).toEqual({ held: true, cancelRequested: false });
          const afterBeat = await mustGet(job.id);
          expect(afterBeat.progress).toEqual({ fraction: 0.25, message: 'a quarter' });
          expect(afterBeat.estimatedCompletionAt!.getTime()).toBe(eta.getTime());
          expect(afterBeat.leaseToken).toBe(token);
          expect(afterBeat.status).toBe('running');
          expectDuration(afterBeat.startedAt, afterBeat.leaseExpiresAt, 60_000);

          expect((await repo.heartbeat(job.id, token, { leaseMs: 60_000 })).held).toBe(true);
          const unchanged = await mustGet(job.id);
          expect(unchanged.progress).toEqual({ fraction: 0.25, message: 'a quarter' });
          expect(unchanged.estimatedCompletionAt!.getTime()).toBe(eta.getTime());

          await repo.heartbeat(job.id, token, { leaseMs: 60_000, progress: { fraction: 0.5 } });
          expect((await mustGet(job.id)).progress).toEqual({ fraction: 0.5 });

          await repo.heartbeat(job.id, token, {
            leaseMs: 60_000,
            progress: null,
            estimatedCompletionAt: null,
          });
          const cleared = await mustGet(job.id);
          expect(cleared.progress).toBeNull();
          expect(cleared.estimatedCompletionAt).toBeNull();
        },
        timeout,
      );

      it(
        'a renewed lease keeps other claimers out past the original lease',
        async () => {
          const { job, token } = await claimNew(100);
          expect((await repo.heartbeat(job.id, token, { leaseMs: LONG_LEASE })).held).toBe(true);
          await delay(200);
          expect(await repo.claim(job.id, { leaseToken: newLeaseToken(), leaseMs: LONG_LEASE })).toBeNull();
          expect((await mustGet(job.id)).leaseToken).toBe(token);
        },
        timeout,
      );

      it(
        'reports cancelRequested',
        async () => {
          const { job, token } = await claimNew();
          await repo.requestCancel(job.id, { retentionMs: LONG_LEASE, error: problem('canceled') });
          expect(await repo.heartbeat(job.id, token, { leaseMs: LONG_LEASE })).toEqual({
            held: true,
            cancelRequested: true,
          });
        },
        timeout,
      );

      it(
        'is refused for a wrong token, an unknown job, a queued job and after settle, and changes nothing',
        async () => {
          const { job, token } = await claimNew();
          const before = await mustGet(job.id);
          const wrong = await repo.heartbeat(job.id, newLeaseToken(), {
            leaseMs: LONG_LEASE * 2,
            progress: { fraction: 0.7 },
          });
          expect(wrong.held).toBe(false);
          expect(await repo.get(job.id)).toEqual(before);

          expect((await repo.heartbeat(newJobId(), token, { leaseMs: LONG_LEASE })).held).toBe(false);

          const queued = await create();
          expect((await repo.heartbeat(queued.id, token, { leaseMs: LONG_LEASE })).held).toBe(false);
          expect(await repo.get(queued.id)).toEqual(queued);

          const settled = await repo.settle(job.id, token, {
            status: 'succeeded',
            output: 1,
            retentionMs: 1000,
          });
          const after = await repo.heartbeat(job.id, token, {
            leaseMs: LONG_LEASE,
            progress: { fraction: 1 },
          });
          expect(after.held).toBe(false);
          expect(await repo.get(job.id)).toEqual(settled);
        },
        timeout,
      );
    });

    describe('settle', () => {
      it(
        'succeeded stores the output, sets finishedAt and expiresAt = now + retention, clears the lease',
        async () => {
          const { job, token } = await claimNew();
          const settled = await repo.settle(job.id, token, {
            status: 'succeeded',
            output: { answer: 42 },
            retentionMs: 3_600_000,
          });
          expect(settled).toMatchObject({
            id: job.id,
            status: 'succeeded',
            output: { answer: 42 },
            error: null,
            attempt: 1,
            leaseToken: null,
            leaseExpiresAt: null,
          });
          expect(settled!.finishedAt!.getTime()).toBeGreaterThanOrEqual(job.startedAt!.getTime());
          expect(settled!.updatedAt.getTime()).toBeGreaterThanOrEqual(job.updatedAt.getTime());
          expectDuration(settled!.finishedAt, settled!.expiresAt, 3_600_000);
          expect(await repo.get(job.id)).toEqual(settled);
        },
        timeout,
      );

      it(
        'failed stores the error',
        async () => {
          const { job, token } = await claimNew();
          const error = { ...problem('job_failed'), extra: { reason: 'disk full' } };
          const settled = await repo.settle(job.id, token, { status: 'failed', error, retentionMs: 60_000 });
          expect(settled).toMatchObject({
            status: 'failed',
            error,
            output: null,
            leaseToken: null,
            leaseExpiresAt: null,
          });
          expectDuration(settled!.finishedAt, settled!.expiresAt, 60_000);
          expect(await repo.get(job.id)).toEqual(settled);
        },
        timeout,
      );

      it(
        'canceled stores the error or null',
        async () => {
          const a = await claimNew();
          const withError = await repo.settle(a.job.id, a.token, {
            status: 'canceled',
            error: problem('canceled'),
            retentionMs: 60_000,
          });
          expect(withError).toMatchObject({
            status: 'canceled',
            error: problem('canceled'),
            leaseToken: null,
          });
          expectDuration(withError!.finishedAt, withError!.expiresAt, 60_000);

          const b = await claimNew();
          const withoutError = await repo.settle(b.job.id, b.token, {
            status: 'canceled',
            error: null,
            retentionMs: 60_000,
          });
          expect(withoutError).toMatchObject({ status: 'canceled', error: null, leaseToken: null });
          expect(withoutError!.finishedAt).toBeInstanceOf(Date);
        },
        timeout,
      );

      it(
        'with a stale token is refused and changes nothing',
        async () => {
          const { job } = await claimNew();
          const before = await mustGet(job.id);
          for (const outcome of [
            { status: 'succeeded', output: 'x', retentionMs: 1 },
            { status: 'failed', error: problem('job_failed'), retentionMs: 1 },
            { status: 'canceled', error: null, retentionMs: 1 },
            { status: 'queued', delayMs: 0, error: null, refundAttempt: true },
          ] satisfies SettleOutcome[]) {
            expect(await repo.settle(job.id, newLeaseToken(), outcome), outcome.status).toBeNull();
            expect(await repo.get(job.id)).toEqual(before);
          }
        },
        timeout,
      );

      it(
        'is refused for a queued or unknown job',
        async () => {
          const queued = await create();
          const outcome: SettleOutcome = { status: 'succeeded', output: 1, retentionMs: 1000 };
          expect(await repo.settle(queued.id, newLeaseToken(), outcome)).toBeNull();
          expect(await repo.get(queued.id)).toEqual(queued);
          expect(await repo.settle(newJobId(), newLeaseToken(), outcome)).toBeNull();
        },
        timeout,
      );

      it(
        'a second settle with the same token is refused and changes nothing',
        async () => {
          const { job, token } = await claimNew();
          const first = await repo.settle(job.id, token, {
            status: 'succeeded',
            output: 'one',
            retentionMs: 60_000,
          });
          expect(first).not.toBeNull();
          expect(
            await repo.settle(job.id, token, { status: 'failed', error: problem('x'), retentionMs: 1 }),
          ).toBeNull();
          expect(
            await repo.settle(job.id, token, { status: 'succeeded', output: 'two', retentionMs: 1 }),
          ).toBeNull();
          expect(await repo.get(job.id)).toEqual(first);
        },
        timeout,
      );

      it(
        'queued with delayMs requeues: runAt = now + delay, lease, dispatch, progress and ETA cleared',
        async () => {
          const { job, token } = await claimNew();
          await repo.markDispatched(job.id);
          await repo.heartbeat(job.id, token, {
            leaseMs: LONG_LEASE,
            progress: { fraction: 0.4 },
            estimatedCompletionAt: new Date(Date.now() + 10_000),
          });
          const error = problem('job_failed');
          const requeued = await repo.settle(job.id, token, {
            status: 'queued',
            delayMs: 30_000,
            error,
            refundAttempt: false,
          });
          expect(requeued).toMatchObject({
            status: 'queued',
            attempt: 1,
            error,
            leaseToken: null,
            leaseExpiresAt: null,
            dispatchedAt: null,
            progress: null,
            estimatedCompletionAt: null,
            finishedAt: null,
            expiresAt: null,
          });
          expectDuration(job.startedAt, requeued!.runAt, 30_000);
          expect(await repo.get(job.id)).toEqual(requeued);
          expect(
            await repo.settle(job.id, token, { status: 'succeeded', output: 1, retentionMs: 1 }),
          ).toBeNull();
        },
        timeout,
      );

      it(
        'queued with refundAttempt gives the attempt back',
        async () => {
          const { job, token } = await claimNew();
          const released = await repo.settle(job.id, token, {
            status: 'queued',
            delayMs: 0,
            error: null,
            refundAttempt: true,
          });
          expect(released).toMatchObject({ status: 'queued', attempt: 0, error: null, leaseToken: null });
          const token2 = newLeaseToken();
          const again = await repo.claim(job.id, { leaseToken: token2, leaseMs: LONG_LEASE });
          expect(again).toMatchObject({ status: 'running', attempt: 1, leaseToken: token2 });
          await repo.settle(job.id, token2, {
            status: 'queued',
            delayMs: 0,
            error: null,
            refundAttempt: false,
          });
          const third = await repo.claim(job.id, { leaseToken: newLeaseToken(), leaseMs: LONG_LEASE });
          expect(third).toMatchObject({ status: 'running', attempt: 2 });
        },
        timeout,
      );
    });

    describe('requestCancel', () => {
      it(
        'cancels a queued job: final, with the error, finishedAt and expiresAt = now + retention',
        async () => {
          const job = await create();
          const error = problem('canceled');
          const canceled = await repo.requestCancel(job.id, { retentionMs: 120_000, error });
          expect(canceled).toMatchObject({
            id: job.id,
            status: 'canceled',
            error,
            leaseToken: null,
            output: null,
          });
          expectDuration(canceled!.finishedAt, canceled!.expiresAt, 120_000);
          expect(await repo.get(job.id)).toEqual(canceled);
        },
        timeout,
      );

      it(
        'marks a running job cancelRequested and leaves it running under its lease',
        async () => {
          const { job, token } = await claimNew();
          const result = await repo.requestCancel(job.id, { retentionMs: 1, error: problem('canceled') });
          expect(result).toMatchObject({
            status: 'running',
            cancelRequested: true,
            leaseToken: token,
            finishedAt: null,
            expiresAt: null,
          });
          expect(await repo.get(job.id)).toEqual(result);
          const twice = await repo.requestCancel(job.id, { retentionMs: 1, error: problem('canceled') });
          expect(twice).toMatchObject({ status: 'running', cancelRequested: true });
          const settled = await repo.settle(job.id, token, {
            status: 'canceled',
            error: problem('canceled'),
            retentionMs: 60_000,
          });
          expect(settled).toMatchObject({ status: 'canceled' });
        },
        timeout,
      );

      it(
        'leaves a final job as it is',
        async () => {
          for (const status of ['succeeded', 'failed', 'canceled'] as const) {
            const job = await finalJob(status);
            const result = await repo.requestCancel(job.id, { retentionMs: 1, error: problem('other') });
            expect(result, status).toEqual(job);
            expect(await repo.get(job.id), status).toEqual(job);
          }
        },
        timeout,
      );

      it(
        'is null for an unknown job',
        async () => {
          expect(
            await repo.requestCancel(newJobId(), { retentionMs: 1, error: problem('canceled') }),
          ).toBeNull();
        },
        timeout,
      );
    });

    describe('remove', () => {
      it(
        'deletes a final job and returns it',
        async () => {
          for (const status of ['succeeded', 'failed', 'canceled'] as const) {
            const job = await finalJob(status);
            const removed = await repo.remove(job.id);
            expect(removed, status).toEqual(job);
            expect(await repo.get(job.id)).toBeNull();
            expect(await repo.remove(job.id)).toBeNull();
          }
        },
        timeout,
      );

      it(
        'refuses queued, running and unknown jobs',
        async () => {
          const queued = await create();
          const { job: running } = await claimNew();
          expect(await repo.remove(queued.id)).toBeNull();
          expect(await repo.remove(running.id)).toBeNull();
          expect(await repo.get(queued.id)).toEqual(queued);
          expect(await repo.get(running.id)).toEqual(running);
          expect(await repo.remove(newJobId())).toBeNull();
        },
        timeout,
      );

      it(
        'frees the idempotency key',
        async () => {
          const job = await create({ idempotencyKey: 'reuse' });
          await repo.requestCancel(job.id, { retentionMs: LONG_LEASE, error: problem('canceled') });
          await repo.remove(job.id);
          const again = await repo.create(makeNewJob(endpoint, { idempotencyKey: 'reuse' }));
          expect(again.created).toBe(true);
          expect(again.job.id).not.toBe(job.id);
        },
        timeout,
      );
    });

    describe('markDispatched', () => {
      it(
        'records the dispatch of queued jobs and of running jobs whose lease expired; claim clears it',
        async () => {
          const job = await create();
          await repo.markDispatched(job.id);
          const dispatched = await mustGet(job.id);
          expect(dispatched.dispatchedAt).toBeInstanceOf(Date);
          expect(dispatched.dispatchedAt!.getTime()).toBeGreaterThanOrEqual(job.createdAt.getTime());
          expect(dispatched.status).toBe('queued');

          const token = newLeaseToken();
          const claimed = await repo.claim(job.id, { leaseToken: token, leaseMs: 300 });
          expect(claimed!.dispatchedAt).toBeNull();
          // A job claimed before its publisher recorded the dispatch keeps null, so it is found again at once
          // should its worker die.
          await repo.markDispatched(job.id);
          expect(await mustGet(job.id)).toMatchObject({
            status: 'running',
            leaseToken: token,
            dispatchedAt: null,
          });

          await delay(400);
          await repo.markDispatched(job.id);
          const expired = await mustGet(job.id);
          expect(expired.dispatchedAt).toBeInstanceOf(Date);
          expect(expired).toMatchObject({ status: 'running', leaseToken: token });
        },
        timeout,
      );

      it(
        'is a no-op for final and unknown jobs',
        async () => {
          const job = await finalJob('succeeded');
          await repo.markDispatched(job.id);
          expect(await repo.get(job.id)).toEqual(job);
          await expect(repo.markDispatched(newJobId())).resolves.toBeUndefined();
        },
        timeout,
      );
    });

    describe('findDispatchable', () => {
      const query = (overrides: Partial<DispatchQuery> = {}): DispatchQuery => ({
        undispatchedGraceMs: 60_000,
        redispatchAfterMs: 60_000,
        limit: DISPATCH_LIMIT,
        ...overrides,
      });

      async function dispatchableIds(q: DispatchQuery): Promise<string[]> {
        const found = await repo.findDispatchable(q);
        expect(found.length).toBeLessThanOrEqual(q.limit);
        if (q.endpoint !== undefined) for (const f of found) expect(f.endpoint).toBe(q.endpoint);
        return found.map((f) => f.id);
      }

      it(
        'finds a queued job never dispatched once the grace passed, with its endpoint',
        async () => {
          const job = await create();
          expect(await dispatchableIds(query())).not.toContain(job.id);
          await delay(80);
          const found = await repo.findDispatchable(query({ undispatchedGraceMs: 20 }));
          expect(found).toContainEqual({ id: job.id, endpoint });
        },
        timeout,
      );

      it(
        'skips a recently dispatched job and finds it again after redispatchAfterMs',
        async () => {
          const job = await create();
          await repo.markDispatched(job.id);
          expect(await dispatchableIds(query({ undispatchedGraceMs: 0 }))).not.toContain(job.id);
          await delay(80);
          expect(await dispatchableIds(query({ undispatchedGraceMs: 0, redispatchAfterMs: 20 }))).toContain(
            job.id,
          );
        },
        timeout,
      );

      it(
        'skips a queued job that is not due yet',
        async () => {
          const { job, token } = await claimNew();
          await repo.settle(job.id, token, {
            status: 'queued',
            delayMs: 60_000,
            error: null,
            refundAttempt: false,
          });
          await delay(50);
          expect(
            await dispatchableIds(query({ undispatchedGraceMs: 0, redispatchAfterMs: 0 })),
          ).not.toContain(job.id);
        },
        timeout,
      );

      it(
        'finds a running job whose lease expired, unless it was dispatched within redispatchAfterMs',
        async () => {
          const { job } = await claimNew(50);
          await delay(120);
          expect(await dispatchableIds(query())).toContain(job.id);
          await repo.markDispatched(job.id);
          expect(await dispatchableIds(query())).not.toContain(job.id);
          await delay(80);
          expect(await dispatchableIds(query({ redispatchAfterMs: 20 }))).toContain(job.id);
        },
        timeout,
      );

      it(
        'skips running jobs under a live lease and final jobs',
        async () => {
          const { job: running } = await claimNew();
          const finals = await Promise.all([finalJob('succeeded'), finalJob('failed'), finalJob('canceled')]);
          const canceled = await create();
          await repo.requestCancel(canceled.id, { retentionMs: LONG_LEASE, error: problem('canceled') });
          await delay(80);
          const ids = await dispatchableIds(query({ undispatchedGraceMs: 0, redispatchAfterMs: 0 }));
          for (const id of [running.id, canceled.id, ...finals.map((j) => j.id)])
            expect(ids).not.toContain(id);
        },
        timeout,
      );

      it(
        'with redispatchAfterMs null finds the jobs never dispatched: queued past the grace, running with an expired lease',
        async () => {
          const queued = await create();
          // Dispatched, then requeued by a retry: the requeue clears the dispatch, so it counts as never dispatched.
          const { job: retried, token: retriedToken } = await claimNew();
          await repo.markDispatched(retried.id);
          await repo.settle(retried.id, retriedToken, {
            status: 'queued',
            delayMs: 0,
            error: problem('job_failed'),
            refundAttempt: false,
          });
          // Dispatched before its claim: the claim clears the dispatch.
          const dispatchedThenClaimed = await create();
          await repo.markDispatched(dispatchedThenClaimed.id);
          await repo.claim(dispatchedThenClaimed.id, { leaseToken: newLeaseToken(), leaseMs: 50 });
          const { job: expired } = await claimNew(50);
          await delay(120);
          const ids = await dispatchableIds(query({ undispatchedGraceMs: 20, redispatchAfterMs: null }));
          for (const id of [queued.id, retried.id, dispatchedThenClaimed.id, expired.id])
            expect(ids).toContain(id);
        },
        timeout,
      );

      it(
        'with redispatchAfterMs null never finds a job dispatched since: queued, or running with an expired lease',
        async () => {
          const queued = await create();
          await repo.markDispatched(queued.id);
          const { job: running } = await claimNew(50);
          await delay(120);
          // The lease expired; the job was handed to the queue again (by a sweeper) after the claim.
          await repo.markDispatched(running.id);
          await delay(80);
          const never = await dispatchableIds(query({ undispatchedGraceMs: 0, redispatchAfterMs: null }));
          expect(never).not.toContain(queued.id);
          expect(never).not.toContain(running.id);
          // Both are otherwise due: a finite redispatchAfterMs finds them.
          const again = await dispatchableIds(query({ undispatchedGraceMs: 0, redispatchAfterMs: 20 }));
          expect(again).toContain(queued.id);
          expect(again).toContain(running.id);
        },
        timeout,
      );

      it(
        "with an endpoint finds only that endpoint's jobs",
        async () => {
          const other = uniqueName('repo');
          const make = async (e: string) => {
            const undispatched = (await repo.create(makeNewJob(e))).job;
            const dispatched = (await repo.create(makeNewJob(e))).job;
            await repo.markDispatched(dispatched.id);
            const running = (await repo.create(makeNewJob(e))).job;
            await repo.claim(running.id, { leaseToken: newLeaseToken(), leaseMs: 50 });
            return { undispatched: undispatched.id, dispatched: dispatched.id, running: running.id };
          };
          const ours = await make(endpoint);
          const theirs = await make(other);
          await delay(120);
          for (const [e, mine, foreign] of [
            [endpoint, ours, theirs],
            [other, theirs, ours],
          ] as const) {
            const all = await dispatchableIds(
              query({ undispatchedGraceMs: 0, redispatchAfterMs: 0, endpoint: e }),
            );
            expect(all).toEqual(expect.arrayContaining([mine.undispatched, mine.dispatched, mine.running]));
            for (const id of Object.values(foreign)) expect(all).not.toContain(id);

            const never = await dispatchableIds(
              query({ undispatchedGraceMs: 0, redispatchAfterMs: null, endpoint: e }),
            );
            expect(never).toEqual(expect.arrayContaining([mine.undispatched, mine.running]));
            expect(never).not.toContain(mine.dispatched);
            for (const id of Object.values(foreign)) expect(never).not.toContain(id);
          }
          const unknown = await dispatchableIds(
            query({ undispatchedGraceMs: 0, redispatchAfterMs: 0, endpoint: uniqueName('repo') }),
          );
          expect(unknown).toEqual([]);
        },
        timeout,
      );

      it(
        'boundaries are inclusive: with 0, a job dispatched or made due just now is found at once',
        async () => {
          // "dispatched redispatchAfterMs ago or more" and "undispatchedGraceMs after runAt": a job whose time
          // is exactly now is due, so several operations within one millisecond of the store's clock still count.
          const { job: running } = await claimNew(1);
          await delay(20);
          const queued = await Promise.all(Array.from({ length: 5 }, () => create()));
          for (const job of [...queued, running]) await repo.markDispatched(job.id);
          const redispatched = await dispatchableIds(
            query({ undispatchedGraceMs: 60_000, redispatchAfterMs: 0 }),
          );
          for (const job of [...queued, running]) expect(redispatched).toContain(job.id);

          const fresh = await Promise.all(Array.from({ length: 5 }, () => create()));
          const undispatched = await dispatchableIds(
            query({ undispatchedGraceMs: 0, redispatchAfterMs: null }),
          );
          for (const job of fresh) expect(undispatched).toContain(job.id);
        },
        timeout,
      );

      it(
        'returns the oldest first and respects the limit',
        async () => {
          const jobs: JobRecord[] = [];
          for (let i = 0; i < 5; i++) {
            jobs.push(await create());
            await delay(5);
          }
          await delay(50);
          const all = await dispatchableIds(query({ undispatchedGraceMs: 10 }));
          const ours = all.filter((id) => jobs.some((j) => j.id === id));
          expect(ours).toEqual(jobs.map((j) => j.id));
          const limited = await repo.findDispatchable({ ...query({ undispatchedGraceMs: 10 }), limit: 3 });
          expect(limited).toHaveLength(3);
        },
        timeout,
      );
    });

    describe('updatedAt', () => {
      /** Lets the store's clock move on, so that a change lands on a later millisecond. */
      const tick = () => delay(5);

      /** Follows one job's updatedAt through operations that must move it or leave it. */
      async function follow(id: string) {
        let last = (await mustGet(id)).updatedAt.getTime();
        return {
          async moves(what: string, operation: () => Promise<unknown>) {
            await tick();
            await operation();
            const job = await mustGet(id);
            expect(job.updatedAt.getTime(), `updatedAt after ${what}`).toBeGreaterThan(last);
            last = job.updatedAt.getTime();
            return job;
          },
          async stays(what: string, operation: () => Promise<unknown>) {
            await tick();
            await operation();
            const job = await mustGet(id);
            expect(job.updatedAt.getTime(), `updatedAt after ${what}`).toBe(last);
            return job;
          },
        };
      }

      it(
        'is set at create and moves on claim, heartbeat with progress or ETA, requestCancel and settle',
        async () => {
          const job = await create();
          expect(Math.abs(job.updatedAt.getTime() - job.createdAt.getTime())).toBeLessThanOrEqual(
            CLOCK_TOLERANCE_MS,
          );
          const token = newLeaseToken();
          const retryToken = newLeaseToken();
          const updated = await follow(job.id);
          await updated.moves('claim', () => repo.claim(job.id, { leaseToken: token, leaseMs: LONG_LEASE }));
          await updated.moves('heartbeat with progress', () =>
            repo.heartbeat(job.id, token, { leaseMs: LONG_LEASE, progress: { fraction: 0.5 } }),
          );
          await updated.moves('heartbeat with an ETA', () =>
            repo.heartbeat(job.id, token, {
              leaseMs: LONG_LEASE,
              estimatedCompletionAt: new Date(Date.now() + 60_000),
            }),
          );
          await updated.moves('requestCancel of a running job', () =>
            repo.requestCancel(job.id, { retentionMs: LONG_LEASE, error: problem('canceled') }),
          );
          await updated.moves('settle to queued', () =>
            repo.settle(job.id, token, {
              status: 'queued',
              delayMs: 0,
              error: problem('job_failed'),
              refundAttempt: false,
            }),
          );
          await updated.moves('a second claim', () =>
            repo.claim(job.id, { leaseToken: retryToken, leaseMs: LONG_LEASE }),
          );
          await updated.moves('settle succeeded', () =>
            repo.settle(job.id, retryToken, { status: 'succeeded', output: 1, retentionMs: LONG_LEASE }),
          );

          const failing = await claimNew();
          await (await follow(failing.job.id)).moves('settle failed', () =>
            repo.settle(failing.job.id, failing.token, {
              status: 'failed',
              error: problem('job_failed'),
              retentionMs: LONG_LEASE,
            }),
          );
          const queued = await create();
          await (await follow(queued.id)).moves('requestCancel of a queued job', () =>
            repo.requestCancel(queued.id, { retentionMs: LONG_LEASE, error: problem('canceled') }),
          );
        },
        timeout,
      );

      it(
        'strictly increases per job, even for changes in the same millisecond',
        async () => {
          const job = await create();
          const token = newLeaseToken();
          const seen = [job.updatedAt.getTime()];
          const record = async () => seen.push((await mustGet(job.id)).updatedAt.getTime());
          await repo.claim(job.id, { leaseToken: token, leaseMs: LONG_LEASE });
          await record();
          for (const fraction of [0.25, 0.5, 0.75]) {
            await repo.heartbeat(job.id, token, { leaseMs: LONG_LEASE, progress: { fraction } });
            await record();
          }
          await repo.settle(job.id, token, { status: 'succeeded', output: 1, retentionMs: LONG_LEASE });
          await record();
          for (let i = 1; i < seen.length; i++) expect(seen[i]!, `change ${i}`).toBeGreaterThan(seen[i - 1]!);
        },
        timeout,
      );

      it(
        'stays on markDispatched and on a plain lease renewal',
        async () => {
          const job = await create();
          const updated = await follow(job.id);
          const dispatched = await updated.stays('markDispatched of a queued job', () =>
            repo.markDispatched(job.id),
          );
          expect(dispatched.dispatchedAt).toBeInstanceOf(Date);

          const token = newLeaseToken();
          await updated.moves('claim', () => repo.claim(job.id, { leaseToken: token, leaseMs: 60_000 }));
          const before = await mustGet(job.id);
          const renewed = await updated.stays('a heartbeat without progress or ETA', () =>
            repo.heartbeat(job.id, token, { leaseMs: LONG_LEASE }),
          );
          // The lease was renewed all the same.
          expect(renewed.leaseExpiresAt!.getTime()).toBeGreaterThan(before.leaseExpiresAt!.getTime());
          await updated.stays('markDispatched of a running job', () => repo.markDispatched(job.id));
        },
        timeout,
      );
    });

    describe('retries keep cancelRequested and error', () => {
      it(
        'cancelRequested and the error survive settle to queued and every later claim',
        async () => {
          const { job, token } = await claimNew();
          await repo.requestCancel(job.id, { retentionMs: LONG_LEASE, error: problem('canceled') });
          const failure = problem('job_failed');
          const requeued = await repo.settle(job.id, token, {
            status: 'queued',
            delayMs: 0,
            error: failure,
            refundAttempt: false,
          });
          expect(requeued).toMatchObject({
            status: 'queued',
            attempt: 1,
            cancelRequested: true,
            error: failure,
          });
          expect(await repo.get(job.id)).toEqual(requeued);

          const retryToken = newLeaseToken();
          const retried = await repo.claim(job.id, { leaseToken: retryToken, leaseMs: LONG_LEASE });
          expect(retried).toMatchObject({
            status: 'running',
            attempt: 2,
            cancelRequested: true,
            error: failure,
          });
          expect(await repo.heartbeat(job.id, retryToken, { leaseMs: LONG_LEASE })).toEqual({
            held: true,
            cancelRequested: true,
          });

          // A release (graceful shutdown) keeps them as well, and so does a claim after an expired lease.
          const released = await repo.settle(job.id, retryToken, {
            status: 'queued',
            delayMs: 0,
            error: failure,
            refundAttempt: true,
          });
          expect(released).toMatchObject({
            status: 'queued',
            attempt: 1,
            cancelRequested: true,
            error: failure,
          });
          await repo.claim(job.id, { leaseToken: newLeaseToken(), leaseMs: 50 });
          await delay(120);
          const takenOver = await repo.claim(job.id, { leaseToken: newLeaseToken(), leaseMs: LONG_LEASE });
          expect(takenOver).toMatchObject({
            status: 'running',
            attempt: 3,
            cancelRequested: true,
            error: failure,
          });
          expect(await repo.get(job.id)).toEqual(takenOver);
        },
        timeout,
      );

      it(
        'a queued job asked to cancel earlier is canceled by requestCancel',
        async () => {
          const { job, token } = await claimNew();
          await repo.requestCancel(job.id, { retentionMs: LONG_LEASE, error: problem('canceled') });
          await repo.settle(job.id, token, {
            status: 'queued',
            delayMs: 60_000,
            error: null,
            refundAttempt: false,
          });
          const canceled = await repo.requestCancel(job.id, {
            retentionMs: LONG_LEASE,
            error: problem('canceled'),
          });
          expect(canceled).toMatchObject({
            status: 'canceled',
            error: problem('canceled'),
            leaseToken: null,
          });
          expect(await repo.get(job.id)).toEqual(canceled);
        },
        timeout,
      );
    });

    describe('deleteExpired', () => {
      async function deleteUntilGone(ids: string[]): Promise<JobRecord[]> {
        const deleted: JobRecord[] = [];
        await waitFor(
          async () => {
            const batch = await repo.deleteExpired(100);
            expect(batch.length).toBeLessThanOrEqual(100);
            deleted.push(...batch);
            return ids.every((id) => deleted.some((d) => d.id === id));
          },
          { timeoutMs: waitTimeoutMs, message: 'expired jobs to be deleted' },
        );
        return deleted;
      }

      it(
        'deletes only final jobs past expiresAt and returns them',
        async () => {
          const succeeded = await finalJob('succeeded', 1);
          const failed = await finalJob('failed', 1);
          const canceled = await create({ input: { keep: 'input' } });
          await repo.requestCancel(canceled.id, { retentionMs: 1, error: problem('canceled') });
          const keptFinal = await finalJob('succeeded', LONG_LEASE);
          const queued = await create();
          const { job: running } = await claimNew(LONG_LEASE);
          await delay(50);

          const deleted = await deleteUntilGone([succeeded.id, failed.id, canceled.id]);
          for (const job of deleted) {
            expect(['succeeded', 'failed', 'canceled']).toContain(job.status);
            expect(job.expiresAt).toBeInstanceOf(Date);
          }
          const deletedSucceeded = deleted.find((d) => d.id === succeeded.id);
          expect(deletedSucceeded).toMatchObject({
            status: 'succeeded',
            output: { result: succeeded.id },
            input: succeeded.input,
            endpoint,
          });
          expect(deleted.find((d) => d.id === canceled.id)).toMatchObject({
            status: 'canceled',
            input: { keep: 'input' },
          });
          for (const id of [keptFinal.id, queued.id, running.id]) {
            expect(deleted.map((d) => d.id)).not.toContain(id);
          }
          for (const id of [succeeded.id, failed.id, canceled.id]) expect(await repo.get(id)).toBeNull();
          expect(await repo.get(keptFinal.id)).toEqual(keptFinal);
          expect(await repo.get(queued.id)).toEqual(queued);
          expect(await repo.get(running.id)).toEqual(running);
        },
        timeout,
      );

      it(
        'deletes at most limit jobs per call',
        async () => {
          const jobs = await Promise.all(Array.from({ length: 5 }, () => finalJob('succeeded', 1)));
          await delay(50);
          const first = await repo.deleteExpired(2);
          expect(first).toHaveLength(2);
          await deleteUntilGone(jobs.map((j) => j.id).filter((id) => !first.some((d) => d.id === id)));
          for (const job of jobs) expect(await repo.get(job.id)).toBeNull();
        },
        timeout,
      );
    });

    describe('list', () => {
      it(
        'returns newest first',
        async () => {
          const jobs: JobRecord[] = [];
          for (let i = 0; i < 3; i++) {
            jobs.push(await create({ owner: 'o' }));
            await delay(5);
          }
          const page = await repo.list({ endpoint, owner: 'o', limit: 10 });
          expect(page.jobs.map((j) => j.id)).toEqual(jobs.map((j) => j.id).reverse());
          expect(page.nextCursor).toBeNull();
          expect(page.jobs[0]).toEqual(await repo.get(jobs[2]!.id));
        },
        timeout,
      );

      it(
        'pages with cursors cover every job exactly once, in order (25 jobs, limit 7)',
        async () => {
          const ids = new Set<string>();
          for (let i = 0; i < 25; i++) {
            ids.add((await create({ owner: 'pager', input: { i } })).id);
            if (i % 3 === 0) await create({ owner: 'someone-else' });
          }
          const seen: JobRecord[] = [];
          const sizes: number[] = [];
          let cursor: string | undefined;
          for (let page = 0; page < 10; page++) {
            const result = await repo.list({ endpoint, owner: 'pager', limit: 7, cursor });
            sizes.push(result.jobs.length);
            seen.push(...result.jobs);
            if (result.nextCursor === null) break;
            cursor = result.nextCursor;
          }
          expect(sizes).toEqual([7, 7, 7, 4]);
          expect(seen.map((j) => j.id).sort()).toEqual([...ids].sort());
          expectOrderedNewestFirst(seen);
        },
        timeout,
      );

      it(
        'a full last page ends with no cursor or with a cursor to an empty page',
        async () => {
          for (let i = 0; i < 3; i++) await create({ owner: 'exact' });
          const page = await repo.list({ endpoint, owner: 'exact', limit: 3 });
          expect(page.jobs).toHaveLength(3);
          if (page.nextCursor !== null) {
            const next = await repo.list({ endpoint, owner: 'exact', limit: 3, cursor: page.nextCursor });
            expect(next).toEqual({ jobs: [], nextCursor: null });
          }
          const empty = await repo.list({ endpoint, owner: 'nobody', limit: 3 });
          expect(empty).toEqual({ jobs: [], nextCursor: null });
        },
        timeout,
      );

      it(
        'filters by status',
        async () => {
          const owner = 'filter';
          const queued = await create({ owner });
          const { job: running } = await claimNew(LONG_LEASE, { owner });
          const byStatus: Record<JobStatus, string[]> = {
            queued: [queued.id],
            running: [running.id],
            succeeded: [],
            failed: [],
            canceled: [],
          };
          for (const status of ['succeeded', 'failed'] as const) {
            const { job, token } = await claimNew(LONG_LEASE, { owner });
            const outcome: SettleOutcome =
              status === 'succeeded'
                ? { status, output: 1, retentionMs: LONG_LEASE }
                : { status, error: problem('job_failed'), retentionMs: LONG_LEASE };
            await repo.settle(job.id, token, outcome);
            byStatus[status].push(job.id);
          }
          const canceled = await create({ owner });
          await repo.requestCancel(canceled.id, { retentionMs: LONG_LEASE, error: problem('canceled') });
          byStatus.canceled.push(canceled.id);

          for (const status of Object.keys(byStatus) as JobStatus[]) {
            const page = await repo.list({ endpoint, owner, status, limit: 10 });
            expect(
              page.jobs.map((j) => j.id),
              status,
            ).toEqual(byStatus[status]);
            for (const job of page.jobs) expect(job.status).toBe(status);
          }
          const all = await repo.list({ endpoint, owner, limit: 10 });
          expect(all.jobs).toHaveLength(5);
        },
        timeout,
      );

      it(
        'isolates owners, including the null owner, and endpoints',
        async () => {
          const alice = await create({ owner: 'alice' });
          const bob = await create({ owner: 'bob' });
          const anonymous = await create({ owner: null });
          const otherEndpoint = uniqueName('repo');
          const aliceElsewhere = (await repo.create(makeNewJob(otherEndpoint, { owner: 'alice' }))).job;

          const ids = async (e: string, owner: string | null) =>
            (await repo.list({ endpoint: e, owner, limit: 10 })).jobs.map((j) => j.id);
          expect(await ids(endpoint, 'alice')).toEqual([alice.id]);
          expect(await ids(endpoint, 'bob')).toEqual([bob.id]);
          expect(await ids(endpoint, null)).toEqual([anonymous.id]);
          expect(await ids(otherEndpoint, 'alice')).toEqual([aliceElsewhere.id]);
          expect(await ids(otherEndpoint, 'bob')).toEqual([]);
          expect(await ids(otherEndpoint, null)).toEqual([]);
        },
        timeout,
      );

      it(
        'rejects an invalid cursor with InvalidInputError',
        async () => {
          await create({ owner: 'o' });
          const wellFormedButWrong = btoa(JSON.stringify([Date.now(), 'not-a-job-id']));
          for (const cursor of ['not a cursor', btoa('{"x":1}'), wellFormedButWrong]) {
            await expect(repo.list({ endpoint, owner: 'o', limit: 10, cursor })).rejects.toMatchObject({
              name: 'InvalidInputError',
              code: 'invalid_input',
            });
          }
        },
        timeout,
      );
    });

    describe('subscribe', () => {
      it(
        'announces create, claim, heartbeat with progress, settle, requestCancel and remove',
        async () => {
          const seen: string[] = [];
          const unsubscribe = await repo.subscribe((id) => seen.push(id));
          try {
            const count = (id: string) => seen.filter((s) => s === id).length;
            const announced = async (id: string, what: string, operation: () => Promise<unknown>) => {
              const before = count(id);
              await operation();
              await waitFor(() => count(id) > before, {
                timeoutMs: waitTimeoutMs,
                message: `a notification after ${what}`,
              });
            };
            const newJob = makeNewJob(endpoint);
            const id = newJob.id;
            const token = newLeaseToken();
            await announced(id, 'create', () => repo.create(newJob));
            await announced(id, 'claim', () => repo.claim(id, { leaseToken: token, leaseMs: LONG_LEASE }));
            await announced(id, 'heartbeat with progress', () =>
              repo.heartbeat(id, token, { leaseMs: LONG_LEASE, progress: { fraction: 0.5 } }),
            );
            await announced(id, 'requestCancel of a running job', () =>
              repo.requestCancel(id, { retentionMs: LONG_LEASE, error: problem('canceled') }),
            );
            await announced(id, 'settle', () =>
              repo.settle(id, token, { status: 'succeeded', output: 1, retentionMs: LONG_LEASE }),
            );
            await announced(id, 'remove', () => repo.remove(id));

            const queued = await create();
            await announced(queued.id, 'requestCancel of a queued job', () =>
              repo.requestCancel(queued.id, { retentionMs: LONG_LEASE, error: problem('canceled') }),
            );
          } finally {
            unsubscribe();
          }
        },
        timeout,
      );

      it(
        'delivers to every subscriber; unsubscribe stops delivery',
        async () => {
          const first: string[] = [];
          const second: string[] = [];
          const third: string[] = [];
          const unsubscribeFirst = await repo.subscribe((id) => first.push(id));
          const unsubscribeSecond = await repo.subscribe((id) => second.push(id));
          const unsubscribeThird = await repo.subscribe((id) => third.push(id));
          try {
            const job = await create();
            await waitFor(() => first.includes(job.id) && second.includes(job.id) && third.includes(job.id), {
              timeoutMs: waitTimeoutMs,
              message: 'all subscribers to hear of the new job',
            });
            unsubscribeFirst();
            const later = await create();
            await repo.claim(later.id, { leaseToken: newLeaseToken(), leaseMs: LONG_LEASE });
            await waitFor(() => second.filter((id) => id === later.id).length >= 2, {
              timeoutMs: waitTimeoutMs,
              message: 'the remaining subscriber to hear of create and claim',
            });
            await waitFor(() => third.filter((id) => id === later.id).length >= 2, {
              timeoutMs: waitTimeoutMs,
              message: 'the other remaining subscriber to hear of create and claim',
            });
            expect(first).not.toContain(later.id);
          } finally {
            unsubscribeSecond();
            unsubscribeThird();
          }
        },
        timeout,
      );
    });
  });
}
