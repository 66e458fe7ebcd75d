import { Logger, makeWorkerUtils, type Runner, run, type WorkerUtils } from 'graphile-worker';
import pg from 'pg';
import { delay, dropSchema, schemaName } from '../support.js';
import type { Contender, Instance, StartOptions } from '../types.js';

const TASK = 'noop';
/** How often the submitter polls for the job row (deleted on completion) in the latency table. */
export const GRAPHILE_COMPLETION_POLL_MS = 5;

export function graphileWorkerContender(): Contender {
  return {
    name: 'graphile-worker 0.17.3',
    requires: ['postgres'],
    setup:
      'graphile-worker run({ concurrency, taskList: { noop }, schema: fresh, noHandleSignals }) with defaults otherwise (LISTEN/NOTIFY for new jobs, pollInterval 2 s backstop); one pg.Pool (max = pool size) shared by the runner and makeWorkerUtils(); submit = workerUtils.addJob()',
    completion: `the job row polled every ${GRAPHILE_COMPLETION_POLL_MS} ms until it is gone (graphile-worker deletes a job when it completes; a submitter has no completion API)`,
    start: startGraphile,
  };
}

const quietLogger = new Logger(() => (level, message) => {
  if (String(level) === 'error' || String(level) === 'warning') console.warn(`[graphile-worker] ${message}`);
});

async function startGraphile(options: StartOptions): Promise<Instance> {
  const schema = schemaName('bench_graphile', options.runId);
  const pool = new pg.Pool({
    connectionString: options.servers.databaseUrl,
    max: options.poolSize,
    application_name: 'jobs-bench:graphile-worker',
  });
  // Errors of idle or checked-out connections surface in the calls that use them; these handlers only keep an
  // unexpected connection loss from crashing the process (graphile-worker checks that they exist).
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  let utils: WorkerUtils | null = null;
  let runner: Runner | null = null;
  let succeeded = 0;
  const close = async () => {
    try {
      await runner?.stop();
      await utils?.release();
      await pool.end();
    } finally {
      await dropSchema(options.servers.databaseUrl, schema);
    }
  };
  try {
    utils = await makeWorkerUtils({ pgPool: pool, schema, logger: quietLogger });
    await utils.migrate();
    runner = await run({
      pgPool: pool,
      schema,
      concurrency: options.concurrency,
      noHandleSignals: true,
      logger: quietLogger,
      taskList: {
        [TASK]: async (payload) => {
          options.onStart((payload as { seq: number }).seq);
        },
      },
    });
    runner.events.on('job:success', () => {
      succeeded++;
    });
  } catch (error) {
    await close().catch(() => {});
    throw error;
  }
  const workerUtils = utils;
  const table = `"${schema}"._private_jobs`;

  return {
    async submit(seq) {
      const job = await workerUtils.addJob(TASK, { seq });
      return String(job.id);
    },
    async awaitCompletion(id) {
      for (;;) {
        const result = await pool.query(`SELECT 1 FROM ${table} WHERE id = $1`, [id]);
        if (result.rowCount === 0) return;
        await delay(GRAPHILE_COMPLETION_POLL_MS);
      }
    },
    async pending() {
      const result = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
      return result.rows[0]!.n;
    },
    // A completed job is deleted, so the count comes from the runner's own `job:success` events.
    succeeded: async () => succeeded,
    close,
  };
}
