import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { Logger } from '@jobs/core';
import { startQuickStartService } from './service.js';

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

/** The whole service in one process on Node: memory repository and queue, worker host, sweeper, HTTP API at /jobs. */
export async function startQuickStart(options: QuickStartOptions): Promise<QuickStartServer> {
  const service = await startQuickStartService({ title: 'jobs quick start', logger: options.logger });
  const server = serve({ fetch: service.fetch, port: options.port, hostname: options.hostname });
  await new Promise<void>((resolve, reject) => {
    if (server.listening) return resolve();
    server.once('listening', resolve);
    server.once('error', reject);
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
