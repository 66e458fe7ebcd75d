// Shared by the tests that run the HTTP suites of @jobs/testing and the node:http limits: the app served as a
// deployment should serve it (node:http with nodeServerOptions, protectNodeServer and the request error handler).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { createJobsRuntime, type JobQueue, type JobRepository, type Logger } from '@jobs/core';
import { createMemoryQueue } from '@jobs/memory';
import { type HttpSuiteFactory, OWNER_HEADER } from '@jobs/testing';
import { Hono } from 'hono';
import { createJobsApp, type JobsAppOptions } from './app.js';
import {
  type NodeServerLimits,
  nodeRequestErrorHandler,
  nodeServerOptions,
  protectNodeServer,
} from './node-server.js';
import { notFoundResponse } from './not-found.js';
import { captureLogger } from './test-support.js';

export interface HardenedServer {
  server: Server;
  origin: string;
  close(): Promise<void>;
}

/** Serves `fetch` on 127.0.0.1 (ephemeral port) with the node:http limits and problem answers. */
export async function serveHardened(
  fetch: (request: Request, env: unknown) => Response | Promise<Response>,
  limits: NodeServerLimits = {},
  logger?: Logger,
): Promise<HardenedServer> {
  const server = createServer(
    nodeServerOptions(limits),
    getRequestListener(fetch, { errorHandler: nodeRequestErrorHandler({ logger }) }),
  );
  protectNodeServer(server, { ...limits, logger });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    server,
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export interface SuiteTargetOptions {
  /** A fresh repository (and maybe a queue) per suite; `close` runs after the runtime stopped. */
  backend: () => Promise<{ repository: JobRepository; queue?: JobQueue; close?: () => Promise<void> }>;
  app?: Omit<JobsAppOptions, 'service'>;
}

/** An {@link HttpSuiteFactory}: the runtime on the backend, the app at /jobs, owners from the suites' header. */
export function suiteTarget(options: SuiteTargetOptions): HttpSuiteFactory {
  return async ({ workers, schedules }) => {
    const backend = await options.backend();
    const logger = captureLogger();
    const runtime = createJobsRuntime({
      repository: backend.repository,
      queue: backend.queue ?? createMemoryQueue(),
      logger,
      workers,
      schedules,
      host: { shutdownTimeoutMs: 1_000 },
    });
    await runtime.start();
    const shutdown = new AbortController();
    const app = new Hono();
    app.notFound(notFoundResponse);
    app.route(
      '/jobs',
      createJobsApp({
        service: runtime.service,
        logger,
        signal: shutdown.signal,
        owner: (c) => c.req.header(OWNER_HEADER) ?? null,
        ...options.app,
      }),
    );
    const served = await serveHardened(app.fetch, {}, logger);
    return {
      base: `${served.origin}/jobs`,
      maxJsonDepth: options.app?.maxJsonDepth,
      async close() {
        shutdown.abort();
        await runtime.stop({ timeoutMs: 1_000 });
        await served.close();
        await backend.close?.();
        const errors = logger.entries.filter((entry) => entry.level === 'error');
        if (errors.length > 0) {
          throw new Error(`The server logged ${errors.length} errors, first: ${JSON.stringify(errors[0])}`);
        }
      },
    };
  };
}
