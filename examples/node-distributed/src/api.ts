/**
 * API process: the HTTP front end on the shared PostgreSQL repository, publishing to RabbitMQ. Stateless:
 * run as many as the request rate needs, behind any load balancer. It runs no workers and no sweeper.
 *
 *   DATABASE_URL=postgres://... AMQP_URL=amqp://... PORT=3001 pnpm api
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import { httpInstrumentationMiddleware } from '@hono/otel';
import { createJobsRuntime } from '@jobs/core';
import { createDashboard } from '@jobs/dashboard';
import {
  createJobsApp,
  nodeRequestErrorHandler,
  nodeServerOptions,
  notFoundResponse,
  protectNodeServer,
} from '@jobs/http-hono';
import { Hono } from 'hono';
import { openBackends } from './backends.js';
import { type ApiConfig, ConfigError, readApiConfig } from './config.js';
import { tokenAuthorization } from './dashboard-auth.js';
import { endpoints } from './endpoints.js';
import { announceReady, handleStopSignals } from './lifecycle.js';
import { createLogger } from './logger.js';
import { readStats } from './stats.js';
import { setupTelemetry } from './telemetry.js';

async function main(config: ApiConfig): Promise<void> {
  const logger = createLogger(config.logLevel, config.logFormat, config.name);
  // Before the runtime: it takes the global meter and tracer providers.
  const telemetry = setupTelemetry(config.name, process.env);
  const backends = await openBackends(config, logger);
  const runtime = createJobsRuntime({
    repository: backends.repository,
    queue: backends.queue,
    endpoints,
    sweeper: false, // the worker processes sweep; every process dispatches (each job once, whoever takes it)
    service: { pollIntervalMs: config.waitPollMs },
    dispatcher: { pollIntervalMs: config.dispatchPollMs },
    logger,
  });
  await runtime.start();

  // Aborting it ends open long-polls and event streams, so the server can close.
  const shutdown = new AbortController();
  const responses = new Map<number, number>();
  const app = new Hono();
  // http.server.request.duration (method, route template, status) and a server span that continues the
  // caller's traceparent, so the submit span is its child.
  app.use('*', httpInstrumentationMiddleware({ serviceName: config.name }));
  app.use('*', async (c, next) => {
    await next();
    responses.set(c.res.status, (responses.get(c.res.status) ?? 0) + 1);
  });
  app.notFound(notFoundResponse);
  // Prometheus text (scrape config in the README): the runtime's jobs.* and messaging.* metrics, and HTTP.
  app.get('/metrics', async (c) =>
    c.body(await telemetry.metricsText(), 200, {
      'content-type': 'text/plain; version=0.0.4; charset=utf-8',
    }),
  );
  app.get('/healthz', (c) => c.json({ status: 'ok', name: config.name, pid: process.pid }));
  app.get('/readyz', async (c) => {
    const queue = backends.queue.status();
    let database = 'up';
    try {
      await backends.repository.pool.query('SELECT 1');
    } catch {
      database = 'down';
    }
    const ready = database === 'up' && queue.publish !== 'closed' && !shutdown.signal.aborted;
    return c.json({ ready, database, queue }, ready ? 200 : 503);
  });
  app.get('/stats', async (c) =>
    c.json({
      name: config.name,
      pid: process.pid,
      responses: Object.fromEntries(responses),
      queue: backends.queue.status(),
      endpoints: await readStats(backends, endpoints).catch(() => null),
    }),
  );
  app.route(
    '/jobs',
    createJobsApp({
      service: runtime.service,
      signal: shutdown.signal,
      maxWaitSeconds: config.maxWaitSeconds,
      // At most 100 long-polls and event streams per client address (behind a load balancer: key by what it
      // forwards, or by owner).
      clientKey: (c) => getConnInfo(c).remote.address ?? null,
      logger,
      openapi: { title: 'jobs: distributed example' },
    }),
  );

  // The dashboard, for operators with the token: every owner's jobs, live, with cancel, delete and retry.
  if (config.dashboardToken !== null) {
    app.route(
      '/dashboard',
      createDashboard({
        service: runtime.service,
        authorize: tokenAuthorization(config.dashboardToken),
        title: `jobs: ${config.name}`,
        signal: shutdown.signal,
        logger,
      }),
    );
  }

  // node:http with header (10 s), body (30 s) and idle (5 s) timeouts, 1,000 connections at most, and problems
  // instead of node:http's bare text for what it refuses before the app (NODE_SERVER_LIMITS of @jobs/http-hono).
  const server = createServer(
    nodeServerOptions(),
    getRequestListener(app.fetch, { errorHandler: nodeRequestErrorHandler({ logger }) }),
  );
  protectNodeServer(server, { logger });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  handleStopSignals({
    logger,
    forceAfterMs: config.shutdownTimeoutMs + 5_000,
    async stop() {
      // 1. No new connections; idle keep-alive connections close now, requests in progress finish.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      shutdown.abort();
      if ('closeIdleConnections' in server) server.closeIdleConnections();
      // 2. Requests still running after the bound are cut off.
      const bound = setTimeout(() => {
        if ('closeAllConnections' in server) server.closeAllConnections();
      }, config.shutdownTimeoutMs);
      await closed;
      clearTimeout(bound);
      // 3. Then the runtime, the broker and the database.
      await runtime.stop({ timeoutMs: 0 });
      await backends.close();
      await telemetry.shutdown();
    },
  });

  logger.info(
    {
      role: 'api',
      url: `http://${config.host}:${port}/jobs`,
      dashboard: config.dashboardToken === null ? null : `http://${config.host}:${port}/dashboard`,
      schema: config.schema,
    },
    'ready',
  );
  announceReady({ role: 'api', port });
}

let config: ApiConfig;
try {
  config = readApiConfig(process.env);
} catch (error) {
  console.error(error instanceof ConfigError ? `configuration: ${error.message}` : error);
  process.exit(2);
}
main(config).catch((error: unknown) => {
  console.error('api process failed to start:', error instanceof Error ? error.message : error);
  process.exit(1);
});
