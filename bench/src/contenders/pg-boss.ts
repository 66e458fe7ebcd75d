import { PgBoss, type WorkOptions } from 'pg-boss';
import { delay, dropSchema, schemaName, throwReported } from '../support.js';
import type { StartContender } from '../types.js';
import { COMPLETION_POLL_MS } from './index.js';

/**
 * pg-boss 12 (docs: its README and pgboss.io "Workers": work() options, "Low-latency dispatch with
 * LISTEN/NOTIFY"). `defaults`: work() with `localConcurrency` = the bench's concurrency and nothing else.
 * `tuned`: batches of 100 per fetch, burst fetching while batches come back full, the shortest polling
 * interval it accepts, and LISTEN/NOTIFY wake-ups.
 */
const QUEUE = 'noop';

const VARIANTS = {
  defaults: { constructor: {}, queue: {}, work: {} },
  tuned: {
    constructor: { useListenNotify: true },
    queue: { notify: true },
    work: { batchSize: 100, burstWhenBatchFull: true, pollingIntervalSeconds: 0.5 },
  },
} satisfies Record<string, { constructor: object; queue: object; work: WorkOptions }>;

export const start: StartContender = async (variant, options) => {
  const setup = VARIANTS[variant as keyof typeof VARIANTS];
  if (!setup) throw new Error(`Unknown pg-boss variant ${variant}`);
  const schema = schemaName('bench_pgboss', options.runId);
  const boss = new PgBoss({
    connectionString: options.servers.databaseUrl,
    schema,
    max: options.poolSize,
    application_name: 'jobs-bench:pg-boss',
    ...setup.constructor,
  });
  const errors: unknown[] = [];
  boss.on('error', (error) => errors.push(error));
  let started = false;
  try {
    await boss.start();
    started = true;
    await boss.createQueue(QUEUE, setup.queue);
  } catch (error) {
    if (started) await boss.stop({ graceful: false, close: true }).catch(() => {});
    await dropSchema(options.servers.databaseUrl, schema);
    throw error;
  }
  const db = boss.getDb();
  const count = async (states: string) => {
    const result = await db.executeSql(
      `SELECT count(*)::int AS n FROM "${schema}".job WHERE name = $1 AND state IN (${states})`,
      [QUEUE],
    );
    return Number(result.rows[0].n);
  };

  return {
    async startWorkers() {
      await boss.work<{ seq: number }>(
        QUEUE,
        { localConcurrency: options.concurrency, ...setup.work },
        async (jobs) => {
          for (const job of jobs) options.onStart(job.data.seq);
          return {};
        },
      );
    },
    async submit(seq) {
      const id = await boss.send(QUEUE, { seq });
      if (!id) throw new Error('pg-boss send() returned no id');
      return id;
    },
    async awaitCompletion(id) {
      for (;;) {
        const [job] = await boss.findJobs(QUEUE, { id });
        if (job?.state === 'completed') return;
        if (job && (job.state === 'failed' || job.state === 'cancelled'))
          throw new Error(`job ${id} ${job.state}`);
        if (errors.length > 0) throw errors[0];
        await delay(COMPLETION_POLL_MS);
      }
    },
    pending: () => count(`'created', 'retry', 'active'`),
    succeeded: () => count(`'completed'`),
    async close() {
      try {
        await boss.stop({ graceful: true, close: true, timeout: 10_000 });
      } finally {
        await dropSchema(options.servers.databaseUrl, schema);
      }
      throwReported('pg-boss', errors);
    },
  };
};
