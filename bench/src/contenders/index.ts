import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeRuntimeId } from '../node-runtimes.js';
import { BENCH_ROOT } from '../paths.js';
import type { Server } from '../types.js';

/**
 * What the orchestrator knows of a contender: its row label, what it needs and how it is set up. The
 * implementation (which imports the library) is loaded by the child process only, so a peer that needs
 * Node 22 is never imported by the orchestrator.
 */
export type Implementation = 'jobs' | 'pg-boss' | 'graphile-worker' | 'bullmq';

export interface ContenderSpec {
  /** The id `--only` and `--growth-with` take. */
  id: string;
  /** `ours` run under every `--node` runtime; peers under `--peer-node`. */
  family: 'ours' | 'peer';
  name: string;
  implementation: Implementation;
  /** Passed to the implementation's `start`. */
  variant: string;
  requires: readonly Server[];
  /** Setup in one line: what is used and how it is configured. */
  setup: string;
  /** How the submitter learns that a job completed, for the latency table. */
  completion: string;
  /**
   * For a setup whose throughput is capped by its polling design (the rate does not depend on the number of
   * jobs): at most this many jobs per throughput run and per latency run, so that a round stays short.
   */
  caps?: { jobs: number; latencyJobs: number };
  /** It can start with finished jobs already in its store (`--retained`). */
  retains?: boolean;
}

/** The peers run under Node 22: pg-boss 12 needs ≥ 22.12 and graphile-worker 0.18 ≥ 22.18. */
export const PEER_NODE: NodeRuntimeId = '22';

/** Completion polls of the peers that have no completion API for a submitter, in the latency table. */
export const COMPLETION_POLL_MS = 5;

export function installedVersion(pkg: string): string {
  const manifest = JSON.parse(readFileSync(join(BENCH_ROOT, 'node_modules', pkg, 'package.json'), 'utf8'));
  return String(manifest.version);
}

const JOBS_AMQP_SETUP =
  '@jobs/repo-postgres (pool max = pool size, fresh schema) + @jobs/queue-amqp (quorum queue, publisher confirms, prefetch = concurrency); createJobsRuntime with the default host and sweeper';
const SERVICE_WAIT =
  'service.wait(endpoint, id) (woken by LISTEN/NOTIFY for PostgreSQL, by the repository event for memory)';

function jobsSpecs(): ContenderSpec[] {
  const jobs = (spec: Omit<ContenderSpec, 'family' | 'implementation'>): ContenderSpec => ({
    ...spec,
    family: 'ours',
    implementation: 'jobs',
  });
  return [
    jobs({
      id: 'jobs-amqp',
      name: 'jobs (PostgreSQL + RabbitMQ)',
      variant: 'amqp',
      requires: ['postgres', 'rabbitmq'],
      setup: `${JOBS_AMQP_SETUP}; submit = service.submit()`,
      completion: SERVICE_WAIT,
      retains: true,
    }),
    jobs({
      id: 'jobs-amqp-keyed',
      name: 'jobs with per-key limits (PostgreSQL + RabbitMQ)',
      variant: 'amqp-keyed',
      requires: ['postgres', 'rabbitmq'],
      setup: `${JOBS_AMQP_SETUP}; the endpoint with flow limits on: limits = { key: 16 tenants (seq mod 16), concurrencyPerKey: 4 } (caps above the worker concurrency: the cost of the bookkeeping, not of waiting); submit = service.submit()`,
      completion: SERVICE_WAIT,
    }),
    jobs({
      id: 'jobs-http',
      name: 'jobs over HTTP (PostgreSQL + RabbitMQ)',
      variant: 'http',
      requires: ['postgres', 'rabbitmq'],
      setup: `${JOBS_AMQP_SETUP}; submitted through createJobsApp (Hono) served by @hono/node-server on 127.0.0.1, client = Node fetch (keep-alive) in the same process: POST /jobs/noop → 202`,
      completion:
        'GET /jobs/noop/{id} with `Prefer: wait=30` (long-poll woken by LISTEN/NOTIFY) until it answers 303',
      retains: true,
    }),
    jobs({
      id: 'jobs-pg',
      name: 'jobs (PostgreSQL + memory queue)',
      variant: 'pg-memory',
      requires: ['postgres'],
      setup:
        '@jobs/repo-postgres (pool max = pool size, fresh schema) + @jobs/memory queue (single process); createJobsRuntime defaults; submit = service.submit()',
      completion: SERVICE_WAIT,
      retains: true,
    }),
    jobs({
      id: 'jobs-sqlite',
      name: 'jobs (SQLite + memory queue)',
      variant: 'sqlite-memory',
      requires: [],
      setup:
        '@jobs/repo-sqlite on a fresh file in the temp folder (WAL, synchronous = full, the defaults; driver better-sqlite3 under Node 20, node:sqlite under Node 22) + @jobs/memory queue (single process); createJobsRuntime defaults; submit = service.submit()',
      completion:
        'service.wait(endpoint, id) (woken by the in-process change notification of the repository)',
    }),
    jobs({
      id: 'jobs-memory',
      name: 'jobs (memory only)',
      variant: 'memory',
      requires: [],
      setup:
        '@jobs/memory repository + queue: the ceiling of the runtime itself, no I/O; submit = service.submit()',
      completion: SERVICE_WAIT,
    }),
  ];
}

function peerSpecs(): ContenderSpec[] {
  const pgBoss = `pg-boss ${installedVersion('pg-boss')}`;
  const graphile = `graphile-worker ${installedVersion('graphile-worker')}`;
  const bullmq = `BullMQ ${installedVersion('bullmq')}`;
  const peer = (spec: Omit<ContenderSpec, 'family'>): ContenderSpec => ({ ...spec, family: 'peer' });
  const pgBossCompletion = `findJobs('noop', { id }) polled every ${COMPLETION_POLL_MS} ms until state = completed (pg-boss has no completion event for a submitter)`;
  const graphileCompletion = `the job row polled every ${COMPLETION_POLL_MS} ms until it is gone (graphile-worker deletes a job when it completes; a submitter has no completion API)`;
  const graphileCommon =
    'run({ pgPool, schema: fresh, concurrency, taskList: { noop }, noHandleSignals }); one pg.Pool (max = pool size) shared by the runner and makeWorkerUtils(); submit = workerUtils.addJob()';
  const bullmqCompletion = "the QueueEvents 'completed' event of the job (Redis stream)";
  return [
    peer({
      id: 'pg-boss',
      name: `${pgBoss} (defaults)`,
      implementation: 'pg-boss',
      variant: 'defaults',
      requires: ['postgres'],
      setup:
        "new PgBoss({ schema: fresh, max: pool size }), createQueue('noop') with defaults, work('noop', { localConcurrency: concurrency }, handler) with defaults otherwise (batchSize 1, pollingIntervalSeconds 2, no LISTEN/NOTIFY): each of the concurrency workers fetches one job, runs it and waits out the rest of its 2 s interval; submit = send()",
      completion: pgBossCompletion,
      caps: { jobs: 400, latencyJobs: 20 },
    }),
    peer({
      id: 'pg-boss-tuned',
      name: `${pgBoss} (throughput setup)`,
      implementation: 'pg-boss',
      variant: 'tuned',
      requires: ['postgres'],
      setup:
        "new PgBoss({ schema: fresh, max: pool size, useListenNotify: true }), createQueue('noop', { notify: true }), work('noop', { localConcurrency: concurrency, batchSize: 100, burstWhenBatchFull: true, pollingIntervalSeconds: 0.5 }, handler): each worker fetches up to 100 jobs, runs them and completes them as one batch (all or nothing), fetches again at once while batches come back full, and is woken by NOTIFY when a job is created; submit = send()",
      completion: pgBossCompletion,
    }),
    peer({
      id: 'graphile-worker',
      name: `${graphile} (defaults)`,
      implementation: 'graphile-worker',
      variant: 'defaults',
      requires: ['postgres'],
      setup: `${graphileCommon}; defaults otherwise (no local queue, each completion its own statement, LISTEN/NOTIFY for new jobs, 2 s poll backstop)`,
      completion: graphileCompletion,
    }),
    peer({
      id: 'graphile-worker-tuned',
      name: `${graphile} (throughput setup)`,
      implementation: 'graphile-worker',
      variant: 'tuned',
      requires: ['postgres'],
      setup: `${graphileCommon}; preset.worker = { localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } (the batching configuration of its performance page): the pool locks up to 500 jobs at once and hands them to its workers, completions made within the same tick go to the database together`,
      completion: graphileCompletion,
    }),
    peer({
      id: 'bullmq',
      name: `${bullmq} (Redis, defaults)`,
      implementation: 'bullmq',
      variant: 'defaults',
      requires: ['redis'],
      setup:
        'Queue + Worker({ concurrency }) + QueueEvents on the local Redis, a fresh key prefix, defaults otherwise (every completed job kept); submit = queue.add()',
      completion: bullmqCompletion,
    }),
    peer({
      id: 'bullmq-tuned',
      name: `${bullmq} (Redis, throughput setup)`,
      implementation: 'bullmq',
      variant: 'tuned',
      requires: ['redis'],
      setup:
        'as the defaults row, with Worker({ concurrency, removeOnComplete: { count: 1000 }, removeOnFail: { count: 5000 } }) (auto-removal of finished jobs, as its production guide recommends); submit = queue.add()',
      completion: bullmqCompletion,
    }),
  ];
}

/** Every contender, keyed by id, in report order. */
export function allContenders(): Map<string, ContenderSpec> {
  return new Map([...jobsSpecs(), ...peerSpecs()].map((spec) => [spec.id, spec]));
}
