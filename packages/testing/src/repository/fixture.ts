import type {
  ClaimRequest,
  DispatchItem,
  DispatchQuery,
  DispatchResult,
  FinalStatus,
  HeartbeatRequest,
  HeartbeatResult,
  ItemResult,
  JobChange,
  JobRecord,
  JobRecordHeader,
  JobRepository,
  NewJob,
  ProblemDetails,
  SettleOutcome,
} from '@jobs/core';
import { newLeaseToken } from '@jobs/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { delay, makeNewJob, problem, purgeJobs, trackJobs, uniqueName, waitFor } from '../helpers.js';

/** What the suites hand the factory. */
export interface RepositoryContext {
  /**
   * Given when the suite runs with `controllableClock: true`: milliseconds since the epoch, and the repository
   * must take every time it stores or compares from it (the suite moves it instead of waiting).
   */
  now?: () => number;
}

/**
 * Makes the repository under test; called before every test. A factory that ignores its argument (`() => repo`)
 * is fine for a store whose clock cannot be controlled.
 */
export type RepositoryFactory = (context: RepositoryContext) => Promise<JobRepository> | JobRepository;

export interface RepositoryContractOptions {
  /** Runs after each test, before the repository is closed (e.g. to drop what the test left in a shared store). */
  cleanup?: (repository: JobRepository) => Promise<void>;
  /** Timeout of each test. Default 30 s. */
  testTimeoutMs?: number;
  /** How long a test waits for an asynchronous effect (a notification). Default 10 s. */
  waitTimeoutMs?: number;
  /**
   * Capability: the factory honours `context.now`. Leases, delays, retentions and cleanup retries then pass by
   * moving that clock (no waiting), times are checked to the millisecond, and the tests of exact boundaries
   * (a lease that ends exactly now) run too. Without it, tests wait a little real time (about 100 ms) and check
   * times to within a second. Default false.
   */
  controllableClock?: boolean;
}

/** A lease (or retention) that never ends during a test. */
export const LONG = 600_000;
/** A lease, delay or retention a test lets pass (with `clock.pass`). */
export const SHORT = 100;
/** Real time waited beyond a duration, so that the store's clock is surely past it. */
const REAL_MARGIN_MS = 60;
/** Without a controllable clock, timestamps of one operation may be taken at slightly different instants. */
const TOLERANCE_MS = 1_000;
/** Repository clock versus the test's clock (only used to catch unit or time zone errors). */
const SKEW_TOLERANCE_MS = 5 * 60_000;

/** The repository's clock as the test sees it. */
export class TestClock {
  #now: number | null;

  constructor(controlled: boolean) {
    this.#now = controlled ? Date.now() : null;
  }

  /** Whether the repository reads its time from this clock. */
  get controlled(): boolean {
    return this.#now !== null;
  }

  /** The clock handed to the factory. */
  readonly read = (): number => this.#now ?? Date.now();

  /** Lets `ms` pass by the repository's clock: moves the controlled clock, or waits somewhat longer. */
  async pass(ms: number): Promise<void> {
    if (this.#now !== null) this.#now += ms;
    else await delay(ms + REAL_MARGIN_MS);
  }
}

/** The header fields of a record: what `get(id, 'header')` and every read but `get`/`claim` return. */
export function headerOf(job: JobRecord | JobRecordHeader): JobRecordHeader {
  const { input: _input, output: _output, ...header } = job as JobRecord;
  return header;
}

/** The value of an item result, or the item's error thrown. */
export function unwrap<T>(result: ItemResult<T> | undefined): T {
  if (!result) throw new Error('the batch returned fewer results than items');
  if (!result.ok) throw result.error;
  return result.value;
}

/** Asserts an item (or the whole call, for a single item) was refused with InvalidInputError. */
export async function expectRefused(call: () => Promise<ReadonlyArray<ItemResult<unknown>>>): Promise<void> {
  let results: ReadonlyArray<ItemResult<unknown>>;
  try {
    results = await call();
  } catch (error) {
    expect(error).toMatchObject({ name: 'InvalidInputError', code: 'invalid_input' });
    return;
  }
  expect(results).toHaveLength(1);
  expectInvalidItem(results[0]);
}

export function expectInvalidItem(result: ItemResult<unknown> | undefined): void {
  expect(result?.ok, 'the item should be refused').toBe(false);
  if (result && !result.ok) {
    expect(result.error).toMatchObject({ name: 'InvalidInputError', code: 'invalid_input' });
  }
}

/** A settle back to `queued`: a retry (by default now, after a failure), or a release with `refundAttempt`. */
export function retry(
  delayMs = 0,
  {
    error = problem('job_failed'),
    refundAttempt = false,
  }: { error?: ProblemDetails | null; refundAttempt?: boolean } = {},
): Extract<SettleOutcome, { status: 'queued' }> {
  return { status: 'queued', delayMs, error, refundAttempt };
}

export function finalOutcome(status: FinalStatus, retentionMs: number): SettleOutcome {
  if (status === 'succeeded') return { status, output: { result: 'done' }, retentionMs };
  return { status, error: problem(status === 'failed' ? 'job_failed' : 'canceled'), retentionMs };
}

/** The changes one subscription heard. */
export interface ChangeWatch {
  readonly changes: JobChange[];
  /** Waits for a change of `id` that matches, and returns it. */
  next(id: string, what: string, match?: (change: JobChange) => boolean): Promise<JobChange>;
  /** Creates a marker job and waits for its notification: after it, every earlier change was delivered too. */
  barrier(): Promise<void>;
  of(id: string): JobChange[];
  stop(): void;
}

/** What each test gets: a fresh repository (tracked for cleanup), its own endpoint and a clock. */
export interface RepositoryFixture {
  repo: JobRepository;
  clock: TestClock;
  endpoint: string;
  waitTimeoutMs: number;
  /** Another endpoint of this test (cleaned up like the first). */
  newEndpoint(): string;
  /** Creates a job of this test's endpoint; it must be created. */
  create(overrides?: Partial<NewJob>): Promise<JobRecordHeader>;
  createIn(endpoint: string, overrides?: Partial<NewJob>): Promise<JobRecordHeader>;
  mustGet(id: string): Promise<JobRecord>;
  header(id: string): Promise<JobRecordHeader | null>;
  claim(id: string, request?: Partial<Omit<ClaimRequest, 'id'>>): Promise<JobRecord | null>;
  /** Creates a job and claims it. */
  claimNew(leaseMs?: number, overrides?: Partial<NewJob>): Promise<{ job: JobRecord; token: string }>;
  heartbeat(id: string, token: string, request?: Partial<HeartbeatRequest>): Promise<HeartbeatResult>;
  settle(id: string, token: string, outcome: SettleOutcome): Promise<boolean>;
  /** A job of this test's endpoint settled to a final state with a long retention; returned as stored. */
  finalJob(status: FinalStatus, options?: { cleanup?: boolean }): Promise<JobRecord>;
  /**
   * The id of a job settled to a final state with a retention of `SHORT`: after `clock.pass(SHORT)` it is
   * expired.
   */
  expiringJob(status: FinalStatus, options?: { cleanup?: boolean; endpoint?: string }): Promise<string>;
  /**
   * One `dispatch` of this test's endpoints (default: the first; limit 100, redispatchAfterMs null), publishing
   * every item unless `publish` answers otherwise; returns the result and the items published.
   */
  dispatch(
    query?: Partial<DispatchQuery>,
    publish?: (items: readonly DispatchItem[]) => readonly boolean[] | Promise<readonly boolean[]>,
  ): Promise<DispatchResult & { items: DispatchItem[] }>;
  /** `to - from` is `ms`: exactly with a controlled clock, else within a second. */
  expectDuration(from: Date | null, to: Date | null, ms: number): void;
  /**
   * `date` is the repository's now (plus `offsetMs`): exactly with a controlled clock, else within the 5 minutes
   * that catch a unit or time zone error (the store's clock and the test's need not agree to the millisecond).
   */
  expectNow(date: Date | null, offsetMs?: number): void;
  watch(): Promise<ChangeWatch>;
}

export interface ContractSuite {
  /** Registers a test that gets the fixture. */
  test(name: string, fn: (f: RepositoryFixture) => Promise<void>): void;
  /** Registers a test only when the factory honours the clock (the test needs exact boundaries). */
  clockTest(name: string, fn: (f: RepositoryFixture) => Promise<void>): void;
}

/** A sub-suite of the repository contract: registers one `describe` block. */
export type SubSuite = (
  name: string,
  factory: RepositoryFactory,
  options?: RepositoryContractOptions,
) => void;

/** Defines a sub-suite titled `JobRepository <title>: <name>` whose tests `register` adds. */
export function subSuite(title: string, register: (suite: ContractSuite) => void): SubSuite {
  return (name, factory, options = {}) =>
    describe(`JobRepository ${title}: ${name}`, () => register(contractSuite(factory, options)));
}

/**
 * Sets up a sub-suite inside its `describe`: a fixture per test (a fresh repository from the factory, closed
 * afterwards, with the jobs and cleanups the test left removed first).
 */
export function contractSuite(factory: RepositoryFactory, options: RepositoryContractOptions): ContractSuite {
  const timeout = options.testTimeoutMs ?? 30_000;
  let current: { fixture: RepositoryFixture; dispose: () => Promise<void> } | undefined;

  beforeEach(async () => {
    current = await openFixture(factory, options);
  });
  afterEach(async () => {
    const closing = current;
    current = undefined;
    await closing?.dispose();
  });

  const test = (name: string, fn: (f: RepositoryFixture) => Promise<void>) =>
    it(name, () => fn(current!.fixture), timeout);
  return {
    test,
    clockTest: (name, fn) => {
      if (options.controllableClock === true) test(name, fn);
    },
  };
}

async function openFixture(factory: RepositoryFactory, options: RepositoryContractOptions) {
  const clock = new TestClock(options.controllableClock === true);
  const raw = await factory(clock.controlled ? { now: clock.read } : {});
  const ids = new Set<string>();
  const endpoints = new Set<string>();
  const repo = trackJobs(raw, ids, endpoints);
  const endpoint = uniqueName('repo');
  endpoints.add(endpoint);
  const waitTimeoutMs = options.waitTimeoutMs ?? 10_000;
  const subscriptions = new Set<() => void>();

  const createIn = async (target: string, overrides: Partial<NewJob> = {}) => {
    const [result] = await repo.create([makeNewJob(target, overrides)]);
    const created = unwrap(result);
    expect(created.created, 'a new job should be created').toBe(true);
    return created.job;
  };
  const mustGet = async (id: string) => {
    const job = await repo.get(id);
    if (!job) throw new Error(`job ${id} should exist`);
    return job;
  };
  const claim = async (id: string, request: Partial<Omit<ClaimRequest, 'id'>> = {}) => {
    const [claimed] = await repo.claim([{ id, leaseToken: newLeaseToken(), leaseMs: LONG, ...request }]);
    return claimed ?? null;
  };
  const claimNew = async (leaseMs = LONG, overrides: Partial<NewJob> = {}) => {
    const job = await createIn(endpoint, overrides);
    const claimed = await claim(job.id, { leaseMs });
    if (!claimed?.leaseToken) throw new Error('a fresh queued job should be claimable');
    return { job: claimed, token: claimed.leaseToken };
  };
  const settle = async (id: string, leaseToken: string, outcome: SettleOutcome) =>
    unwrap((await repo.settle([{ id, leaseToken, outcome }]))[0]);
  const settleNew = async (target: string, status: FinalStatus, retentionMs: number, cleanup: boolean) => {
    const job = await createIn(target);
    const claimed = await claim(job.id);
    const outcome = finalOutcome(status, retentionMs);
    if (outcome.status === 'succeeded') outcome.cleanup = cleanup;
    expect(await settle(job.id, claimed!.leaseToken!, outcome), 'settle by the lease holder').toBe(true);
    return job.id;
  };
  const within = (actual: number, expected: number, what: string) => {
    if (clock.controlled) expect(actual, what).toBe(expected);
    else expect(Math.abs(actual - expected), what).toBeLessThanOrEqual(TOLERANCE_MS);
  };

  const fixture: RepositoryFixture = {
    repo,
    clock,
    endpoint,
    waitTimeoutMs,
    newEndpoint: () => {
      const name = uniqueName('repo');
      endpoints.add(name);
      return name;
    },
    create: (overrides) => createIn(endpoint, overrides),
    createIn,
    mustGet,
    header: (id) => repo.get(id, 'header'),
    claim,
    claimNew,
    heartbeat: async (id, leaseToken, request = {}) =>
      unwrap((await repo.heartbeat([{ id, leaseToken, leaseMs: LONG, ...request }]))[0]),
    settle,
    finalJob: async (status, { cleanup = false } = {}) =>
      mustGet(await settleNew(endpoint, status, LONG, cleanup)),
    expiringJob: (status, { cleanup = false, endpoint: target = endpoint } = {}) =>
      settleNew(target, status, SHORT, cleanup),
    dispatch: async (query = {}, publish = (items) => items.map(() => true)) => {
      const items: DispatchItem[] = [];
      const request = { limit: 100, endpoints: [endpoint], redispatchAfterMs: null, ...query };
      const result = await repo.dispatch(request, async (batch) => {
        items.push(...batch);
        return publish(batch);
      });
      return { ...result, items };
    },
    expectDuration: (from, to, ms) => {
      expect(from).toBeInstanceOf(Date);
      expect(to).toBeInstanceOf(Date);
      within(to!.getTime() - from!.getTime(), ms, 'duration');
    },
    expectNow: (date, offsetMs = 0) => {
      expect(date).toBeInstanceOf(Date);
      if (clock.controlled) expect(date!.getTime()).toBe(clock.read() + offsetMs);
      else expect(Math.abs(date!.getTime() - (Date.now() + offsetMs))).toBeLessThanOrEqual(SKEW_TOLERANCE_MS);
    },
    watch: async () => {
      const changes: JobChange[] = [];
      const unsubscribe = await repo.subscribe((change) => changes.push(change));
      subscriptions.add(unsubscribe);
      const of = (id: string) => changes.filter((change) => change.id === id);
      const next = (id: string, what: string, match: (change: JobChange) => boolean = () => true) =>
        waitFor(() => of(id).find(match), { timeoutMs: waitTimeoutMs, message: `a notification of ${what}` });
      return {
        changes,
        of,
        next,
        barrier: async () => {
          const marker = await createIn(endpoint);
          await next(marker.id, 'a marker job');
        },
        stop: () => {
          unsubscribe();
          subscriptions.delete(unsubscribe);
        },
      };
    },
  };

  const dispose = async () => {
    try {
      for (const unsubscribe of subscriptions) unsubscribe();
      await purgeJobs(raw, ids, endpoints);
      await options.cleanup?.(raw);
    } finally {
      await raw.close();
    }
  };
  return { fixture, dispose };
}
