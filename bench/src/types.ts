import type { Profiler } from './profiler.js';

/** Where the shared servers are; every contender runs against the same ones. */
export interface Servers {
  /** PostgreSQL database; each contender gets a fresh schema in it, dropped afterwards. */
  databaseUrl: string;
  /** RabbitMQ broker (jobs' distributed setup). */
  amqpUrl: string;
  /** Redis (BullMQ). */
  redisUrl: string;
}

export type Server = 'postgres' | 'rabbitmq' | 'redis';

export const DEFAULT_SERVERS: Servers = {
  databaseUrl: process.env.JOBS_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  amqpUrl: process.env.JOBS_BENCH_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
  redisUrl: process.env.JOBS_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
};

/** How a contender is started in its child process (sent over IPC). */
export interface ContenderSettings {
  servers: Servers;
  /** Jobs one worker process runs at once. */
  concurrency: number;
  /** Largest PostgreSQL pool of the contender (one pool, shared by submitters and workers). */
  poolSize: number;
  /** Unique per run (schema, queue prefix and Redis prefix names are derived from it). */
  runId: string;
  /** Finished jobs put into the store before the workers start (contenders that support it). */
  retainedJobs: number;
}

export interface StartOptions extends ContenderSettings {
  /** Called by the worker at the start of each job's handler, with the job's sequence number. */
  onStart(seq: number): void;
}

/**
 * A started contender in its child process. Its workers do not run until `startWorkers()`, so that a
 * backlog can be queued first; `submit` works before.
 */
export interface Instance {
  startWorkers(): Promise<void>;
  /** Enqueues one no-op job `{ seq }` through the library's public single-job API; resolves with a handle. */
  submit(seq: number): Promise<string>;
  /** Resolves once the submitter can see that the job completed (the library's natural way). */
  awaitCompletion(handle: string): Promise<void>;
  /** Jobs enqueued and not yet recorded as completed, as the library's store says. */
  pending(): Promise<number>;
  /** Jobs recorded as completed successfully since the start. */
  succeeded(): Promise<number>;
  /** Stops the workers, closes connections, drops the schema / queues it created. */
  close(): Promise<void>;
  /** Counts the calls of the store and queue objects (jobs contenders). */
  profiler?: Profiler;
  /** One long-poll for the job's completion; resolves with the job status seen when it returned. */
  longPoll?(handle: string, waitSeconds: number, signal: AbortSignal): Promise<string>;
  /** Its HTTP submit endpoint (jobs over HTTP), for an external load generator. */
  httpSubmit?: HttpTarget;
}

export interface HttpTarget {
  /** POST here with `body` (JSON); answers 202. */
  url: string;
  body: string;
}

/** An implementation module's entry point, loaded by the child process only. */
export type StartContender = (variant: string, options: StartOptions) => Promise<Instance>;

export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
}

export interface LatencyResult {
  jobs: number;
  /** Milliseconds from just before submit() to the start of the worker's handler. */
  start: Percentiles;
  /** Milliseconds from just before submit() to the moment the submitter saw the job complete. */
  complete: Percentiles;
}
