import net from 'node:net';
import {
  createJobsRuntime,
  defineEndpoint,
  implement,
  type JobRecord,
  newJobId,
  newLeaseToken,
  UnavailableError,
} from '@jobs/core';
import { createMemoryQueue } from '@jobs/memory';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createPostgresRepository, type PostgresJobRepository } from './repository.js';
import {
  DATABASE_URL,
  dropSchema,
  randomAppName,
  randomSchema,
  terminateBackends,
  testRepository,
} from './test-support.js';

const schema = randomSchema('outage');
const upstream = new URL(DATABASE_URL);
const silent = { debug() {}, info() {}, warn() {}, error() {} };

/** Errors that escaped to the process: there must be none. */
const escaped: unknown[] = [];
const onEscaped = (error: unknown) => escaped.push(error);

beforeAll(async () => {
  process.on('uncaughtException', onEscaped);
  process.on('unhandledRejection', onEscaped);
  const repository = testRepository(schema);
  await repository.migrate();
  await repository.close();
});

afterAll(async () => {
  process.off('uncaughtException', onEscaped);
  process.off('unhandledRejection', onEscaped);
  await dropSchema(schema);
});

afterEach(() => {
  expect(escaped).toEqual([]);
});

async function waitFor<T>(condition: () => T | Promise<T>, message: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const value = await condition();
      if (value) return value;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${message}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function newJob(endpoint: string) {
  return {
    id: newJobId(),
    endpoint,
    input: { at: Date.now() },
    owner: null,
    idempotencyKey: null,
    inputHash: null,
    maxAttempts: 3,
    estimatedCompletionAt: null,
  };
}

/** A TCP proxy to the PostgreSQL server that the test can cut (connections dropped, port refused) and restore. */
class TcpProxy {
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  async start(): Promise<void> {
    const server = net.createServer((client) => {
      const server = net.connect(Number(upstream.port || 5432), upstream.hostname);
      for (const socket of [client, server]) {
        this.sockets.add(socket);
        socket.on('error', () => {
          client.destroy();
          server.destroy();
        });
        socket.on('close', () => this.sockets.delete(socket));
      }
      client.pipe(server);
      server.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  /** Drops every connection and refuses new ones. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const socket of this.sockets) socket.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  url(): string {
    const url = new URL(DATABASE_URL);
    url.hostname = '127.0.0.1';
    url.port = String(this.port);
    return url.toString();
  }
}

/** Runs `fn`; returns 'ok', or the error when it is an UnavailableError; anything else fails the test. */
async function tolerant<T>(fn: () => Promise<T>): Promise<T | UnavailableError> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof UnavailableError) return error;
    throw error;
  }
}

async function lifecycle(repository: PostgresJobRepository, endpoint: string): Promise<JobRecord> {
  const { job } = await repository.create(newJob(endpoint));
  const token = newLeaseToken();
  const claimed = await repository.claim(job.id, { leaseToken: token, leaseMs: 60_000 });
  expect(claimed).toMatchObject({ status: 'running' });
  expect(await repository.heartbeat(job.id, token, { leaseMs: 60_000, progress: { fraction: 0.5 } })).toEqual(
    {
      held: true,
      cancelRequested: false,
    },
  );
  const settled = await repository.settle(job.id, token, {
    status: 'succeeded',
    output: 'done',
    retentionMs: 60_000,
  });
  expect(settled).toMatchObject({ status: 'succeeded', output: 'done' });
  return settled!;
}

describe('outage', () => {
  it('terminating the backends while operations run: typed errors only, no job lost, full recovery', async () => {
    const app = randomAppName('outage');
    const endpoint = `outage-${app}`;
    const repository = testRepository(schema, { poolConfig: { application_name: app }, logger: silent });
    const notified = new Set<string>();
    await repository.subscribe((id) => notified.add(id));
    const created: string[] = [];
    const unavailable: UnavailableError[] = [];
    let stop = false;

    async function worker() {
      while (!stop) {
        const result = await tolerant(async () => {
          const { job } = await repository.create(newJob(endpoint));
          created.push(job.id);
          const token = newLeaseToken();
          if (await repository.claim(job.id, { leaseToken: token, leaseMs: 60_000 })) {
            await repository.heartbeat(job.id, token, { leaseMs: 60_000, progress: { fraction: 0.5 } });
            await repository.settle(job.id, token, { status: 'succeeded', output: 1, retentionMs: 60_000 });
          }
          await repository.get(job.id);
          await repository.list({ endpoint, owner: null, limit: 5 });
        });
        if (result instanceof UnavailableError) unavailable.push(result);
      }
    }

    try {
      const workers = Array.from({ length: 6 }, () => worker());
      await waitFor(() => created.length >= 10, 'the workload to run');
      let terminated = 0;
      for (let round = 0; round < 5; round++) {
        terminated += await terminateBackends(app);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const createdBefore = created.length;
      await waitFor(() => created.length >= createdBefore + 10, 'the workload to continue after the outage');
      stop = true;
      await Promise.all(workers);

      expect(terminated).toBeGreaterThan(0);
      for (const error of unavailable) expect(error).toMatchObject({ code: 'unavailable', status: 503 });
      // Every job whose create was confirmed is still there.
      for (const id of created) expect(await repository.get(id), id).not.toBeNull();
      // Everything works again, without a restart, and the LISTEN connection is back.
      await lifecycle(repository, endpoint);
      await waitFor(() => repository.listening, 'LISTEN to be active again');
      const { job } = await repository.create(newJob(endpoint));
      await waitFor(() => notified.has(job.id), 'a notification after the reconnect');
    } finally {
      stop = true;
      await repository.close();
    }
  }, 60_000);

  it('terminating the backends while a service runs jobs: no crash, no job lost, every accepted job succeeds', async () => {
    const app = randomAppName('service');
    const repository = testRepository(schema, {
      poolConfig: { application_name: app },
      pollIntervalMs: 100,
      logger: silent,
    });
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
      sweeper: { intervalMs: 100, undispatchedGraceMs: 200, redispatchAfterMs: 1_000 },
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
            if ((await repository.get(id))?.status !== 'succeeded') return false;
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

  it('the LISTEN connection reconnects after being terminated and notifications resume', async () => {
    const app = randomAppName('listen');
    const repository = testRepository(schema, { poolConfig: { application_name: app }, logger: silent });
    const notified: string[] = [];
    try {
      await repository.subscribe((id) => notified.push(id));
      expect(repository.listening).toBe(true);
      for (let round = 0; round < 3; round++) {
        expect(await terminateBackends(app)).toBeGreaterThan(0);
        await waitFor(() => repository.listening, `LISTEN to be active again (round ${round})`);
        const job = await waitFor(
          () => repository.create(newJob('listen')).then((r) => r.job),
          'create to work again',
        );
        await waitFor(() => notified.includes(job.id), `a notification after reconnect ${round}`);
      }
    } finally {
      await repository.close();
    }
  }, 60_000);

  it('a dropped database: UnavailableError while it is down, everything works again when it is back', async () => {
    const proxy = new TcpProxy();
    await proxy.start();
    const repository = createPostgresRepository({
      connectionString: proxy.url(),
      schema,
      pollIntervalMs: 50,
      reconnectDelayMs: 20,
      maxReconnectDelayMs: 200,
      poolConfig: { connectionTimeoutMillis: 2_000 },
      logger: silent,
    });
    const notified: string[] = [];
    try {
      await repository.subscribe((id) => notified.push(id));
      const before = await lifecycle(repository, 'dropped');

      await proxy.stop();
      await waitFor(() => !repository.listening, 'the LISTEN connection to notice the drop');
      const errors = await Promise.all([
        repository.get(before.id).catch((e: unknown) => e),
        repository.create(newJob('dropped')).catch((e: unknown) => e),
        repository.list({ endpoint: 'dropped', owner: null, limit: 10 }).catch((e: unknown) => e),
        repository.claim(newJobId(), { leaseToken: newLeaseToken(), leaseMs: 1000 }).catch((e: unknown) => e),
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
      const after = await lifecycle(repository, 'dropped');
      await waitFor(() => repository.listening, 'LISTEN to be active again');
      await waitFor(() => notified.includes(after.id), 'notifications about the jobs changed meanwhile');
      const { job } = await repository.create(newJob('dropped'));
      await waitFor(() => notified.includes(job.id), 'a notification after recovery');
    } finally {
      await repository.close();
      await proxy.stop();
    }
  }, 60_000);

  it('while only the LISTEN connection is down, subscribers are told of changes by polling', async () => {
    const proxy = new TcpProxy();
    await proxy.start();
    const repository = testRepository(schema, {
      listenConnection: proxy.url(),
      pollIntervalMs: 50,
      reconnectDelayMs: 20,
      maxReconnectDelayMs: 200,
      logger: silent,
    });
    const notified: string[] = [];
    try {
      await repository.subscribe((id) => notified.push(id));
      expect(repository.listening).toBe(true);
      await proxy.stop();
      await waitFor(() => !repository.listening, 'the LISTEN connection to notice the drop');

      const settled = await lifecycle(repository, 'polled');
      await waitFor(() => notified.includes(settled.id), 'a polled change notification');
      expect(repository.listening).toBe(false);

      await proxy.start();
      await waitFor(() => repository.listening, 'LISTEN to be active again');
      const { job } = await repository.create(newJob('polled'));
      await waitFor(() => notified.includes(job.id), 'a pushed notification');
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
    try {
      const attempts: Array<() => Promise<unknown>> = [
        () => repository.migrate(),
        () => repository.get(newJobId()),
        () => repository.create(newJob('refused')),
        () => repository.claim(newJobId(), { leaseToken: newLeaseToken(), leaseMs: 1000 }),
        () => repository.list({ endpoint: 'refused', owner: null, limit: 1 }),
        () => repository.findDispatchable({ undispatchedGraceMs: 0, redispatchAfterMs: 0, limit: 1 }),
        () => repository.markDispatched(newJobId()),
        () => repository.subscribe(() => {}),
      ];
      for (const attempt of attempts) {
        const error = await attempt().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(UnavailableError);
        expect((error as Error).message).not.toContain('127.0.0.1');
      }
    } finally {
      await repository.close();
    }
    await expect(repository.get(newJobId())).rejects.toBeInstanceOf(UnavailableError);
  }, 30_000);
});
