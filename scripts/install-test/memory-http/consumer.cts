// The same packages seen from a CommonJS TypeScript module: tsc (node16) resolves the "require" condition and
// reads the .d.cts declarations.
import { createJobsClient } from '@jobs/client';
import { createJobsRuntime, defineEndpoint, implement } from '@jobs/core';
import { createJobsApp } from '@jobs/http-hono';
import { createMemoryQueue, createMemoryRepository } from '@jobs/memory';
import { z } from 'zod';

const ping = defineEndpoint({
  name: 'ping',
  input: z.object({ n: z.number() }),
  output: z.object({ n: z.number() }),
});
// @ts-expect-error the output must match the endpoint's output schema
implement(ping, () => ({ n: 'one' }));
const runtime = createJobsRuntime({
  repository: createMemoryRepository(),
  queue: createMemoryQueue(),
  workers: [implement(ping, ({ n }) => ({ n: n + 1 }))],
});
export const app = createJobsApp({ service: runtime.service });
export const pings = createJobsClient({ baseUrl: 'http://127.0.0.1:3000/jobs' }).endpoint(ping);
