import PgBoss from 'pg-boss';
import { delay, dropSchema, schemaName } from '../support.js';
import type { Contender, Instance, StartOptions } from '../types.js';

const QUEUE = 'noop';
/** pg-boss refuses a polling interval below 500 ms; the default is 2 s. */
const POLLING_INTERVAL_SECONDS = 0.5;
/** How often the submitter polls getJobById() for the latency table. */
export const PGBOSS_COMPLETION_POLL_MS = 5;

export function pgBossContender(): Contender {
  return {
    name: 'pg-boss 10.4.2',
    requires: ['postgres'],
    setup: `pg-boss (pool max = pool size, fresh schema, default maintenance), createQueue('noop') (standard policy); <concurrency> × work('noop', { batchSize: 1, pollingIntervalSeconds: ${POLLING_INTERVAL_SECONDS} }) — the minimum interval pg-boss accepts; submit = send()`,
    completion: `getJobById() polled every ${PGBOSS_COMPLETION_POLL_MS} ms until state = completed (pg-boss 10 has no completion event)`,
    start: startPgBoss,
  };
}

async function startPgBoss(options: StartOptions): Promise<Instance> {
  const schema = schemaName('bench_pgboss', options.runId);
  const boss = new PgBoss({
    connectionString: options.servers.databaseUrl,
    schema,
    max: options.poolSize,
    application_name: 'jobs-bench:pg-boss',
  });
  const errors: unknown[] = [];
  boss.on('error', (error) => errors.push(error));
  let started = false;
  try {
    await boss.start();
    started = true;
    await boss.createQueue(QUEUE);
    // pg-boss 10 has no concurrency option: each work() call is one polling worker fetching `batchSize` jobs.
    // One job per fetch keeps per-job completion (a batch completes or fails as a whole) like the others.
    for (let i = 0; i < options.concurrency; i++) {
      await boss.work<{ seq: number }>(
        QUEUE,
        { batchSize: 1, pollingIntervalSeconds: POLLING_INTERVAL_SECONDS },
        async (jobs) => {
          for (const job of jobs) options.onStart(job.data.seq);
          return {};
        },
      );
    }
  } catch (error) {
    if (started) await boss.stop({ graceful: false, wait: true, close: true }).catch(() => {});
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
    async submit(seq) {
      const id = await boss.send(QUEUE, { seq });
      if (!id) throw new Error('pg-boss send() returned no id');
      return id;
    },
    async awaitCompletion(id) {
      for (;;) {
        const job = await boss.getJobById(QUEUE, id);
        if (job?.state === 'completed') return;
        if (job && (job.state === 'failed' || job.state === 'cancelled'))
          throw new Error(`job ${id} ${job.state}`);
        if (errors.length > 0) throw errors[0];
        await delay(PGBOSS_COMPLETION_POLL_MS);
      }
    },
    pending: () => count(`'created', 'retry', 'active'`),
    succeeded: () => count(`'completed'`),
    async close() {
      try {
        await boss.stop({ graceful: true, wait: true, close: true, timeout: 10_000 });
      } finally {
        await dropSchema(options.servers.databaseUrl, schema);
      }
      if (errors.length > 0)
        throw new AggregateError(
          errors,
          `pg-boss reported ${errors.length} error(s), the first: ${String(errors[0])}`,
        );
    },
  };
}
