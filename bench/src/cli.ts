import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { isNodeRuntimeId, type NodeRuntimeId } from './node-runtimes.js';
import { BENCH_ROOT } from './paths.js';
import { DEFAULT_SERVERS, type Servers } from './types.js';

export const MEASUREMENTS = ['compare', 'scaling', 'retained', 'backlog', 'waiters', 'http'] as const;
export type Measurement = (typeof MEASUREMENTS)[number];

export interface BenchConfig {
  servers: Servers;
  /** What to measure; all of them when no measurement flag is given. */
  measurements: ReadonlySet<Measurement>;
  /** Contenders of the comparison (`--only`); null for all. */
  only: string[] | null;
  /** Node runtimes of our contenders (one row each), and of the peers. */
  ourNodes: NodeRuntimeId[];
  peerNode: NodeRuntimeId;
  jobs: number;
  latencyJobs: number;
  concurrency: number;
  /** PostgreSQL pool size; null: concurrency + 4 (each row's own concurrency). */
  pool: number | null;
  producers: number;
  repeats: number;
  warmupJobs: number;
  skipLatency: boolean;
  profile: boolean;
  retries: number;
  waitIdlePercent: number | null;
  /** Contenders of the scaling, retained and backlog measurements. */
  growthWith: string[];
  scalingConcurrency: number[];
  retainedJobs: number;
  backlogJobs: number;
  waiters: number;
  waiterWaitSeconds: number;
  waiterWindowSeconds: number;
  waiterSettleSeconds: number;
  httpSeconds: number;
  httpConnections: number;
  /** Where the scaling plot is written. */
  plotPath: string;
}

export const HELP = `Usage: pnpm bench [options]

Every contender runs in a child process of its own (ours under each --node, the peers under Node 22); this
process orchestrates, measures CPU per process group and prints Markdown tables on stdout (progress on stderr).

Measurements (all of them when none is named):
  --compare             throughput, CPU per job and latency of every contender (--only a,b to choose)
  --scaling             throughput and cost per job at worker concurrency --scaling-concurrency
  --retained            cost per job with 0 and --retained-jobs finished jobs kept in the table
  --backlog             drain --backlog-jobs jobs queued while the workers were stopped
  --waiters             --waiter-count long-poll waiters on queued jobs: database cost per second
  --http                POST /jobs/noop requests/s through createJobsApp vs a bare Hono handler (autocannon)

Common:
  --jobs N              jobs per throughput run (default 5000)
  --latency-jobs N      sequential jobs per latency run (default 300)
  --concurrency N       worker concurrency of every contender (default 16)
  --pool N              PostgreSQL pool size (default concurrency + 4)
  --producers N         submits in flight during a throughput run (default 16)
  --repeats N           rounds; each starts every row afresh and measures it once; median reported (default 3)
  --warmup N            jobs of the discarded warm-up run of each round (default min(jobs, 500))
  --only a,b            contenders of --compare: jobs-amqp, jobs-amqp-keyed, jobs-http, jobs-pg, jobs-memory, pg-boss,
                        pg-boss-tuned, graphile-worker, graphile-worker-tuned, bullmq, bullmq-tuned
  --node a,b            Node runtimes of our contenders: system, 22, 24 (default system,22)
  --peer-node X         Node runtime of the peers (default 22; pg-boss 12 and graphile-worker 0.18 need it)
  --skip-latency        no latency runs in --compare
  --profile             per-job repository/queue calls of our contenders
  --retries N           run a round that failed (e.g. a server restarted meanwhile) again, up to N times (default 2)
  --wait-idle PCT       before each round, wait (up to 10 min) until the CPUs are at least PCT % idle

Growth:
  --growth-with a,b     contenders of --scaling, --retained and --backlog (default jobs-amqp)
  --scaling-concurrency a,b   (default 1,4,16,64)
  --retained-jobs N     (default 1000000)
  --backlog-jobs N      (default 100000)
  --waiter-count N      (default 1000)
  --waiter-wait S       seconds each long-poll waits (default 30)
  --waiter-seconds S    measured window (default 20), after --waiter-settle S (default 3)
  --http-seconds S      autocannon duration (default 10)
  --http-connections N  autocannon connections (default: producers)
  --plot PATH           where the scaling plot goes (default bench/growth.svg)

Servers: JOBS_BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test),
JOBS_BENCH_AMQP_URL (default amqp://guest:guest@127.0.0.1:5672), JOBS_BENCH_REDIS_URL (default redis://127.0.0.1:6379).`;

const text = { type: 'string' } as const;
const flag = { type: 'boolean' } as const;

/** Parses the command line; null for --help. */
export function parseCli(argv: readonly string[]): BenchConfig | null {
  // `pnpm bench -- --jobs 100` passes the `--` through: accept it.
  const args = argv[0] === '--' ? argv.slice(1) : [...argv];
  const { values } = parseArgs({
    args,
    options: {
      ...Object.fromEntries(MEASUREMENTS.map((name) => [name, flag])),
      jobs: text,
      'latency-jobs': text,
      concurrency: text,
      pool: text,
      producers: text,
      repeats: text,
      warmup: text,
      only: text,
      node: text,
      'peer-node': text,
      'skip-latency': flag,
      profile: flag,
      retries: text,
      'wait-idle': text,
      'growth-with': text,
      'scaling-concurrency': text,
      'retained-jobs': text,
      'backlog-jobs': text,
      'waiter-count': text,
      'waiter-wait': text,
      'waiter-seconds': text,
      'waiter-settle': text,
      'http-seconds': text,
      'http-connections': text,
      plot: text,
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return null;
  const value = (name: string) => values[name as keyof typeof values] as string | undefined;
  const int = (name: string, fallback: number, min = 1) => integer(value(name), fallback, name, min);
  const chosen = MEASUREMENTS.filter((name) => (values as Record<string, unknown>)[name] === true);
  const jobs = int('jobs', 5000);
  const concurrency = int('concurrency', 16);
  const producers = int('producers', 16);
  return {
    servers: DEFAULT_SERVERS,
    measurements: new Set(chosen.length > 0 ? chosen : MEASUREMENTS),
    only: list(values.only),
    ourNodes: nodeIds(values.node ?? 'system,22'),
    peerNode: nodeIds(values['peer-node'] ?? '22')[0]!,
    jobs,
    latencyJobs: int('latency-jobs', 300),
    concurrency,
    pool: values.pool === undefined ? null : int('pool', 0),
    producers,
    repeats: int('repeats', 3),
    warmupJobs: int('warmup', Math.min(jobs, 500), 0),
    skipLatency: values['skip-latency'] === true,
    profile: values.profile === true,
    retries: int('retries', 2, 0),
    waitIdlePercent: values['wait-idle'] === undefined ? null : int('wait-idle', 85),
    growthWith: list(values['growth-with']) ?? ['jobs-amqp'],
    scalingConcurrency: (list(values['scaling-concurrency']) ?? ['1', '4', '16', '64']).map((n) =>
      integer(n, 1, 'scaling-concurrency', 1),
    ),
    retainedJobs: int('retained-jobs', 1_000_000),
    backlogJobs: int('backlog-jobs', 100_000),
    waiters: int('waiter-count', 1000),
    waiterWaitSeconds: int('waiter-wait', 30),
    waiterWindowSeconds: int('waiter-seconds', 20),
    waiterSettleSeconds: int('waiter-settle', 3, 0),
    httpSeconds: int('http-seconds', 10),
    httpConnections: int('http-connections', producers),
    plotPath: values.plot ?? join(BENCH_ROOT, 'growth.svg'),
  };
}

function integer(value: string | undefined, fallback: number, name: string, min: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}, got ${value}`);
  return n;
}

function list(value: string | undefined): string[] | null {
  return value === undefined
    ? null
    : value
        .split(',')
        .map((part) => part.trim())
        .filter(Boolean);
}

function nodeIds(value: string): NodeRuntimeId[] {
  const ids = list(value) ?? [];
  for (const id of ids)
    if (!isNodeRuntimeId(id)) throw new Error(`Unknown Node runtime ${id}: system, 22 or 24`);
  if (ids.length === 0) throw new Error('--node needs at least one runtime');
  return ids as NodeRuntimeId[];
}
