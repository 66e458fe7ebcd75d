import type {
  Endpoint,
  EndpointOptions,
  JobQueue,
  JobRecord,
  JobRepository,
  JobsRuntime,
  JobsRuntimeOptions,
  Logger,
  Worker,
  WorkerContext,
} from '@jobs/core';
import { createJobsRuntime, defineEndpoint, implement, isFinalStatus, silentLogger } from '@jobs/core';
import { createMemoryQueue } from '@jobs/memory';
import { afterEach, beforeEach } from 'vitest';
import { z } from 'zod';
import { purgeJobs, trackJobs, uniqueName, waitFor } from '../helpers.js';

export interface RuntimeBackend {
  repository: JobRepository;
  queue: JobQueue;
  /** Closes both; default: `queue.close()` then `repository.close()`. */
  close?: () => Promise<void>;
}

export type RuntimeFactory = () => Promise<RuntimeBackend> | RuntimeBackend;

export interface RuntimeContractOptions {
  /** Runs after each test, before the backend is closed, with the endpoint names the test used. */
  cleanup?: (backend: RuntimeBackend, endpoints: string[]) => Promise<void>;
  /** Timeout of each test. Default 60 s. */
  testTimeoutMs?: number;
  /** How long a test waits for a job to reach a state. Default 30 s. */
  waitTimeoutMs?: number;
}

export const input = z.object({ value: z.number() });
export const output = z.object({ doubled: z.number() });
export type Input = z.infer<typeof input>;

/** Short timings so that leases, retries and sweeps happen within a test. */
export const HOST = {
  leaseMs: 1_000,
  heartbeatIntervalMs: 100,
  progressIntervalMs: 20,
  shutdownTimeoutMs: 2_000,
};
export const SWEEPER = { intervalMs: 100, redispatchAfterMs: 1_000 };
export const DISPATCHER = { pollIntervalMs: 100 };
export const CLEANUP = { pollIntervalMs: 100, retryDelayMs: 50, timeoutMs: 2_000 };

export type TestEndpoint = Endpoint<string, typeof input, typeof output>;

/** Everything a runtime contract test works with; fresh for each test. */
export interface RuntimeFixture {
  readonly backend: RuntimeBackend;
  /** The backend's repository, remembering the jobs it creates (removed after the test) and every claim. */
  readonly repository: JobRepository;
  readonly timeout: number;
  readonly waitTimeoutMs: number;
  /** Every claim made through `repository`: job id → results (null when refused). */
  claimsOf(id: string): Array<JobRecord | null>;
  endpoint(options?: EndpointOptions): TestEndpoint;
  /** A name the test uses for an endpoint it defines itself (its queues are cleaned up afterwards). */
  endpointName(): string;
  worker(
    e: TestEndpoint,
    run: (value: Input, ctx: WorkerContext) => Promise<{ doubled: number }> | { doubled: number },
    extra?: Partial<Omit<Worker<TestEndpoint>, 'endpoint' | 'run'>>,
  ): Worker<TestEndpoint>;
  /** A runtime on the backend with short timings (stopped after the test); `overrides` replace the defaults. */
  runtime(
    workers: Worker<any>[],
    overrides?: Partial<Omit<JobsRuntimeOptions, 'workers'>> & { endpoints?: readonly Endpoint[] },
  ): JobsRuntime;
  waitUntil<T>(condition: () => T | Promise<T>, message: string): Promise<NonNullable<T>>;
  waitForStatus(id: string, statuses: string[]): Promise<JobRecord>;
  waitForFinal(id: string): Promise<JobRecord>;
  waitForRefusedClaim(id: string): Promise<void>;
  /** Fails the test when `promise` has not settled after the wait timeout: for calls that must not hang. */
  bounded<T>(promise: Promise<T>, what: string): Promise<T>;
}

/** Registers the hooks that give each test of the enclosing `describe` a fresh fixture; read it inside tests. */
export function useRuntimeFixture(
  factory: RuntimeFactory,
  options: RuntimeContractOptions,
): () => RuntimeFixture {
  const timeout = options.testTimeoutMs ?? 60_000;
  const waitTimeoutMs = options.waitTimeoutMs ?? 30_000;
  let current: RuntimeFixture | null = null;
  let teardown: (() => Promise<void>) | null = null;

  beforeEach(async () => {
    const backend = await factory();
    const createdIds = new Set<string>();
    const endpoints: string[] = [];
    const runtimes: JobsRuntime[] = [];
    const claims = new Map<string, Array<JobRecord | null>>();
    const tracked = trackJobs(backend.repository, createdIds);
    const repository: JobRepository = {
      ...tracked,
      async claim(requests) {
        const results = await tracked.claim(requests);
        requests.forEach((request, index) => {
          const list = claims.get(request.id) ?? [];
          list.push(results[index] ?? null);
          claims.set(request.id, list);
        });
        return results;
      },
    };
    const waitUntil = <T>(condition: () => T | Promise<T>, message: string) =>
      waitFor(condition, { timeoutMs: waitTimeoutMs, message });
    const endpointName = () => {
      const name = uniqueName('rt');
      endpoints.push(name);
      return name;
    };
    current = {
      backend,
      repository,
      timeout,
      waitTimeoutMs,
      claimsOf: (id) => claims.get(id) ?? [],
      endpointName,
      endpoint: (endpointOptions = {}) =>
        defineEndpoint({ name: endpointName(), input, output, maxAttempts: 3, ...endpointOptions }),
      worker: (e, run, extra = {}) => implement(e, { run, ...extra }),
      runtime(workers, overrides = {}) {
        const created = createJobsRuntime({
          repository,
          queue: backend.queue,
          workers,
          logger: silentLogger,
          host: HOST,
          sweeper: SWEEPER,
          dispatcher: DISPATCHER,
          cleanup: CLEANUP,
          ...overrides,
        });
        runtimes.push(created);
        return created;
      },
      waitUntil,
      waitForStatus: (id, statuses) =>
        waitUntil(
          async () => {
            const job = await backend.repository.get(id);
            return job && statuses.includes(job.status) ? job : null;
          },
          `job ${id} to be ${statuses.join(' or ')}`,
        ),
      waitForFinal: (id) =>
        waitUntil(async () => {
          const job = await backend.repository.get(id);
          return job && isFinalStatus(job.status) ? job : null;
        }, `job ${id} to reach a final state`),
      waitForRefusedClaim: async (id) => {
        await waitUntil(
          () => (claims.get(id) ?? []).some((result) => result === null),
          `a refused claim of job ${id}`,
        );
      },
      async bounded(promise, what) {
        const timedOut = Symbol('timed out');
        let timer: ReturnType<typeof setTimeout> | undefined;
        const result = await Promise.race([
          promise,
          new Promise<typeof timedOut>((resolve) => {
            timer = setTimeout(() => resolve(timedOut), waitTimeoutMs);
          }),
        ]).finally(() => clearTimeout(timer));
        if (result === timedOut) throw new Error(`${what} did not return within ${waitTimeoutMs} ms`);
        return result as Awaited<typeof promise>;
      },
    };
    teardown = async () => {
      try {
        await Promise.allSettled(runtimes.map((runtime) => runtime.stop({ timeoutMs: 200 })));
        await purgeJobs(backend.repository, createdIds);
        await options.cleanup?.(backend, endpoints);
      } finally {
        if (backend.close) await backend.close();
        else {
          await backend.queue.close();
          await backend.repository.close();
        }
      }
    };
  });

  afterEach(async () => {
    const done = teardown;
    current = null;
    teardown = null;
    await done?.();
  });

  return () => {
    if (!current) throw new Error('The runtime fixture is only available inside a test.');
    return current;
  };
}

/** A logger that keeps what it is told, for tests that check what gets logged. */
export function recordingLogger(): Logger & {
  entries: Array<{ level: string; message: string; fields: Record<string, unknown> }>;
} {
  const entries: Array<{ level: string; message: string; fields: Record<string, unknown> }> = [];
  const log = (level: string) => (fields: Record<string, unknown>, message: string) => {
    entries.push({ level, message, fields });
  };
  return { entries, debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

/** A queue whose depth the test can read: the backend's when it can tell, else an in-memory one. */
export interface CountingQueue {
  queue: JobQueue;
  /** The messages of the endpoint waiting in `queue`. */
  depth: () => Promise<number>;
  /** Every job id of the endpoint published through `counting`, in order. */
  published: string[];
  /** `queue`, recording what is published to the endpoint in `published`; closing it closes nothing. */
  counting: JobQueue;
}

/**
 * Runs `body` with a queue that reports its depth: the backend's queue when it can tell, else an in-memory
 * queue, closed afterwards (a queue without depth is re-dispatched to by design: nothing to test there).
 */
export async function withCountingQueue(
  backend: RuntimeBackend,
  e: TestEndpoint,
  body: (q: CountingQueue) => Promise<void>,
): Promise<void> {
  const ownQueue = typeof backend.queue.depth === 'function' ? null : createMemoryQueue();
  const queue = ownQueue ?? backend.queue;
  try {
    const published: string[] = [];
    const counting: JobQueue = {
      async publish(endpointName, jobId) {
        await queue.publish(endpointName, jobId);
        if (endpointName === e.name) published.push(jobId);
      },
      consume: (endpointName, handler, consumeOptions) =>
        queue.consume(endpointName, handler, consumeOptions),
      depth: (endpointName) => queue.depth!(endpointName),
      close: async () => {},
    };
    await body({ queue, depth: async () => queue.depth!(e.name), published, counting });
  } finally {
    await ownQueue?.close();
  }
}
