import { Logger, makeWorkerUtils, type Runner, run, type WorkerUtils } from 'graphile-worker';
import pg from 'pg';
import { delay, dropSchema, runAll, schemaName } from '../support.js';
import type { StartContender } from '../types.js';
import { COMPLETION_POLL_MS } from './index.js';

/**
 * graphile-worker 0.18 (docs: worker.graphile.org "Library: running jobs" for run() and "Performance" for
 * the batching options). `defaults`: run() with the bench's concurrency and nothing else. `tuned`: the
 * configuration of its performance page, a local queue of 500 jobs and completions batched as they come.
 */
const TASK = 'noop';

const PRESETS: Record<string, GraphileConfig.Preset> = {
  defaults: {},
  tuned: { worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } },
};

const quietLogger = new Logger(() => (level, message) => {
  if (String(level) === 'error' || String(level) === 'warning') console.warn(`[graphile-worker] ${message}`);
});

export const start: StartContender = async (variant, options) => {
  const preset = PRESETS[variant];
  if (!preset) throw new Error(`Unknown graphile-worker variant ${variant}`);
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
  const close = () =>
    runAll(
      [
        async () => await runner?.stop(),
        async () => await utils?.release(),
        () => pool.end(),
        () => dropSchema(options.servers.databaseUrl, schema),
      ],
      'graphile-worker close',
    );
  try {
    utils = await makeWorkerUtils({ pgPool: pool, schema, logger: quietLogger });
    await utils.migrate();
  } catch (error) {
    await close().catch(() => {});
    throw error;
  }
  const workerUtils = utils;
  const table = `"${schema}"._private_jobs`;

  return {
    async startWorkers() {
      runner = await run({
        pgPool: pool,
        schema,
        concurrency: options.concurrency,
        noHandleSignals: true,
        logger: quietLogger,
        preset,
        taskList: {
          [TASK]: async (payload) => {
            options.onStart((payload as { seq: number }).seq);
          },
        },
      });
      runner.events.on('job:success', () => {
        succeeded++;
      });
    },
    async submit(seq) {
      const job = await workerUtils.addJob(TASK, { seq });
      return String(job.id);
    },
    async awaitCompletion(id) {
      for (;;) {
        const result = await pool.query(`SELECT 1 FROM ${table} WHERE id = $1`, [id]);
        if (result.rowCount === 0) return;
        await delay(COMPLETION_POLL_MS);
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
};
