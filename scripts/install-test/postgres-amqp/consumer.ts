// Type-checked (never run) with tsc under moduleResolution node16 and bundler, against the installed tarballs,
// with @types/pg and @types/amqplib (optional peers of the adapters) installed as a TypeScript user would.
import { createJobsRuntime, defineEndpoint, implement, type JobQueue, type JobRepository } from '@jobs/core';
import { type AmqpQueueOptions, createAmqpQueue } from '@jobs/queue-amqp';
import { createPostgresRepository } from '@jobs/repo-postgres';
import { connect } from 'amqplib';
import pg from 'pg';
import { z } from 'zod';

const report = defineEndpoint({
  name: 'report',
  input: z.object({ month: z.string().regex(/^\d{4}-\d{2}$/) }),
  output: z.object({ rows: z.number().int() }),
  maxAttempts: 5,
});

const pool = new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:5432/test', max: 20 });
const repository: JobRepository = createPostgresRepository({ pool, schema: 'jobs' });
const options: AmqpQueueOptions = {
  connection: () => connect('amqp://guest:guest@127.0.0.1:5672'),
  prefix: 'jobs',
  connectionName: 'jobs:typecheck',
};
const amqpQueue = createAmqpQueue(options);
const queue: JobQueue = amqpQueue;

// @ts-expect-error the schema name is a string
createPostgresRepository({ schema: 7 });
// @ts-expect-error pool must be a pg.Pool
createPostgresRepository({ pool: 'postgres://' });

export const runtime = createJobsRuntime({
  repository,
  queue,
  workers: [implement(report, async ({ month }) => ({ rows: month.length }))],
});

export async function health(): Promise<string> {
  const { publish, consume } = amqpQueue.status();
  return `${publish}/${consume}/${amqpQueue.names.queue('report')}`;
}
