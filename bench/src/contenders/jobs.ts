import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import {
  createJobsRuntime,
  defineEndpoint,
  implement,
  type JobQueue,
  type JobRepository,
  silentLogger,
} from '@jobs/core';
import { createJobsApp } from '@jobs/http-hono';
import { createMemoryQueue, createMemoryRepository } from '@jobs/memory';
import { createAmqpQueue } from '@jobs/queue-amqp';
import { createPostgresRepository } from '@jobs/repo-postgres';
import amqp from 'amqplib';
import { Hono } from 'hono';
import type pg from 'pg';
import { z } from 'zod';
import { dropSchema, Profiler, schemaName, withAdminClient } from '../support.js';
import type { Contender, Instance, Server, StartOptions } from '../types.js';

export type JobsVariant = 'amqp' | 'pg-memory' | 'memory' | 'http';

/**
 * What-if switches for measuring the cost of one piece of our stack. Not supported configurations: they exist
 * so that a proposed change can be measured before it is made (see README, "Where the time goes").
 */
export interface JobsExperiments {
  /** Drop the `jobs_updated_idx` index after migrating, so that updates that leave indexed columns alone can be HOT. */
  dropUpdatedIndex?: boolean;
  /** Make `markDispatched` a no-op (one UPDATE less per job; the sweeper would re-publish more often). */
  skipMarkDispatched?: boolean;
}

export const noop = defineEndpoint({
  name: 'noop',
  input: z.object({ seq: z.number().int() }),
  output: z.object({}),
});

const ENDPOINT_NAME = noop.name;

const REPOSITORY_METHODS = [
  'create',
  'get',
  'claim',
  'heartbeat',
  'settle',
  'markDispatched',
  'findDispatchable',
  'deleteExpired',
  'requestCancel',
  'remove',
  'list',
] as const;

const DESCRIPTIONS: Record<JobsVariant, { name: string; requires: Server[]; setup: string }> = {
  amqp: {
    name: 'jobs (PostgreSQL + RabbitMQ)',
    requires: ['postgres', 'rabbitmq'],
    setup:
      '@jobs/repo-postgres (pool max = pool size, fresh schema) + @jobs/queue-amqp (quorum queue, publisher confirms, prefetch = concurrency); createJobsRuntime with default host and sweeper; submit = service.submit()',
  },
  'pg-memory': {
    name: 'jobs (PostgreSQL + memory queue)',
    requires: ['postgres'],
    setup:
      '@jobs/repo-postgres (pool max = pool size, fresh schema) + @jobs/memory queue (single process); createJobsRuntime defaults; submit = service.submit()',
  },
  memory: {
    name: 'jobs (memory only)',
    requires: [],
    setup:
      '@jobs/memory repository + queue: the ceiling of the runtime itself, no I/O; submit = service.submit()',
  },
  http: {
    name: 'jobs over HTTP (PostgreSQL + RabbitMQ)',
    requires: ['postgres', 'rabbitmq'],
    setup:
      'as "jobs (PostgreSQL + RabbitMQ)", but submitted through createJobsApp (Hono) served by @hono/node-server on 127.0.0.1, client = Node fetch (keep-alive): POST /jobs/noop → 202',
  },
};

export function jobsContender(variant: JobsVariant, experiments: JobsExperiments = {}): Contender {
  const description = DESCRIPTIONS[variant];
  const completion =
    variant === 'http'
      ? 'GET /jobs/noop/{id} with `Prefer: wait=30` (long-poll woken by LISTEN/NOTIFY) until it answers 303'
      : 'service.wait(endpoint, id) (woken by LISTEN/NOTIFY for PostgreSQL, by the repository event for memory)';
  return {
    ...description,
    completion,
    start: (options) => startJobs(variant, experiments, options),
  };
}

async function startJobs(
  variant: JobsVariant,
  experiments: JobsExperiments,
  options: StartOptions,
): Promise<Instance> {
  const { servers, concurrency, runId } = options;
  const profiler = new Profiler();
  const usesPostgres = variant !== 'memory';
  const usesAmqp = variant === 'amqp' || variant === 'http';
  const schema = schemaName(`bench_jobs_${variant.replace('-', '_')}`, runId);
  const prefix = `bench-${runId.replaceAll('_', '-')}-${variant}`;
  const cleanup: Array<() => Promise<unknown>> = [];

  try {
    let baseRepository: JobRepository;
    let pool: pg.Pool | null = null;
    if (usesPostgres) {
      const repository = createPostgresRepository({
        connectionString: servers.databaseUrl,
        schema,
        poolConfig: { max: options.poolSize, application_name: `jobs-bench:${variant}` },
        logger: silentLogger,
      });
      cleanup.unshift(() => dropSchema(servers.databaseUrl, schema));
      cleanup.unshift(() => repository.close());
      await repository.migrate();
      if (experiments.dropUpdatedIndex) {
        await withAdminClient(servers.databaseUrl, (client) =>
          client.query(`DROP INDEX "${schema}".jobs_updated_idx`),
        );
      }
      baseRepository = repository;
      pool = repository.pool;
    } else {
      baseRepository = createMemoryRepository();
      cleanup.unshift(() => baseRepository.close());
    }
    if (experiments.skipMarkDispatched) {
      baseRepository = new Proxy(baseRepository, {
        get: (object, property) => {
          if (property === 'markDispatched') return async () => {};
          const value = Reflect.get(object, property, object);
          return typeof value === 'function' ? value.bind(object) : value;
        },
      });
    }

    let baseQueue: JobQueue;
    if (usesAmqp) {
      const queue = createAmqpQueue({
        url: servers.amqpUrl,
        prefix,
        connectionName: `jobs-bench:${variant}`,
        logger: silentLogger,
      });
      cleanup.unshift(() =>
        deleteAmqpTopology(servers.amqpUrl, [queue.names.queue(ENDPOINT_NAME)], queue.names),
      );
      cleanup.unshift(() => queue.close());
      baseQueue = queue;
    } else {
      baseQueue = createMemoryQueue();
      cleanup.unshift(() => baseQueue.close());
    }

    let memoryCounts: { created: number; succeeded: number } | null = null;
    if (!usesPostgres) {
      const counts = { created: 0, succeeded: 0 };
      memoryCounts = counts;
      const inner = baseRepository;
      baseRepository = new Proxy(inner, {
        get: (object, property) => {
          if (property === 'create') {
            return async (...args: Parameters<JobRepository['create']>) => {
              const result = await object.create(...args);
              if (result.created) counts.created++;
              return result;
            };
          }
          if (property === 'settle') {
            return async (...args: Parameters<JobRepository['settle']>) => {
              const result = await object.settle(...args);
              if (result?.status === 'succeeded') counts.succeeded++;
              return result;
            };
          }
          const value = Reflect.get(object, property, object);
          return typeof value === 'function' ? value.bind(object) : value;
        },
      });
    }

    const repository = profiler.instrument(baseRepository, 'repository', REPOSITORY_METHODS);
    const queue = profiler.instrument(baseQueue, 'queue', ['publish']);
    const runtime = createJobsRuntime({
      repository,
      queue,
      workers: [
        implement(noop, {
          concurrency,
          run(input) {
            options.onStart(input.seq);
            return {};
          },
        }),
      ],
      logger: silentLogger,
    });
    cleanup.unshift(() => runtime.stop({ timeoutMs: 10_000 }));
    await runtime.start();
    const service = runtime.service;

    let submit: (seq: number) => Promise<string>;
    let awaitCompletion: (id: string) => Promise<void>;
    if (variant === 'http') {
      const app = new Hono();
      const shutdown = new AbortController();
      app.route(
        '/jobs',
        createJobsApp({ service, openapi: false, signal: shutdown.signal, logger: silentLogger }),
      );
      const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
        const started = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(started));
        started.once('error', reject);
      });
      cleanup.unshift(async () => {
        shutdown.abort();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          if ('closeAllConnections' in server) server.closeAllConnections();
        });
      });
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jobs/noop`;
      submit = async (seq) => {
        const response = await fetch(base, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ seq }),
        });
        const body = (await response.json()) as { id?: string };
        if (response.status !== 202 || typeof body.id !== 'string')
          throw new Error(`POST answered ${response.status}: ${JSON.stringify(body)}`);
        return body.id;
      };
      awaitCompletion = async (id) => {
        for (;;) {
          const response = await fetch(`${base}/${id}`, {
            headers: { prefer: 'wait=30' },
            redirect: 'manual',
          });
          await response.arrayBuffer();
          if (response.status === 303) return;
          if (response.status !== 200) throw new Error(`GET ${id} answered ${response.status}`);
        }
      };
    } else {
      submit = async (seq) => (await service.submit(ENDPOINT_NAME, { seq })).job.id;
      awaitCompletion = async (id) => {
        for (;;) {
          const job = await service.wait(ENDPOINT_NAME, id, { timeoutMs: 30_000 });
          if (job.status === 'succeeded') return;
          if (job.status === 'failed' || job.status === 'canceled')
            throw new Error(`Job ${id} ${job.status}`);
        }
      };
    }

    const table = `"${schema}".jobs`;
    const count = async (where: string) => {
      const result = await pool!.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} WHERE ${where}`);
      return Number(result.rows[0]!.n);
    };

    return {
      submit,
      awaitCompletion,
      // Completion as the store records it. PostgreSQL: live jobs, counted through the partial indexes;
      // memory: the repository's own answers to create and settle (it has no count query).
      pending: async () =>
        memoryCounts
          ? memoryCounts.created - memoryCounts.succeeded
          : count(`status IN ('queued', 'running')`),
      succeeded: async () => (memoryCounts ? memoryCounts.succeeded : count(`status = 'succeeded'`)),
      profiler,
      close: () => runCleanups(cleanup),
    };
  } catch (error) {
    await runCleanups(cleanup);
    throw error;
  }
}

async function runCleanups(cleanup: Array<() => Promise<unknown>>): Promise<void> {
  const errors: unknown[] = [];
  for (const step of cleanup.splice(0)) {
    try {
      await step();
    } catch (error) {
      errors.push(error);
    }
  }
  if (errors.length > 0) throw new AggregateError(errors, 'cleanup failed');
}

async function deleteAmqpTopology(
  url: string,
  queues: string[],
  names: { deadLetterExchange: string; deadLetterQueue: string },
): Promise<void> {
  const connection = await amqp.connect(url, { clientProperties: { connection_name: 'jobs-bench:cleanup' } });
  try {
    const channel = await connection.createChannel();
    for (const queue of [...queues, names.deadLetterQueue]) await channel.deleteQueue(queue);
    await channel.deleteExchange(names.deadLetterExchange);
    await channel.close();
  } finally {
    await connection.close().catch(() => {});
  }
}
