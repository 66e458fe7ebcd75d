import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import type { Logger } from '@jobs/core';
import { nodeRequestErrorHandler, nodeServerOptions, protectNodeServer } from '@jobs/http-hono';
import { QUICK_START_LIMITS } from './limits.js';
import { prometheusMetrics, withMetrics } from './metrics.js';
import { type Storage, startQuickStartService } from './service.js';

export interface QuickStartOptions {
  /** 0 picks a free port. */
  port: number;
  hostname: string;
  logger?: Logger;
  /** Where the jobs are kept. Default: in memory. */
  storage?: Storage;
}

export interface QuickStartServer {
  /** e.g. http://localhost:3000 */
  origin: string;
  port: number;
  /** Stops taking requests, ends long-polls and event streams, lets running jobs finish (10 s at most). */
  stop(): Promise<void>;
}

/** The whole service in one process on Node: repository, memory queue, worker host, sweeper, HTTP API at /jobs. */
export async function startQuickStart(options: QuickStartOptions): Promise<QuickStartServer> {
  // Before the runtime starts: it records into the global meter provider (GET /metrics).
  const metrics = prometheusMetrics();
  const service = await startQuickStartService({
    title: 'jobs quick start',
    logger: options.logger,
    storage: options.storage,
  });
  // node:http with the limits of limits.ts: header, body and idle timeouts, a connection cap, and problem+json
  // (not node:http's bare text) for what it refuses before the app: malformed requests, headers too large, timeouts.
  const limits = QUICK_START_LIMITS.server;
  const server = createServer(
    nodeServerOptions(limits),
    getRequestListener(withMetrics(service.fetch, metrics), {
      errorHandler: nodeRequestErrorHandler({ logger: options.logger }),
    }),
  );
  protectNodeServer(server, { ...limits, logger: options.logger });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.hostname, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = ['127.0.0.1', '::1', '0.0.0.0', '::'].includes(options.hostname)
    ? 'localhost'
    : options.hostname;
  return {
    origin: `http://${host}:${port}`,
    port,
    stop: () => service.stop(() => new Promise<void>((resolve) => server.close(() => resolve()))),
  };
}
