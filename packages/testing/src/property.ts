import type { JobRecord, JobRepository, JobStatus, SettleOutcome } from '@jobs/core';
import { isFinalStatus, newJobId, newLeaseToken } from '@jobs/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { makeNewJob, problem, purgeJobs, trackJobs, uniqueName } from './helpers.js';
import type { RepositoryFactory } from './repository-contract.js';

export interface RepositoryModelOptions {
  /** Random operation sequences to run. Default 50. */
  numRuns?: number;
  /** Longest sequence. Default 30. */
  maxSteps?: number;
  /** Fixed seed, to replay a failure. */
  seed?: number;
  /** Timeout of the whole property. Default 180 s. */
  testTimeoutMs?: number;
}

const LEASE_MS = 3_600_000;
const RETENTION_MS = 3_600_000;

type TokenChoice = 'current' | 'stale' | 'fresh';
type SettleKind = 'succeeded' | 'failed' | 'canceled' | 'retry' | 'retryLater' | 'release';

/** `target` null: an id the repository never saw. Otherwise an index into the jobs created so far. */
type Operation =
  | { kind: 'create'; owner: 'a' | 'b' | null; key: 'k1' | 'k2' | null }
  | { kind: 'claim'; target: number | null; racers: number }
  | { kind: 'heartbeat'; target: number | null; token: TokenChoice; progress: number | null }
  | { kind: 'settle'; target: number | null; token: TokenChoice; outcome: SettleKind }
  | { kind: 'cancel'; target: number | null }
  | { kind: 'remove'; target: number | null };

interface ModelJob {
  id: string;
  exists: boolean;
  status: JobStatus;
  attempt: number;
  cancelRequested: boolean;
  /** Token holding the lease while running. */
  token: string | null;
  /** Tokens of earlier runs of this job, refused from now on. */
  staleTokens: string[];
  /** false after a retry with a long delay: not claimable yet. */
  due: boolean;
  owner: string | null;
  key: string | null;
}

const target = fc.option(fc.nat({ max: 40 }), { nil: null, freq: 8 });
const tokenChoice = fc.constantFrom<TokenChoice>('current', 'current', 'stale', 'fresh');

const operation: fc.Arbitrary<Operation> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('create' as const),
      owner: fc.constantFrom<'a' | 'b' | null>('a', 'b', null),
      key: fc.constantFrom<'k1' | 'k2' | null>(null, null, 'k1', 'k2'),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('claim' as const),
      target,
      racers: fc.integer({ min: 1, max: 4 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('heartbeat' as const),
      target,
      token: tokenChoice,
      progress: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: null }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('settle' as const),
      target,
      token: tokenChoice,
      outcome: fc.constantFrom<SettleKind>(
        'succeeded',
        'failed',
        'canceled',
        'retry',
        'retryLater',
        'release',
      ),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('cancel' as const), target }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('remove' as const), target }) },
);

function settleOutcome(kind: SettleKind): SettleOutcome {
  switch (kind) {
    case 'succeeded':
      return { status: 'succeeded', output: { ok: true }, retentionMs: RETENTION_MS };
    case 'failed':
      return { status: 'failed', error: problem('job_failed'), retentionMs: RETENTION_MS };
    case 'canceled':
      return { status: 'canceled', error: problem('canceled'), retentionMs: RETENTION_MS };
    case 'retry':
      return { status: 'queued', delayMs: 0, error: problem('job_failed'), refundAttempt: false };
    case 'retryLater':
      return { status: 'queued', delayMs: 3_600_000, error: problem('job_failed'), refundAttempt: false };
    case 'release':
      return { status: 'queued', delayMs: 0, error: null, refundAttempt: true };
  }
}

/**
 * Registers a fast-check model-based test: random sequences of create, claim (alone or racing), heartbeat,
 * settle (with the valid, a stale or a foreign token), requestCancel and remove run against the repository and
 * against a reference model of the state machine; after every step both must agree on each job's existence,
 * status, attempt, cancelRequested and lease token, and on whether the operation was refused.
 */
export function describeJobRepositoryModel(
  name: string,
  factory: RepositoryFactory,
  options: RepositoryModelOptions = {},
): void {
  describe(`JobRepository model: ${name}`, () => {
    it(
      'agrees with the reference state machine on random operation sequences',
      async () => {
        await fc.assert(
          fc.asyncProperty(
            fc.array(operation, { minLength: 1, maxLength: options.maxSteps ?? 30, size: 'max' }),
            async (ops) => {
              const raw = await factory();
              const created = new Set<string>();
              try {
                await runSequence(trackJobs(raw, created), ops);
              } finally {
                await purgeJobs(raw, created);
                await raw.close();
              }
            },
          ),
          { numRuns: options.numRuns ?? 50, ...(options.seed === undefined ? {} : { seed: options.seed }) },
        );
      },
      options.testTimeoutMs ?? 180_000,
    );
  });
}

async function runSequence(repo: JobRepository, ops: Operation[]): Promise<void> {
  const endpoint = uniqueName('model');
  const jobs: ModelJob[] = [];

  const pick = (index: number | null): ModelJob | null =>
    index === null || jobs.length === 0 ? null : jobs[index % jobs.length]!;

  const chooseToken = (job: ModelJob | null, choice: TokenChoice): string => {
    if (choice === 'current' && job?.token) return job.token;
    if (choice === 'stale' && job && job.staleTokens.length > 0)
      return job.staleTokens[job.staleTokens.length - 1]!;
    return newLeaseToken();
  };

  for (const [step, op] of ops.entries()) {
    const where = `step ${step}: ${JSON.stringify(op)}`;
    const job = 'target' in op ? pick(op.target) : null;
    const id = job?.id ?? newJobId();

    switch (op.kind) {
      case 'create': {
        const existing = op.key
          ? jobs.find((j) => j.exists && j.owner === op.owner && j.key === op.key)
          : undefined;
        const result = await repo.create(makeNewJob(endpoint, { owner: op.owner, idempotencyKey: op.key }));
        if (existing) {
          expect(result.created, where).toBe(false);
          expect(result.job.id, where).toBe(existing.id);
        } else {
          expect(result.created, where).toBe(true);
          jobs.push({
            id: result.job.id,
            exists: true,
            status: 'queued',
            attempt: 0,
            cancelRequested: false,
            token: null,
            staleTokens: [],
            due: true,
            owner: op.owner,
            key: op.key,
          });
        }
        break;
      }

      case 'claim': {
        const claimable = !!job && job.exists && job.status === 'queued' && job.due;
        const tokens = Array.from({ length: op.racers }, () => newLeaseToken());
        const results = await Promise.all(
          tokens.map((leaseToken) => repo.claim(id, { leaseToken, leaseMs: LEASE_MS })),
        );
        const winners = results.filter((r): r is JobRecord => r !== null);
        expect(winners.length, where).toBe(claimable ? 1 : 0);
        if (claimable && job) {
          const winner = winners[0]!;
          job.status = 'running';
          job.attempt += 1;
          job.token = winner.leaseToken;
          expect(tokens, where).toContain(winner.leaseToken);
          expect(winner, where).toMatchObject({ status: 'running', attempt: job.attempt });
        }
        break;
      }

      case 'heartbeat': {
        const token = chooseToken(job, op.token);
        const held = !!job && job.exists && job.status === 'running' && job.token === token;
        const result = await repo.heartbeat(id, token, {
          leaseMs: LEASE_MS,
          progress: op.progress === null ? undefined : { fraction: op.progress },
        });
        expect(result.held, where).toBe(held);
        if (held) expect(result.cancelRequested, where).toBe(job!.cancelRequested);
        break;
      }

      case 'settle': {
        const token = chooseToken(job, op.token);
        const accepted = !!job && job.exists && job.status === 'running' && job.token === token;
        const result = await repo.settle(id, token, settleOutcome(op.outcome));
        expect(result === null, where).toBe(!accepted);
        if (accepted && job) {
          job.staleTokens.push(token);
          job.token = null;
          if (op.outcome === 'succeeded' || op.outcome === 'failed' || op.outcome === 'canceled') {
            job.status = op.outcome;
          } else {
            job.status = 'queued';
            job.due = op.outcome !== 'retryLater';
            if (op.outcome === 'release') job.attempt -= 1;
          }
          expect(result, where).toMatchObject({ status: job.status, attempt: job.attempt });
        }
        break;
      }

      case 'cancel': {
        const result = await repo.requestCancel(id, {
          retentionMs: RETENTION_MS,
          error: problem('canceled'),
        });
        if (!job || !job.exists) {
          expect(result, where).toBeNull();
          break;
        }
        if (job.status === 'queued') job.status = 'canceled';
        else if (job.status === 'running') job.cancelRequested = true;
        expect(result, where).toMatchObject({ id, status: job.status, cancelRequested: job.cancelRequested });
        break;
      }

      case 'remove': {
        const removable = !!job && job.exists && isFinalStatus(job.status);
        const result = await repo.remove(id);
        expect(result === null, where).toBe(!removable);
        if (removable && job) {
          expect(result, where).toMatchObject({ id, status: job.status });
          job.exists = false;
        }
        break;
      }
    }

    for (const model of jobs) {
      const stored = await repo.get(model.id);
      const label = `${where}, job ${jobs.indexOf(model)}`;
      if (!model.exists) {
        expect(stored, label).toBeNull();
        continue;
      }
      expect(stored, label).not.toBeNull();
      expect(
        {
          status: stored!.status,
          attempt: stored!.attempt,
          cancelRequested: stored!.cancelRequested,
          leaseToken: stored!.leaseToken,
        },
        label,
      ).toEqual({
        status: model.status,
        attempt: model.attempt,
        cancelRequested: model.cancelRequested,
        leaseToken: model.status === 'running' ? model.token : null,
      });
    }
  }
}
