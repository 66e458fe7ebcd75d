// The API the generated client talks to: one endpoint, `thumbnail`, served by createJobsApp at /jobs with the
// in-memory blocks. Its input has a field with a default (`format`), the case generated types get wrong by
// default (see README.md).
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { createJobsRuntime, defineEndpoint, implement } from '@jobs/core';
import { createJobsApp } from '@jobs/http-hono';
import { createMemoryQueue, createMemoryRepository } from '@jobs/memory';
import { Hono } from 'hono';
import { z } from 'zod';

export const thumbnail = defineEndpoint({
  name: 'thumbnail',
  description: 'Makes a thumbnail of an image.',
  input: z.object({
    url: z.string(),
    width: z.number().int().positive().max(4096),
    format: z.enum(['png', 'webp']).default('png'),
  }),
  output: z.object({ location: z.string(), width: z.number().int(), format: z.enum(['png', 'webp']) }),
});

export interface RunningApi {
  /** e.g. http://127.0.0.1:41234; the API is at `${origin}/jobs`. */
  origin: string;
  close(): Promise<void>;
}

/** Serves the API on 127.0.0.1 (`port` 0: any free port). */
export async function startApi(port = 0): Promise<RunningApi> {
  const runtime = createJobsRuntime({
    repository: createMemoryRepository(),
    queue: createMemoryQueue(),
    workers: [
      implement(thumbnail, async ({ url, width, format }, { progress }) => {
        progress(0.5, 'resizing');
        const name =
          url
            .split('/')
            .pop()
            ?.replace(/\.\w+$/, '') || 'image';
        return { location: `/thumbnails/${name}-${width}.${format}`, width, format };
      }),
    ],
  });
  await runtime.start();
  const shutdown = new AbortController();
  const app = new Hono();
  app.route(
    '/jobs',
    createJobsApp({
      service: runtime.service,
      signal: shutdown.signal,
      openapi: {
        title: 'Thumbnails',
        version: '1.0.0',
        contact: { name: 'jobs examples', url: 'https://github.com/jobs-ts/jobs' },
        license: { name: 'MIT', identifier: 'MIT' },
      },
    }),
  );
  const server = serve({ fetch: app.fetch, port, hostname: '127.0.0.1' });
  await new Promise<void>((resolve, reject) => {
    if (server.listening) return resolve();
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${bound}`,
    async close() {
      shutdown.abort();
      await runtime.stop({ timeoutMs: 1_000 });
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
