// Test helpers (not part of the build): real servers on ephemeral ports.
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import {
  createJobsRuntime,
  defineEndpoint,
  defineSchedule,
  implement,
  type JobsRuntime,
  silentLogger,
} from '@jobs/core';
import { createJobsApp } from '@jobs/http-hono';
import { createMemoryQueue, createMemoryRepository } from '@jobs/memory';
import { defineTaskEndpoint, Gates, implementTask } from '@jobs/testing';
import { Hono } from 'hono';
import { afterAll, beforeAll } from 'vitest';
import { z } from 'zod';

export interface Served {
  origin: string;
  close(): Promise<void>;
}

/** Serves any fetch handler (a Hono app) over a real socket on 127.0.0.1. */
export async function serveFetch(fetch: (request: Request) => Response | Promise<Response>): Promise<Served> {
  const server = serve({ fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((resolve, reject) => {
    if (server.listening) return resolve();
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        if ('closeAllConnections' in server) server.closeAllConnections();
      }),
  };
}

export const ping = defineEndpoint({
  name: 'ping',
  input: z.object({ message: z.string().max(100) }),
  output: z.object({ pong: z.string() }),
});

/** A recurring schedule of `ping`, in the real stack's runtime (its scheduler off). */
export const PING_SCHEDULE = defineSchedule({
  name: 'ping.hourly',
  endpoint: ping,
  cron: '30 * * * *',
  timeZone: 'Asia/Kolkata',
  input: { message: 'a private input' },
  priority: 3,
});

/** Runs `steps` steps, each released by the test through `gates.release(tag)`; may be told to fail. */
export const task = defineTaskEndpoint();

export interface JobsServer extends Served {
  /** Base URL of the jobs app (mounted at /jobs). */
  baseUrl: string;
  runtime: JobsRuntime;
  /** The app itself, for in-process requests (`app.fetch(request)`). */
  app: Hono;
  gates: Gates;
  /** Requests the server saw: method, path, the headers the tests look at, and the answer's status and ETag. */
  requests: Array<{
    method: string;
    path: string;
    prefer: string | null;
    idempotencyKey: string | null;
    ifNoneMatch: string | null;
    /** Every request header, by lower-case name. */
    headers: Record<string, string>;
    status: number | null;
    etag: string | null;
  }>;
}

/** The real stack: memory repository and queue, runtime with workers, @jobs/http-hono, a socket. */
export async function startJobsServer(options: { taskEstimateMs?: number } = {}): Promise<JobsServer> {
  const gates = new Gates();
  const runtime = createJobsRuntime({
    repository: createMemoryRepository(),
    queue: createMemoryQueue(),
    logger: silentLogger,
    service: { pollIntervalMs: 200 },
    // Listed (GET /jobs/ping/schedules), never submitted: no job of it ever shows up in a test's list.
    schedules: [PING_SCHEDULE],
    scheduler: false,
    host: { progressIntervalMs: 1, heartbeatIntervalMs: 100, shutdownTimeoutMs: 1_000 },
    workers: [
      implement(ping, (input) => ({ pong: input.message })),
      // An estimate gives the task's jobs an ETA (estimatedCompletionAt).
      implementTask(task, gates, options.taskEstimateMs ? { estimate: () => options.taskEstimateMs! } : {}),
    ],
  });
  await runtime.start();
  const shutdown = new AbortController();
  const requests: JobsServer['requests'] = [];
  const app = new Hono();
  app.use('*', async (c, next) => {
    const seen: JobsServer['requests'][number] = {
      method: c.req.method,
      path: new URL(c.req.url).pathname,
      prefer: c.req.header('prefer') ?? null,
      idempotencyKey: c.req.header('idempotency-key') ?? null,
      ifNoneMatch: c.req.header('if-none-match') ?? null,
      headers: {},
      status: null,
      etag: null,
    };
    c.req.raw.headers.forEach((value, name) => {
      seen.headers[name] = value;
    });
    requests.push(seen);
    await next();
    seen.status = c.res.status;
    seen.etag = c.res.headers.get('etag');
  });
  app.route(
    '/jobs',
    createJobsApp({
      service: runtime.service,
      logger: silentLogger,
      signal: shutdown.signal,
      heartbeatSeconds: 1,
    }),
  );
  const served = await serveFetch(app.fetch);
  return {
    ...served,
    baseUrl: `${served.origin}/jobs`,
    runtime,
    app,
    gates,
    requests,
    async close() {
      shutdown.abort();
      await runtime.stop({ timeoutMs: 1_000 });
      await served.close();
    },
  };
}

/**
 * Starts the real stack before the file's tests and closes it after them (registers `beforeAll`/`afterAll`);
 * call at the top of a test file. Returns the server, to call within tests.
 */
export function useJobsServer(): () => JobsServer {
  let server: JobsServer | undefined;
  beforeAll(async () => {
    server = await startJobsServer();
  });
  afterAll(async () => {
    await server?.close();
  });
  return () => {
    if (!server) throw new Error('The jobs server is not started: use it within tests.');
    return server;
  };
}

/** Resolves once `predicate` holds, checking every 10 ms (the test's timeout bounds the wait). */
export async function until(predicate: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await predicate())) await new Promise((resolve) => setTimeout(resolve, 10));
}
