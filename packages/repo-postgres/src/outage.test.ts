import {
  createJobsRuntime,
  defineEndpoint,
  implement,
  type JobChange,
  type JobRecord,
  newJobId,
  newLeaseToken,
  silentLogger,
  UnavailableError,
} from '@jobs/core';
import { createMemoryQueue } from '@jobs/memory';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createPostgresRepository, type PostgresJobRepository } from './repository.js';
import {
  DATABASE_URL,
  dropSchema,
  escapedErrors,
  newJob,
  randomAppName,
  randomSchema,
  TcpProxy,
  terminateBackends,
  testRepository,
  tolerant,
  values,
  waitFor,
} from './test-support.js';

const schema = randomSchema('outage');
const silent = silentLogger;
const PROBLEM = { type: 'about:blank', title: 'Canceled', code: 'canceled' };

/** Errors that escaped to the process: there must be none. */
let escaped: ReturnType<typeof escapedErrors>;

beforeAll(async () => {
  escaped = escapedErrors();
  const repository = testRepository(schema);
  await repository.migrate();
  await repository.close();
});

afterAll(async () => {
  escaped.stop();
  await dropSchema(schema);
});

afterEach(() => {
  expect(escaped.errors).toEqual([]);
});

/** create → claim → heartbeat with progress → settle succeeded, each a batch of one; returns the final job. */
async function lifecycle(repository: PostgresJobRepository, endpoint: string): Promise<JobRecord> {
  const [created] = values(await repository.create([newJob(endpoint)]));
  const id = created!.job.id;
  const leaseToken = newLeaseToken();
  const [claimed] = await repository.claim([{ id, leaseToken, leaseMs: 60_000 }]);
  expect(claimed).toMatchObject({ id, status: 'running', attempt: 1 });
  expect(
    values(await repository.heartbeat([{ id, leaseToken, leaseMs: 60_000, progress: { fraction: 0.5 } }])),
  ).toEqual([{ held: true, cancelRequested: false }]);
  expect(
    values(
      await repository.settle([
        { id, leaseToken, outcome: { status: 'succeeded', output: 'done', retentionMs: 60_000 } },
      ]),
    ),
  ).toEqual([true]);
  const settled = await repository.get(id);
  expect(settled).toMatchObject({ status: 'succeeded', output: 'done', attempt: 1 });
  return settled!;
}

/** Records what a subscriber hears: changes and liveness, in order. */
function recorder() {
  const changes: JobChange[] = [];
  const live: boolean[] = [];
  return {
    changes,
    live,
    listener: (change: JobChange) => changes.push(change),
    options: { onLiveChange: (value: boolean) => live.push(value) },
    heard: (id: string, status?: string) =>
      changes.some((change) => change.id === id && (status === undefined || change.status === status)),
  };
}

describe('outage', () => {
  it('terminating the backends while operations run: typed errors only, no job lost, full recovery', async () => {
    const app = randomAppName('outage');
    const endpoint = `outage-${app}`;
    const repository = testRepository(schema, { poolConfig: { application_name: app }, logger: silent });
    const heard = recorder();
    await repository.subscribe(heard.listener, heard.options);
    const created: string[] = [];
    const unavailable: UnavailableError[] = [];
    let stop = false;

    async function worker() {
      while (!stop) {
        const result = await tolerant(async () => {
          const jobs = [newJob(endpoint), newJob(endpoint)];
          for (const result of values(await repository.create(jobs))) created.push(result.job.id);
          const requests = jobs.map((job) => ({ id: job.id, leaseToken: newLeaseToken(), leaseMs: 60_000 }));
          const claimed = await repository.claim(requests);
          const mine = requests.filter((_request, index) => claimed[index] !== null);
          await repository.heartbeat(mine.map((r) => ({ ...r, progress: { fraction: 0.5 } })));
          await repository.settle(
            mine.map((r) => ({
              id: r.id,
              leaseToken: r.leaseToken,
              outcome: { status: 'succeeded', output: 1, retentionMs: 60_000 } as const,
            })),
          );
          await repository.get(jobs[0]!.id);
          await repository.list({ endpoint, owner: null, limit: 5 });
          await repository.dispatch(
            { limit: 10, endpoints: [endpoint], redispatchAfterMs: null },
            async (items) => items.map(() => true),
          );
        });
        if (result instanceof UnavailableError) unavailable.push(result);
      }
    }

    try {
      const workers = Array.from({ length: 6 }, () => worker());
      await waitFor(() => created.length >= 20, 'the workload to run');
      let terminated = 0;
      for (let round = 0; round < 5; round++) {
        terminated += await terminateBackends(app);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const createdBefore = created.length;
      await waitFor(() => created.length >= createdBefore + 20, 'the workload to continue after the outage');
      stop = true;
      await Promise.all(workers);

      expect(terminated).toBeGreaterThan(0);
      for (const error of unavailable) expect(error).toMatchObject({ code: 'unavailable', status: 503 });
      // Every job whose create was confirmed is still there.
      for (const id of created) expect(await repository.get(id, 'header'), id).not.toBeNull();
      // Everything works again, without a restart, and the LISTEN connection is back.
      await lifecycle(repository, endpoint);
      await waitFor(() => repository.listening, 'LISTEN to be active again');
      const [result] = values(await repository.create([newJob(endpoint)]));
      await waitFor(() => heard.heard(result!.job.id, 'queued'), 'a notification after the reconnect');
      // The LISTEN connection was terminated too: subscribers were told, and told again when it was back.
      expect(heard.live[0]).toBe(false);
      expect(heard.live.at(-1)).toBe(true);
    } finally {
      stop = true;
      await repository.close();
    }
  }, 60_000);

  it('terminating the backends while a service runs jobs: no crash, no job lost, every accepted job succeeds', async () => {
    const app = randomAppName('service');
    const repository = testRepository(schema, { poolConfig: { application_name: app }, logger: silent });
    const queue = createMemoryQueue();
    const endpoint = defineEndpoint({
      name: `outage-${app}`,
      input: z.object({ n: z.number() }),
      output: z.object({ n: z.number() }),
      maxAttempts: 50,
    });
    const worker = implement(endpoint, {
      async run({ n }) {
        await new Promise((resolve) => setTimeout(resolve, 30));
        return { n };
      },
    });
    const runtime = createJobsRuntime({
      repository,
      queue,
      workers: [worker],
      logger: silent,
      host: { leaseMs: 1_000, heartbeatIntervalMs: 100, shutdownTimeoutMs: 2_000 },
      dispatcher: { pollIntervalMs: 100 },
      sweeper: { intervalMs: 100, redispatchAfterMs: 1_000 },
    });
    await runtime.start();
    const submitted = new Map<string, number>();
    try {
      const submit = async (n: number) => {
        const result = await tolerant(() => runtime.service.submit(endpoint.name, { n }));
        if (!(result instanceof UnavailableError)) submitted.set(result.job.id, n);
      };
      for (let n = 0; n < 20; n++) await submit(n);
      let terminated = 0;
      for (let round = 0; round < 4; round++) {
        terminated += await terminateBackends(app);
        await Promise.all([submit(100 + round * 2), submit(101 + round * 2)]);
        await new Promise((resolve) => setTimeout(resolve, 150));
      }
      expect(terminated).toBeGreaterThan(0);
      expect(submitted.size).toBeGreaterThanOrEqual(20);

      // No job is lost: every accepted job ends succeeded with its own output.
      await waitFor(
        async () => {
          for (const id of submitted.keys()) {
            if ((await repository.get(id, 'header'))?.status !== 'succeeded') return false;
          }
          return true;
        },
        'every submitted job to succeed',
        45_000,
      );
      for (const [id, n] of submitted) {
        expect(await repository.get(id)).toMatchObject({ status: 'succeeded', output: { n } });
      }
    } finally {
      await runtime.stop({ timeoutMs: 2_000 });
      await queue.close();
      await repository.close();
    }
  }, 90_000);

  it('while the LISTEN connection is down subscribers hear onLiveChange(false), then onLiveChange(true) once it is back, and notifications flow again', async () => {
    const app = randomAppName('listen');
    const listenApp = randomAppName('listen-only');
    const repository = testRepository(schema, {
      poolConfig: { application_name: app },
      listenConnection: { connectionString: DATABASE_URL, application_name: listenApp },
      logger: silent,
    });
    const first = recorder();
    const second = recorder();
    try {
      await repository.subscribe(first.listener, first.options);
      await repository.subscribe(second.listener, second.options);
      expect(repository.listening).toBe(true);
      // Subscribing says nothing about liveness: the subscription is live once subscribe resolved.
      expect(first.live).toEqual([]);
      for (let round = 1; round <= 3; round++) {
        const liveBefore = first.live.length;
        // Only the LISTEN connection is terminated: the pool is untouched.
        expect(await terminateBackends(listenApp)).toBe(1);
        await waitFor(
          () => first.live.length >= liveBefore + 2,
          `onLiveChange(false) then (true), round ${round}`,
        );
        expect(first.live.slice(liveBefore)).toEqual([false, true]);
        expect(second.live).toEqual(first.live);
        expect(repository.listening).toBe(true);
        const [created] = values(await repository.create([newJob('listen')]));
        await waitFor(
          () => first.heard(created!.job.id, 'queued') && second.heard(created!.job.id, 'queued'),
          `a notification after reconnect ${round}`,
        );
      }
      expect(first.live).toEqual([false, true, false, true, false, true]);
    } finally {
      await repository.close();
    }
  }, 60_000);

  it('a LISTEN connection that cannot come back: subscribers stay told it is down, new subscriptions are refused, and all is live again when it is back', async () => {
    const proxy = new TcpProxy();
    await proxy.start();
    const repository = testRepository(schema, {
      listenConnection: proxy.url(),
      reconnectDelayMs: 20,
      maxReconnectDelayMs: 200,
      logger: silent,
    });
    const heard = recorder();
    try {
      await repository.subscribe(heard.listener, heard.options);
      expect(repository.listening).toBe(true);
      await proxy.stop();
      await waitFor(() => heard.live.length > 0, 'onLiveChange(false)');
      expect(heard.live).toEqual([false]);
      expect(repository.listening).toBe(false);

      // The pool works meanwhile; nothing says the subscription is live until it is.
      const settled = await lifecycle(repository, 'listen-down');
      await expect(repository.subscribe(() => {})).rejects.toBeInstanceOf(UnavailableError);
      expect(heard.live).toEqual([false]);

      await proxy.start();
      await waitFor(() => heard.live.length > 1, 'onLiveChange(true)');
      expect(heard.live).toEqual([false, true]);
      expect(repository.listening).toBe(true);
      // What changed while it was down is what a subscriber re-checks on onLiveChange(true).
      expect(await repository.get(settled.id, 'header')).toMatchObject({ status: 'succeeded' });
      const [created] = values(await repository.create([newJob('listen-down')]));
      await waitFor(() => heard.heard(created!.job.id, 'queued'), 'a pushed notification');
    } finally {
      await repository.close();
      await proxy.stop();
    }
  }, 60_000);

  it('a dropped database: UnavailableError while it is down, everything works again when it is back', async () => {
    const proxy = new TcpProxy();
    await proxy.start();
    const repository = createPostgresRepository({
      connectionString: proxy.url(),
      schema,
      reconnectDelayMs: 20,
      maxReconnectDelayMs: 200,
      poolConfig: { connectionTimeoutMillis: 2_000 },
      logger: silent,
    });
    const heard = recorder();
    try {
      await repository.subscribe(heard.listener, heard.options);
      const before = await lifecycle(repository, 'dropped');

      await proxy.stop();
      await waitFor(() => !repository.listening, 'the LISTEN connection to notice the drop');
      expect(heard.live).toEqual([false]);
      const token = newLeaseToken();
      const errors = await Promise.all([
        repository.get(before.id).catch((e: unknown) => e),
        repository.create([newJob('dropped')]).catch((e: unknown) => e),
        repository.claim([{ id: newJobId(), leaseToken: token, leaseMs: 1000 }]).catch((e: unknown) => e),
        repository.heartbeat([{ id: before.id, leaseToken: token, leaseMs: 1000 }]).catch((e: unknown) => e),
        repository
          .settle([
            {
              id: before.id,
              leaseToken: token,
              outcome: { status: 'failed', error: PROBLEM, retentionMs: 1 },
            },
          ])
          .catch((e: unknown) => e),
        repository.list({ endpoint: 'dropped', owner: null, limit: 10 }).catch((e: unknown) => e),
        repository
          .dispatch({ limit: 10, redispatchAfterMs: null }, async (items) => items.map(() => true))
          .catch((e: unknown) => e),
        repository.deleteExpired(10).catch((e: unknown) => e),
        repository.subscribe(() => {}).catch((e: unknown) => e),
      ]);
      for (const error of errors) {
        expect(error, String(error)).toBeInstanceOf(UnavailableError);
        expect(error).toMatchObject({ code: 'unavailable', status: 503 });
      }

      await proxy.start();
      expect(await waitFor(() => repository.get(before.id), 'the database to be reachable again')).toEqual(
        before,
      );
      await lifecycle(repository, 'dropped');
      await waitFor(() => repository.listening, 'LISTEN to be active again');
      await waitFor(() => heard.live.length === 2, 'onLiveChange(true)');
      expect(heard.live).toEqual([false, true]);
      const [created] = values(await repository.create([newJob('dropped')]));
      await waitFor(() => heard.heard(created!.job.id, 'queued'), 'a notification after recovery');
    } finally {
      await repository.close();
      await proxy.stop();
    }
  }, 60_000);

  it('a server that refuses connections: every operation rejects with UnavailableError, no crash', async () => {
    const repository = createPostgresRepository({
      connectionString: 'postgres://postgres@127.0.0.1:1/test',
      schema,
      logger: silent,
    });
    const id = newJobId();
    const leaseToken = newLeaseToken();
    try {
      const attempts: Array<() => Promise<unknown>> = [
        () => repository.migrate(),
        () => repository.get(id),
        () => repository.get(id, 'header'),
        () => repository.create([newJob('refused')]),
        () => repository.claim([{ id, leaseToken, leaseMs: 1000 }]),
        () => repository.heartbeat([{ id, leaseToken, leaseMs: 1000 }]),
        () =>
          repository.settle([
            { id, leaseToken, outcome: { status: 'succeeded', output: 1, retentionMs: 1 } },
          ]),
        () => repository.requestCancel(id, { retentionMs: 1000, error: PROBLEM }),
        () => repository.remove(id),
        () => repository.list({ endpoint: 'refused', owner: null, limit: 1 }),
        () => repository.dispatch({ limit: 1, redispatchAfterMs: 0 }, async (items) => items.map(() => true)),
        () => repository.deleteExpired(10),
        () => repository.claimCleanups({ endpoints: ['refused'], limit: 1, leaseMs: 1000, leaseToken }),
        () => repository.finishCleanup(id, leaseToken, null),
        () => repository.subscribe(() => {}),
      ];
      for (const attempt of attempts) {
        const error = await attempt().catch((e: unknown) => e);
        expect(error, String(error)).toBeInstanceOf(UnavailableError);
        expect((error as Error).message).not.toContain('127.0.0.1');
      }
    } finally {
      await repository.close();
    }
    await expect(repository.get(newJobId())).rejects.toBeInstanceOf(UnavailableError);
    await expect(repository.create([newJob('refused')])).rejects.toBeInstanceOf(UnavailableError);
  }, 30_000);
});
