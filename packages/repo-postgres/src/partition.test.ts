import {
  createJobsRuntime,
  defineEndpoint,
  type HeartbeatRequest,
  implement,
  type JobChange,
  type JobsRuntime,
  type SettleRequest,
  silentLogger,
  UnavailableError,
} from '@jobs/core';
import { createMemoryQueue } from '@jobs/memory';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createPostgresRepository, type PostgresJobRepository } from './repository.js';
import {
  dropSchema,
  escapedErrors,
  randomSchema,
  settleWithin,
  TcpProxy,
  testRepository,
  waitFor,
} from './test-support.js';

// Issue 11.1: a worker host whose network to PostgreSQL silently drops every packet (nothing is closed, nothing
// arrives: a black hole, not a reset). Its run must stop once its lease may have passed, the job must run again on
// another host, and exactly one result must be recorded. The proxy is local to this test: no shared server is
// disturbed.

const schema = randomSchema('partition');
const LEASE_MS = 1_000;
const QUERY_TIMEOUT_MS = 1_000;
const silent = silentLogger;

beforeAll(async () => {
  const repository = testRepository(schema);
  await repository.migrate();
  await repository.close();
});

afterAll(async () => {
  await dropSchema(schema);
});

/** Wraps a repository's heartbeat and settle to record the renewals and results it confirmed. */
function instrument(repository: PostgresJobRepository) {
  const log = { lastRenewal: 0, recorded: [] as Array<{ id: string; status: string; output?: unknown }> };
  const heartbeat = repository.heartbeat.bind(repository);
  repository.heartbeat = async (requests: readonly HeartbeatRequest[]) => {
    const sentAt = Date.now();
    const results = await heartbeat(requests);
    if (results.some((result) => result.ok && result.value.held))
      log.lastRenewal = Math.max(log.lastRenewal, sentAt);
    return results;
  };
  const settle = repository.settle.bind(repository);
  repository.settle = async (requests: readonly SettleRequest[]) => {
    const results = await settle(requests);
    results.forEach((result, i) => {
      const { id, outcome } = requests[i]!;
      if (result.ok && result.value) {
        log.recorded.push({
          id,
          status: outcome.status,
          ...(outcome.status === 'succeeded' ? { output: outcome.output } : {}),
        });
      }
    });
    return results;
  };
  return log;
}

describe('a worker host cut off from PostgreSQL by a black hole', () => {
  it('its run is aborted once its lease may have passed, the job runs again on another host, and one result is recorded', async () => {
    const escaped = escapedErrors();
    const proxy = new TcpProxy();
    await proxy.start();
    // Host A reaches PostgreSQL through the proxy (its pool and its LISTEN connection); host B directly.
    const repoA = createPostgresRepository({
      connectionString: proxy.url(),
      schema,
      queryTimeoutMs: QUERY_TIMEOUT_MS,
      listenHealthCheckMs: 500,
      reconnectDelayMs: 50,
      maxReconnectDelayMs: 500,
      logger: silent,
    });
    const repoB = testRepository(schema, { logger: silent });
    const logA = instrument(repoA);
    const logB = instrument(repoB);
    const queue = createMemoryQueue();
    const endpoint = defineEndpoint({
      name: `partition-${crypto.randomUUID().slice(0, 8)}`,
      input: z.object({ n: z.number() }),
      output: z.object({ host: z.string() }),
      maxAttempts: 5,
      timeoutMs: null,
    });

    let startedOnA = 0;
    let abortedAt = 0;
    let abortReason: unknown;
    const workerA = implement(endpoint, async (_input, ctx) => {
      startedOnA = Date.now();
      await new Promise<void>((resolve) => {
        ctx.signal.addEventListener(
          'abort',
          () => {
            abortedAt = Date.now();
            abortReason = ctx.signal.reason;
            resolve();
          },
          { once: true },
        );
      });
      // Returned after the abort: this result must never be recorded.
      return { host: 'A' };
    });
    let startedOnB = 0;
    const attemptsOnB: number[] = [];
    const workerB = implement(endpoint, async (_input, ctx) => {
      startedOnB ||= Date.now();
      attemptsOnB.push(ctx.attempt);
      return { host: 'B' };
    });

    const common = {
      queue,
      logger: silent,
      host: { leaseMs: LEASE_MS, heartbeatIntervalMs: 250, shutdownTimeoutMs: 1_000 },
      dispatcher: { pollIntervalMs: 200 },
      sweeper: { intervalMs: 500 },
    };
    const runtimes: JobsRuntime[] = [];
    const changes: JobChange[] = [];
    try {
      await repoB.subscribe((change) => changes.push(change));
      const runtimeA = createJobsRuntime({ ...common, repository: repoA, workers: [workerA] });
      const runtimeB = createJobsRuntime({ ...common, repository: repoB, workers: [workerB] });
      runtimes.push(runtimeA, runtimeB);
      // Submitted before either host starts; A starts first, so the first run is A's.
      const { job } = await runtimeB.service.submit(endpoint.name, { n: 1 });
      await runtimeA.start();
      await waitFor(() => startedOnA > 0, 'A to run the job');
      // A runs it: only now does B's host start, so the first run is A's.
      expect(await repoB.get(job.id, 'header')).toMatchObject({ status: 'running', attempt: 1 });
      await runtimeB.start();
      await waitFor(() => logA.lastRenewal > 0, 'a renewal of A through the proxy');

      expect(abortedAt).toBe(0); // A's run is going on, its lease renewed
      proxy.blackHole();

      // A's run is stopped: its signal aborts (lease lost)...
      await waitFor(() => abortedAt > 0, "A's worker signal to abort");
      expect(abortReason).toMatchObject({ name: 'AbortError' });
      expect(String((abortReason as Error).message)).toContain('lease_lost');
      // ...not before its lease could have passed.
      expect(abortedAt - logA.lastRenewal).toBeGreaterThanOrEqual(LEASE_MS / 2);

      // The job runs again on B, and B's result is the one recorded.
      const done = await waitFor(async () => {
        const current = await repoB.get(job.id);
        return current?.status === 'succeeded' ? current : null;
      }, 'the job to succeed on B');
      expect(done).toMatchObject({ status: 'succeeded', attempt: 2, output: { host: 'B' } });
      expect(attemptsOnB).toEqual([2]);
      // Never two runs at once: A had stopped before B started.
      expect(abortedAt).toBeLessThanOrEqual(startedOnB);
      expect(logA.recorded).toEqual([]);
      expect(logB.recorded).toEqual([{ id: job.id, status: 'succeeded', output: { host: 'B' } }]);

      // A's repository fails within its query timeout instead of hanging.
      const outcome = await settleWithin(repoA.get(job.id), 15_000);
      expect(outcome.status).toBe('rejected');
      if (outcome.status === 'rejected') expect(outcome.reason).toBeInstanceOf(UnavailableError);

      // The network comes back: A sees B's result, and nothing of A's run was ever recorded.
      proxy.heal();
      expect(await waitFor(() => repoA.get(job.id), 'A to reach the database again')).toMatchObject({
        status: 'succeeded',
        attempt: 2,
        output: { host: 'B' },
      });
      await waitFor(() => repoA.listening, "A's LISTEN connection to be back");
      expect(logA.recorded).toEqual([]);
      // Everybody heard one result.
      await waitFor(
        () => changes.some((change) => change.id === job.id && change.status === 'succeeded'),
        'the result',
      );
      const heard = changes.filter((change) => change.id === job.id);
      expect(heard.filter((change) => change.status === 'succeeded')).toHaveLength(1);
      expect(heard.filter((change) => change.status === 'running').map((change) => change.attempt)).toEqual([
        1, 2,
      ]);
      // A's process did not crash: nothing escaped.
      expect(escaped.errors).toEqual([]);
    } finally {
      proxy.heal();
      for (const runtime of runtimes) await runtime.stop({ timeoutMs: 1_000 });
      await queue.close();
      await repoA.close();
      await repoB.close();
      await proxy.stop(); // destroys every socket, the black-holed ones too
      escaped.stop();
    }
  }, 90_000);
});
