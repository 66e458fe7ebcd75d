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

export interface StartOptions {
  servers: Servers;
  /** Jobs one worker process runs at once: the same for every contender. */
  concurrency: number;
  /** Largest PostgreSQL pool of the contender's process (one pool, shared by submitters and workers). */
  poolSize: number;
  /** Unique per run (schema, queue prefix and Redis prefix names are derived from it). */
  runId: string;
  /** Called by the worker at the start of each job's handler, with the job's sequence number. */
  onStart(seq: number): void;
}

/** One library under test, set up as its documentation says, with a no-op worker. */
export interface Contender {
  /** Short row label. */
  name: string;
  /** Which servers it needs (the bench fails loudly when one is missing). */
  requires: readonly Server[];
  /** Setup in one line: what is used and how it is configured. */
  setup: string;
  /** How the submitter learns that a job completed, for the latency table. */
  completion: string;
  start(options: StartOptions): Promise<Instance>;
}

/** A started contender: its workers are running in this process and consume the no-op jobs. */
export interface Instance {
  /** Enqueues one no-op job `{ seq }` through the library's public single-job API; resolves with a handle. */
  submit(seq: number): Promise<string>;
  /** Resolves once the submitter can see that the job completed (the library's natural way, see `completion`). */
  awaitCompletion(handle: string): Promise<void>;
  /** Jobs enqueued and not yet recorded as completed, as the library's store says. */
  pending(): Promise<number>;
  /** Jobs recorded as completed successfully since the start (for the smoke test's check). */
  succeeded(): Promise<number>;
  /** Per-operation call counts and times (jobs only: repository and queue calls, notifications). */
  profiler?: { reset(): void; report(jobs: number): ProfileReport };
  /** Stops the workers, closes connections, drops the schema / queues it created. */
  close(): Promise<void>;
}

export interface ProfileEntry {
  operation: string;
  calls: number;
  totalMs: number;
}

export interface ProfileReport {
  jobs: number;
  entries: ProfileEntry[];
}

export interface ThroughputResult {
  jobs: number;
  /** Jobs per second accepted by the submit API (first submit to last submit resolved). */
  enqueuePerSecond: number;
  /** Jobs per second from the first submit to the last completion recorded in the store. */
  endToEndPerSecond: number;
  /** Milliseconds from the first submit to the last completion. */
  totalMs: number;
  /** CPU time per job in milliseconds, by process group (Linux only, else null). */
  cpuPerJob: CpuPerJob | null;
}

export interface CpuPerJob {
  /** This process: the library under test, its workers and the submitters. */
  bench: number;
  postgres: number;
  rabbitmq: number;
  redis: number;
  /** Busy CPU of everything else on the machine during the run, in % of one CPU (disturbance). */
  othersPercent: number;
}

export interface LatencyResult {
  jobs: number;
  /** Milliseconds from just before submit() to the start of the worker's handler. */
  start: Percentiles;
  /** Milliseconds from just before submit() to the moment the submitter saw the job complete. */
  complete: Percentiles;
}

export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
}
