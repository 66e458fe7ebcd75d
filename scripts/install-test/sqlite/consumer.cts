// The same packages seen from a CommonJS TypeScript module: tsc (node16) resolves the "require" condition and
// reads the .d.cts declarations.
import { createJobsRuntime, defineEndpoint, implement } from '@jobs/core';
import { createMemoryQueue } from '@jobs/memory';
import { createSqliteRepository } from '@jobs/repo-sqlite';
import { z } from 'zod';

const ping = defineEndpoint({
  name: 'ping',
  input: z.object({ n: z.number() }),
  output: z.object({ n: z.number() }),
});
// @ts-expect-error synchronous is 'full' or 'normal'
createSqliteRepository({ path: ':memory:', synchronous: 'off' });
export const runtime = createJobsRuntime({
  repository: createSqliteRepository({ path: ':memory:' }),
  queue: createMemoryQueue(),
  workers: [implement(ping, ({ n }) => ({ n: n + 1 }))],
});
