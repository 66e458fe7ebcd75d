// Test helpers (not part of the build): the real stack on an ephemeral port, with the dashboard mounted.
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import {
  createJobsRuntime,
  defineEndpoint,
  implement,
  JobFailedError,
  type JobRepository,
  type JobsRuntime,
  newJobId,
  newLeaseToken,
  silentLogger,
} from '@jobs/core';
import { createJobsApp } from '@jobs/http-hono';
import { createMemoryQueue, createMemoryRepository } from '@jobs/memory';
import { defineTaskEndpoint, Gates, implementTask } from '@jobs/testing';
import { Hono } from 'hono';
import { z } from 'zod';
import { createDashboard } from './dashboard.js';
import type { DashboardAuthorize } from './options.js';

/** Runs `steps` steps, each released by the test through `gates.release(tag)`; may be told to fail. */
export const task = defineTaskEndpoint({ concurrency: 4 });

/** Fails while `reports.failing` is true (not retried on its own: one attempt), then succeeds. */
export const report = defineEndpoint({
  name: 'report',
  description: 'Builds a report; fails while its upstream is down.',
  input: z.object({ month: z.string() }),
  output: z.object({ rows: z.number() }),
  maxAttempts: 1,
});

export const TOKEN = 'test-dashboard-token';

/** The test's authorization hook: `Authorization: Bearer <token>` sees every owner, `Bearer owner:<name>` one. */
export const authorize: DashboardAuthorize = (c) => {
  const header = c.req.header('authorization') ?? '';
  if (header === `Bearer ${TOKEN}`) return {};
  const limited = /^Bearer owner:(.+)$/.exec(header);
  return limited ? { owner: limited[1] } : null;
};

export interface DashboardServer {
  origin: string;
  /** The dashboard's URL. */
  url: string;
  runtime: JobsRuntime;
  repository: JobRepository;
  gates: Gates;
  reports: { failing: boolean };
  /** Milliseconds added to the repository's clock (seeding the past). */
  clock: { offsetMs: number };
  close(): Promise<void>;
}

export async function startDashboardServer(
  options: { repository?: JobRepository; authorize?: DashboardAuthorize | undefined; seed?: boolean } = {},
): Promise<DashboardServer> {
  const gates = new Gates();
  const reports = { failing: true };
  const clock = { offsetMs: 0 };
  const repository =
    options.repository ?? createMemoryRepository({ clock: () => Date.now() + clock.offsetMs });
  // Before the runtime starts: its dispatcher would hand the seeded jobs to its workers.
  if (options.seed) await seedLastHour(repository, clock);
  const runtime = createJobsRuntime({
    repository,
    queue: createMemoryQueue(),
    logger: silentLogger,
    host: { progressIntervalMs: 1, shutdownTimeoutMs: 1_000 },
    dispatcher: { pollIntervalMs: 100 },
    workers: [
      implementTask(task, gates, { estimate: () => 30_000 }),
      implement(report, (input) => {
        if (reports.failing) throw new JobFailedError('The upstream is down.', { retryable: false });
        return { rows: input.month.length * 100 };
      }),
    ],
  });
  await runtime.start();
  const shutdown = new AbortController();
  const app = new Hono();
  app.route('/jobs', createJobsApp({ service: runtime.service, logger: silentLogger }));
  app.route(
    '/dashboard',
    createDashboard({
      service: runtime.service,
      authorize: 'authorize' in options ? (options.authorize as DashboardAuthorize) : authorize,
      logger: silentLogger,
      signal: shutdown.signal,
      heartbeatMs: 1_000,
      pageSize: 25,
    }),
  );
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise<void>((resolve, reject) => {
    if (server.listening) return resolve();
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  return {
    origin,
    url: `${origin}/dashboard`,
    runtime,
    repository,
    gates,
    reports,
    clock,
    async close() {
      shutdown.abort();
      await runtime.stop({ timeoutMs: 1_000 });
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        if ('closeAllConnections' in server) server.closeAllConnections();
      });
    },
  };
}

/**
 * Jobs of the last hour (`seed: true`), straight into the repository (by moving its clock back): per minute, a few that succeeded
 * after a varying run time and now and then one that failed, so that the charts and percentiles have something
 * to show. The clock is back at now when it returns.
 */
async function seedLastHour(
  repository: JobRepository,
  clock: { offsetMs: number },
  owners: readonly string[] = ['acme', 'globex'],
) {
  let seeded = 0;
  for (let minute = 58; minute >= 1; minute--) {
    const perMinute = 2 + ((minute * 7) % 5);
    for (let i = 0; i < perMinute; i++) {
      clock.offsetMs = -minute * 60_000 + i * 2_000;
      const id = newJobId();
      const owner = owners[(minute + i) % owners.length] ?? null;
      const [created] = await repository.create([
        {
          id,
          endpoint: 'task',
          input: { tag: `seed-${minute}-${i}` },
          owner,
          idempotencyKey: null,
          inputHash: null,
          maxAttempts: 1,
        },
      ]);
      if (!created?.ok) throw new Error('seeding failed');
      const leaseToken = newLeaseToken();
      await repository.claim([{ id, leaseToken, leaseMs: 60_000 }]);
      clock.offsetMs += 200 + ((minute * 131 + i * 977) % 1_500);
      const failed = (minute + i) % 9 === 0;
      await repository.settle([
        {
          id,
          leaseToken,
          outcome: failed
            ? {
                status: 'failed',
                error: {
                  type: 'urn:jobs:problem:job-failed',
                  title: 'Job failed',
                  code: 'job_failed',
                  detail: 'The task was told to fail.',
                },
                retentionMs: 86_400_000,
              }
            : {
                status: 'succeeded',
                output: { tag: `seed-${minute}-${i}`, steps: 0 },
                retentionMs: 86_400_000,
              },
        },
      ]);
      seeded++;
    }
  }
  clock.offsetMs = 0;
  return seeded;
}

/** GET (or another method) on a dashboard path with the given token. */
export function request(
  server: DashboardServer,
  path: string,
  init: { method?: string; token?: string | null; headers?: Record<string, string> } = {},
): Promise<Response> {
  const headers: Record<string, string> = { ...init.headers };
  const token = init.token === undefined ? TOKEN : init.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  return fetch(`${server.url}${path}`, { method: init.method ?? 'GET', headers, redirect: 'manual' });
}
