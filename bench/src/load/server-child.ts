// The server under load, in a process of its own (the load generator's CPU is not the server's): the jobs
// runtime with its worker host and the HTTP app, served as the examples serve it (node:http with
// nodeServerOptions, protectNodeServer and the request error handler), on the memory blocks or on PostgreSQL +
// RabbitMQ. The parent drives it over IPC: start, heap (after a full GC), stats; disconnecting stops it.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { getRequestListener } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import {
  createJobsRuntime,
  defineEndpoint,
  implement,
  type JobQueue,
  type JobRepository,
  type Logger,
} from '@jobs/core';
import {
  createJobsApp,
  type JobsAppOptions,
  nodeRequestErrorHandler,
  nodeServerOptions,
  notFoundResponse,
  protectNodeServer,
} from '@jobs/http-hono';
import { createMemoryQueue, createMemoryRepository } from '@jobs/memory';
import { createAmqpQueue } from '@jobs/queue-amqp';
import { createPostgresRepository } from '@jobs/repo-postgres';
import { Hono } from 'hono';
import { z } from 'zod';
import { serveRpc } from '../rpc.js';
import { dropSchema, runAll, schemaName } from '../support.js';
import { DEFAULT_SERVERS } from '../types.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** A job that sleeps `ms` (cooperatively) and answers it: the clients wait, poll and stream while it runs. */
export const work = defineEndpoint({
  name: 'work',
  input: z.object({ ms: z.number().int().min(0).max(5_000), client: z.number().int() }),
  output: z.object({ ms: z.number().int(), client: z.number().int() }),
  retentionMs: 10 * 60_000,
});

const worker = implement(work, {
  concurrency: 64,
  run: async (input, ctx) => {
    await new Promise((resolve) => setTimeout(resolve, input.ms));
    ctx.signal.throwIfAborted();
    return input;
  },
});

export type LoadBackend = 'memory' | 'postgres';

export interface StartRequest {
  backend: LoadBackend;
  runId: string;
  app?: Pick<JobsAppOptions, 'maxJsonDepth' | 'maxBodyBytes'>;
}

export interface ServerStats {
  /** Answers by status, as a metrics middleware counts them. */
  statuses: Record<string, number>;
  /** Log lines at error level (an unexpected error: there should be none). */
  errors: string[];
}

const statuses = new Map<number, number>();
const errors: string[] = [];
const cleanup: Array<() => Promise<unknown>> = [];
let server: Server | null = null;

const logger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: (message, fields) => errors.push(`${message} ${JSON.stringify(fields ?? {}).slice(0, 500)}`),
};

async function backend(request: StartRequest): Promise<{ repository: JobRepository; queue: JobQueue }> {
  if (request.backend === 'memory')
    return { repository: createMemoryRepository(), queue: createMemoryQueue() };
  const schema = schemaName('load', request.runId);
  const repository = createPostgresRepository({
    connectionString: DEFAULT_SERVERS.databaseUrl,
    schema,
    logger,
    poolConfig: { max: 20, application_name: 'jobs-load' },
  });
  cleanup.push(() => dropSchema(DEFAULT_SERVERS.databaseUrl, schema));
  const queue = createAmqpQueue({
    url: DEFAULT_SERVERS.amqpUrl,
    prefix: `load-${request.runId.replaceAll('_', '-')}`,
    connectionName: 'jobs-load',
    logger,
  });
  cleanup.push(() => deleteTopology(queue.names));
  return { repository, queue };
}

interface Names {
  queue(endpoint: string): string;
  deadLetterQueue: string;
  deadLetterExchange: string;
}

async function deleteTopology(names: Names): Promise<void> {
  const { default: amqp } = await import('amqplib');
  const connection = await amqp.connect(DEFAULT_SERVERS.amqpUrl);
  try {
    const channel = await connection.createChannel();
    await channel.deleteQueue(names.queue(work.name));
    await channel.deleteQueue(names.deadLetterQueue);
    await channel.deleteExchange(names.deadLetterExchange);
  } finally {
    await connection.close().catch(() => {});
  }
}

async function start(request: StartRequest): Promise<{ origin: string }> {
  const { repository, queue } = await backend(request);
  const runtime = createJobsRuntime({ repository, queue, workers: [worker], logger });
  await runtime.start();
  const shutdown = new AbortController();
  // Every client is an owner (x-owner) at an address of its own: the waiter cap applies per address.
  const jobs = createJobsApp({
    service: runtime.service,
    logger,
    signal: shutdown.signal,
    openapi: false,
    owner: (c) => c.req.header('x-owner') ?? null,
    clientKey: (c) => getConnInfo(c).remote.address ?? null,
    ...request.app,
  });
  const app = new Hono()
    .use('*', async (c, next) => {
      await next();
      statuses.set(c.res.status, (statuses.get(c.res.status) ?? 0) + 1);
    })
    .route('/jobs', jobs);
  app.notFound(notFoundResponse);
  const http = createServer(
    nodeServerOptions(),
    getRequestListener(app.fetch, { errorHandler: nodeRequestErrorHandler({ logger }) }),
  );
  protectNodeServer(http, { logger });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', () => resolve()));
  server = http;
  cleanup.unshift(async () => {
    const closed = new Promise<void>((resolve) => http.close(() => resolve()));
    shutdown.abort();
    http.closeAllConnections();
    await closed;
    await runtime.stop({ timeoutMs: 5_000 });
    await queue.close();
    await repository.close();
  });
  return { origin: `http://127.0.0.1:${(http.address() as AddressInfo).port}` };
}

const api = {
  start,
  async heap() {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    const usage = process.memoryUsage();
    return { heapUsed: usage.heapUsed, rss: usage.rss, connections: await connections() };
  },
  async stats(): Promise<ServerStats> {
    return { statuses: Object.fromEntries(statuses), errors: [...errors] };
  },
};

function connections(): Promise<number> {
  return new Promise((resolve) => {
    if (!server) return resolve(0);
    server.getConnections((_error, count) => resolve(count ?? 0));
  });
}

export type LoadServerApi = typeof api;

serveRpc(api, () => runAll(cleanup, 'load server cleanup'));
