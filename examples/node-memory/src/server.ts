import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { createJobsRuntime, type Logger } from '@jobs/core';
import { createJobsApp } from '@jobs/http-hono';
import { createMemoryQueue, createMemoryRepository } from '@jobs/memory';
import { Hono } from 'hono';
import { compressWorker, pingWorker } from './workers.js';

export interface QuickStartOptions {
  /** 0 picks a free port. */
  port: number;
  hostname: string;
  logger?: Logger;
}

export interface QuickStartServer {
  /** e.g. http://localhost:3000 */
  origin: string;
  port: number;
  /** Stops taking requests, ends long-polls and event streams, lets running jobs finish (10 s at most). */
  stop(): Promise<void>;
}

/** The whole service in one process: memory repository and queue, worker host, sweeper, HTTP API at /jobs. */
export async function startQuickStart(options: QuickStartOptions): Promise<QuickStartServer> {
  const repository = createMemoryRepository();
  const queue = createMemoryQueue();
  const runtime = createJobsRuntime({
    repository,
    queue,
    workers: [pingWorker, compressWorker],
    logger: options.logger,
    host: { shutdownTimeoutMs: 10_000 },
  });
  await runtime.start();

  const shutdown = new AbortController();
  const app = new Hono();
  app.get('/', (c) => c.redirect('/jobs/docs'));
  app.route(
    '/jobs',
    createJobsApp({
      service: runtime.service,
      cors: true,
      signal: shutdown.signal,
      logger: options.logger,
      openapi: {
        title: 'jobs quick start',
        version: '1.0.0',
        description: 'Two endpoints served from one process with the in-memory repository and queue.',
      },
    }),
  );

  const server = serve({ fetch: app.fetch, port: options.port, hostname: options.hostname });
  await new Promise<void>((resolve, reject) => {
    if (server.listening) return resolve();
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  const host = ['127.0.0.1', '::1', '0.0.0.0', '::'].includes(options.hostname)
    ? 'localhost'
    : options.hostname;

  let stopping: Promise<void> | null = null;
  return {
    origin: `http://${host}:${port}`,
    port,
    stop() {
      stopping ??= (async () => {
        // No new connections; answer the long-polls and end the event streams now.
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        shutdown.abort();
        // Let running jobs finish (bounded), then release the rest.
        await runtime.stop();
        if ('closeIdleConnections' in server) server.closeIdleConnections();
        await closed;
        await queue.close();
        await repository.close();
      })();
      return stopping;
    },
  };
}
