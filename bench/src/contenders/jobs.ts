import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createJobsRuntime,
  defineEndpoint,
  implement,
  type JobQueue,
  type JobRepository,
  type JobService,
  silentLogger,
} from '@jobs/core';
import { createMemoryQueue, createMemoryRepository } from '@jobs/memory';
import { createAmqpQueue } from '@jobs/queue-amqp';
import { createPostgresRepository } from '@jobs/repo-postgres';
import { createSqliteRepository } from '@jobs/repo-sqlite';
import amqp from 'amqplib';
import pg from 'pg';
import { z } from 'zod';
import { Profiler } from '../profiler.js';
import { dropSchema, runAll, schemaName, withAdminClient } from '../support.js';
import type { Instance, StartContender, StartOptions } from '../types.js';
import { serveJobsOverHttp } from './jobs-http.js';
import { fillFinishedJobs } from './retained-fill.js';

/**
 * The `jobs` contenders, through the public API only: createJobsRuntime, service.submit, service.wait (its
 * status only), createPostgresRepository, createAmqpQueue, createSqliteRepository, createMemoryRepository /
 * createMemoryQueue, createJobsApp.
 */
type Variant = 'amqp' | 'amqp-keyed' | 'http' | 'pg-memory' | 'sqlite-memory' | 'memory';

const VARIANTS: readonly Variant[] = ['amqp', 'amqp-keyed', 'http', 'pg-memory', 'sqlite-memory', 'memory'];

export const noop = defineEndpoint({
  name: 'noop',
  input: z.object({ seq: z.number().int() }),
  output: z.object({}),
});

/** The same endpoint with per-key limits on: 16 tenants, at most 4 jobs of one at once. */
const keyedNoop = defineEndpoint({
  name: 'noop',
  input: z.object({ seq: z.number().int() }),
  output: z.object({}),
  limits: { key: (input) => `tenant-${input.seq % 16}`, concurrencyPerKey: 4 },
});

const ENDPOINT = noop.name;

/** Steps run at close, last added first. */
type Cleanup = Array<() => Promise<unknown>>;

/** Where the bench reads completion from: the store's own counts. */
interface Store {
  repository: JobRepository;
  pending(): Promise<number>;
  succeeded(): Promise<number>;
}

export const start: StartContender = async (variant, options) => {
  if (!(VARIANTS as readonly string[]).includes(variant)) throw new Error(`Unknown jobs variant ${variant}`);
  const cleanup: Cleanup = [];
  try {
    return await startJobs(variant as Variant, options, cleanup);
  } catch (error) {
    await runAll(cleanup, 'cleanup after a failed start');
    throw error;
  }
};

async function startJobs(variant: Variant, options: StartOptions, cleanup: Cleanup): Promise<Instance> {
  let service: JobService | undefined;
  const ledger =
    variant === 'memory' || variant === 'sqlite-memory'
      ? new StatusLedger(async (id) => (await service!.wait(ENDPOINT, id, { timeoutMs: 0 })).status)
      : null;
  const store =
    variant === 'memory'
      ? memoryStore(ledger!, cleanup)
      : variant === 'sqlite-memory'
        ? await sqliteStore(ledger!, options, cleanup)
        : await postgresStore(variant, options, cleanup);
  const queue =
    variant === 'amqp' || variant === 'amqp-keyed' || variant === 'http'
      ? amqpQueue(variant, options, cleanup)
      : memoryQueue(cleanup);

  const profiler = new Profiler();
  const runtime = createJobsRuntime({
    repository: profiler.instrument(store.repository, 'repository'),
    queue: profiler.instrument(queue, 'queue'),
    workers: [
      implement(variant === 'amqp-keyed' ? keyedNoop : noop, {
        concurrency: options.concurrency,
        run(input) {
          options.onStart(input.seq);
          ledger?.handled();
          return {};
        },
      }),
    ],
    logger: silentLogger,
  });
  cleanup.unshift(() => runtime.stop({ timeoutMs: 10_000 }));
  service = runtime.service;
  const jobsService = service;

  const http = variant === 'http' ? await serveJobsOverHttp(jobsService, ENDPOINT, silentLogger) : null;
  if (http) cleanup.unshift(() => http.close());
  const longPoll = http
    ? (id: string, waitSeconds: number, signal?: AbortSignal) => http.longPoll(id, waitSeconds, signal)
    : async (id: string, waitSeconds: number, signal?: AbortSignal) =>
        (await jobsService.wait(ENDPOINT, id, { timeoutMs: waitSeconds * 1000, signal })).status;

  return {
    startWorkers: () => runtime.start(),
    async submit(seq) {
      const id = http ? await http.submit({ seq }) : (await jobsService.submit(ENDPOINT, { seq })).job.id;
      ledger?.submitted(id);
      return id;
    },
    async awaitCompletion(id) {
      for (;;) {
        const seen = await longPoll(id, 30);
        if (seen === 'succeeded') return;
        if (seen === 'failed' || seen === 'canceled') throw new Error(`Job ${id} ${seen}`);
      }
    },
    longPoll,
    pending: () => store.pending(),
    succeeded: () => store.succeeded(),
    profiler,
    ...(http ? { httpSubmit: { url: http.submitUrl, body: JSON.stringify({ seq: 0 }) } } : {}),
    close: () => runAll(cleanup.splice(0), 'close'),
  };
}

async function postgresStore(variant: Variant, options: StartOptions, cleanup: Cleanup): Promise<Store> {
  const { servers } = options;
  const schema = schemaName(`bench_jobs_${variant.replace('-', '_')}`, options.runId);
  const repository = createPostgresRepository({
    connectionString: servers.databaseUrl,
    schema,
    poolConfig: { max: options.poolSize, application_name: `jobs-bench:${variant}` },
    logger: silentLogger,
  });
  cleanup.unshift(() => dropSchema(servers.databaseUrl, schema));
  cleanup.unshift(() => repository.close());
  await repository.migrate();
  if (options.retainedJobs > 0) {
    await withAdminClient(servers.databaseUrl, (client) =>
      fillFinishedJobs(client, schema, 'jobs', ENDPOINT, options.retainedJobs),
    );
  }
  // The bench's own connections for its counts, apart from the repository's pool.
  const counts = new pg.Pool({
    connectionString: servers.databaseUrl,
    max: 2,
    application_name: 'jobs-bench:count',
  });
  cleanup.unshift(() => counts.end());
  const count = async (statuses: string) => {
    const result = await counts.query<{ n: string }>(
      `SELECT count(*) AS n FROM "${schema}".jobs WHERE status IN (${statuses})`,
    );
    return Number(result.rows[0]!.n);
  };
  return {
    repository,
    pending: () => count(`'queued', 'running'`),
    // The retained jobs were put there as succeeded before the run.
    succeeded: async () => (await count(`'succeeded'`)) - options.retainedJobs,
  };
}

function memoryStore(ledger: StatusLedger, cleanup: Cleanup): Store {
  const repository = createMemoryRepository();
  cleanup.unshift(() => repository.close());
  return { repository, pending: () => ledger.pending(), succeeded: () => ledger.succeeded() };
}

/**
 * A fresh SQLite file in the temp folder, removed at close. The driver is the one this Node has built in
 * (node:sqlite, Node 22.13 and later), else better-sqlite3 (its binary is built for the workspace's Node 20).
 */
async function sqliteStore(ledger: StatusLedger, options: StartOptions, cleanup: Cleanup): Promise<Store> {
  const path = join(tmpdir(), `jobs-bench-${options.runId}-${process.pid}.sqlite`);
  const builtin = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule?.(
    'node:sqlite',
  );
  const repository = createSqliteRepository({
    path,
    driver: builtin ? 'node:sqlite' : 'better-sqlite3',
    logger: silentLogger,
  });
  cleanup.unshift(async () => {
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${path}${suffix}`, { force: true });
  });
  cleanup.unshift(() => repository.close());
  await repository.open();
  return { repository, pending: () => ledger.pending(), succeeded: () => ledger.succeeded() };
}

function amqpQueue(variant: Variant, options: StartOptions, cleanup: Cleanup): JobQueue {
  const queue = createAmqpQueue({
    url: options.servers.amqpUrl,
    prefix: `bench-${options.runId.replaceAll('_', '-')}-${variant}`,
    connectionName: `jobs-bench:${variant}`,
    logger: silentLogger,
  });
  cleanup.unshift(() =>
    deleteAmqpTopology(
      options.servers.amqpUrl,
      [queue.names.queue(ENDPOINT), queue.names.deadLetterQueue],
      queue.names.deadLetterExchange,
    ),
  );
  cleanup.unshift(() => queue.close());
  return queue;
}

function memoryQueue(cleanup: Cleanup): JobQueue {
  const queue = createMemoryQueue();
  cleanup.unshift(() => queue.close());
  return queue;
}

async function deleteAmqpTopology(url: string, queues: string[], exchange: string): Promise<void> {
  const connection = await amqp.connect(url, { clientProperties: { connection_name: 'jobs-bench:cleanup' } });
  try {
    const channel = await connection.createChannel();
    for (const queue of queues) await channel.deleteQueue(queue);
    await channel.deleteExchange(exchange);
    await channel.close();
  } finally {
    await connection.close().catch(() => {});
  }
}

/**
 * Completion as the memory and SQLite stores record it, without a count query of their own: while handlers are
 * still to run, the difference of submits and handler runs; once every handler ran, each job not yet seen final
 * is asked for its status (`service.wait` with no wait: in memory, a map lookup; in SQLite, a read by id).
 */
class StatusLedger {
  readonly #unconfirmed = new Set<string>();
  #submitted = 0;
  #handled = 0;
  #succeeded = 0;

  constructor(private readonly status: (id: string) => Promise<string>) {}

  submitted(id: string): void {
    this.#submitted++;
    this.#unconfirmed.add(id);
  }

  handled(): void {
    this.#handled++;
  }

  async pending(): Promise<number> {
    if (this.#handled < this.#submitted) return this.#submitted - this.#handled;
    for (const id of [...this.#unconfirmed]) {
      const status = await this.status(id);
      if (status === 'queued' || status === 'running') continue;
      this.#unconfirmed.delete(id);
      if (status === 'succeeded') this.#succeeded++;
    }
    return this.#unconfirmed.size;
  }

  async succeeded(): Promise<number> {
    await this.pending();
    return this.#succeeded;
  }
}
