// The same packages seen from a CommonJS TypeScript module: tsc (node16) resolves the "require" condition and
// reads the .d.cts declarations.
import { createJobsRuntime, defineEndpoint, implement } from '@jobs/core';
import { createAmqpQueue } from '@jobs/queue-amqp';
import { createPostgresRepository } from '@jobs/repo-postgres';
import { z } from 'zod';

const ping = defineEndpoint({
  name: 'ping',
  input: z.object({ n: z.number() }),
  output: z.object({ n: z.number() }),
});
// @ts-expect-error the output must match the endpoint's output schema
implement(ping, () => ({ n: 'one' }));
export const runtime = createJobsRuntime({
  repository: createPostgresRepository({ connectionString: 'postgres://postgres@127.0.0.1:5432/test' }),
  queue: createAmqpQueue({ prefix: 'jobs' }),
  workers: [implement(ping, ({ n }) => ({ n: n + 1 }))],
});
