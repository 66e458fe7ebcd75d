import fc from 'fast-check';
import { describe, it } from 'vitest';
import { purgeJobs, trackJobs, uniqueName } from './helpers.js';
import { TestClock } from './repository/fixture.js';
import { RepositoryModel, type SettleKind } from './repository/model.js';
import {
  checkModel,
  type Operation,
  runOperation,
  type Span,
  type TokenChoice,
} from './repository/model-steps.js';
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
  /**
   * Capability: the factory honours `context.now` (see `RepositoryContractOptions.controllableClock`). Sequences
   * then also let time pass, so that leases expire, retries fall due, finished jobs expire and cleanup leases end,
   * and the model checks every stored time to the millisecond. Default false.
   */
  controllableClock?: boolean;
}

const target = fc.option(fc.record({ n: fc.nat({ max: 40 }), fit: fc.boolean() }), { nil: null, freq: 8 });
const tokenChoice = fc.constantFrom<TokenChoice>('current', 'current', 'current', 'stale', 'fresh');
const span = fc.constantFrom<Span>('long', 'short');
/** A batch of 1 to 4 items. */
const batchOf = <T>(item: fc.Arbitrary<T>) => fc.array(item, { minLength: 1, maxLength: 4 });
const settleKind = fc.constantFrom<SettleKind>(
  'succeeded',
  'succeededCleanup',
  'succeededCleanup',
  'failed',
  'canceled',
  'retry',
  'retryLater',
  'release',
);

const create: fc.Arbitrary<Operation> = fc.record({
  kind: fc.constant('create' as const),
  items: batchOf(
    fc.record({
      owner: fc.constantFrom<'a' | 'b' | null>('a', 'b', null),
      key: fc.constantFrom<'k1' | 'k2' | null>(null, null, 'k1', 'k2'),
      invalid: fc.nat({ max: 7 }).map((n) => n === 0),
    }),
  ),
});

/** A sequence: a first batch of creates, then anything. */
function sequences(controllableClock: boolean, maxSteps: number): fc.Arbitrary<Operation[]> {
  return fc
    .tuple(create, fc.array(operations(controllableClock), { maxLength: maxSteps - 1, size: 'max' }))
    .map(([first, rest]) => [first, ...rest]);
}

function operations(controllableClock: boolean): fc.Arbitrary<Operation> {
  const weighted: Array<fc.WeightedArbitrary<Operation>> = [
    { weight: 4, arbitrary: create },
    {
      weight: 4,
      arbitrary: fc.record({ kind: fc.constant('claim' as const), items: batchOf(target), lease: span }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('heartbeat' as const),
        items: batchOf(
          fc.record({
            target,
            token: tokenChoice,
            progress: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: null }),
          }),
        ),
        lease: span,
      }),
    },
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('settle' as const),
        items: batchOf(fc.record({ target, token: tokenChoice, outcome: settleKind })),
        retention: span,
      }),
    },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('cancel' as const), target, retention: span }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('remove' as const), target }) },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('dispatch' as const),
        limit: fc.integer({ min: 1, max: 5 }),
        answers: fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
        redispatch: fc.boolean(),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('deleteExpired' as const),
        limit: fc.integer({ min: 1, max: 3 }),
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('claimCleanups' as const),
        limit: fc.integer({ min: 1, max: 3 }),
        lease: span,
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('finishCleanup' as const),
        target,
        token: tokenChoice,
        retry: fc.constantFrom<'done' | 'now' | 'later'>('done', 'now', 'now', 'later'),
      }),
    },
  ];
  if (controllableClock) {
    weighted.push({
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 1_500 }) }),
    });
  }
  return fc.oneof(...weighted);
}

/**
 * Registers a fast-check model-based test: random sequences of batches of create (with idempotency keys and now
 * and then an item the store cannot hold), claim (a job may appear twice in one batch), heartbeat and settle
 * (with the valid, a stale or a foreign token), requestCancel, remove, dispatch (publish answering true or false
 * per item), deleteExpired, claimCleanups and finishCleanup run against the repository and against a reference
 * state machine. After every step both agree on each item's result, and on each job's presence, status, attempt,
 * cancelRequested, lease token and whether it was dispatched (and, with a controllable clock, on runAt,
 * leaseExpiresAt and expiresAt to the millisecond, time passing between steps).
 */
export function describeJobRepositoryModel(
  name: string,
  factory: RepositoryFactory,
  options: RepositoryModelOptions = {},
): void {
  const controlled = options.controllableClock === true;
  describe(`JobRepository model: ${name}`, () => {
    it(
      'agrees with the reference state machine on random sequences of batches',
      async () => {
        await fc.assert(
          fc.asyncProperty(sequences(controlled, options.maxSteps ?? 30), async (ops) => {
            const clock = new TestClock(controlled);
            const raw = await factory(controlled ? { now: clock.read } : {});
            const created = new Set<string>();
            const endpoints = new Set<string>();
            const repo = trackJobs(raw, created, endpoints);
            const endpoint = uniqueName('model');
            endpoints.add(endpoint);
            const model = new RepositoryModel(controlled ? clock.read : () => 0);
            const run = { repo, model, clock, endpoint, controlled };
            try {
              for (const [step, op] of ops.entries()) {
                const where = `step ${step}: ${JSON.stringify(op)}`;
                await runOperation(run, op, where);
                await checkModel(run, where);
              }
            } finally {
              await purgeJobs(raw, created, endpoints);
              await raw.close();
            }
          }),
          { numRuns: options.numRuns ?? 50, ...(options.seed === undefined ? {} : { seed: options.seed }) },
        );
      },
      options.testTimeoutMs ?? 180_000,
    );
  });
}
