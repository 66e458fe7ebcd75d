import { connect } from 'node:net';
import os from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import amqp from 'amqplib';
import pg from 'pg';
import { allContenders } from './contenders/index.js';
import type { JobsExperiments } from './contenders/jobs.js';
import { latencyTable, profileTable, runsTable, setupList, throughputTable } from './report.js';
import { type BenchOptions, runBench } from './run.js';
import type { Server, Servers } from './types.js';

const HELP = `Usage: pnpm bench [options]

Runs every contender in turn in this process, against the same local servers, and prints Markdown tables.

  --jobs N            jobs per throughput run (default 5000)
  --latency-jobs N    sequential jobs per latency run (default 300)
  --concurrency N     worker concurrency of every contender (default 16)
  --pool N            PostgreSQL pool size of every contender (default concurrency + 4)
  --producers N       submits in flight during a throughput run (default 16)
  --repeats N         rounds; each starts every contender afresh and measures it once; median reported (default 3)
  --warmup N          jobs of the discarded warm-up run of each round (default min(jobs, 500))
  --only a,b          contenders: ${[...allContenders().keys()].join(', ')}
  --skip-latency      throughput only
  --profile           per-job repository/queue call counts for the jobs contenders
  --retries N         run a round that failed (e.g. a server restarted meanwhile) again, up to N times (default 2)
  --wait-idle PCT     before each contender, wait (up to 10 min) until the CPUs are at least PCT % idle
  --experiment a,b    what-if switches for the jobs contenders: drop-updated-index, skip-mark-dispatched

Servers: JOBS_BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test),
JOBS_BENCH_AMQP_URL (default amqp://guest:guest@127.0.0.1:5672), JOBS_BENCH_REDIS_URL (default redis://127.0.0.1:6379).`;

async function main(): Promise<void> {
  // `pnpm bench -- --jobs 100` passes the `--` through: accept it.
  const args = process.argv.slice(2);
  if (args[0] === '--') args.shift();
  const { values } = parseArgs({
    args,
    options: {
      jobs: { type: 'string' },
      'latency-jobs': { type: 'string' },
      concurrency: { type: 'string' },
      producers: { type: 'string' },
      pool: { type: 'string' },
      repeats: { type: 'string' },
      warmup: { type: 'string' },
      only: { type: 'string' },
      'skip-latency': { type: 'boolean' },
      profile: { type: 'boolean' },
      experiment: { type: 'string' },
      'wait-idle': { type: 'string' },
      retries: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  const experiments = parseExperiments(values.experiment);
  const registry = allContenders(experiments);
  const selected = values.only ? values.only.split(',').map((id) => id.trim()) : [...registry.keys()];
  for (const id of selected) if (!registry.has(id)) throw new Error(`Unknown contender ${id}.\n\n${HELP}`);
  const contenders = selected.map((id) => registry.get(id)!);

  const jobs = integer(values.jobs, 5000, 'jobs');
  const concurrency = integer(values.concurrency, 16, 'concurrency');
  const options: BenchOptions = {
    servers: {
      databaseUrl: process.env.JOBS_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
      amqpUrl: process.env.JOBS_BENCH_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
      redisUrl: process.env.JOBS_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
    },
    jobs,
    latencyJobs: integer(values['latency-jobs'], 300, 'latency-jobs'),
    concurrency,
    poolSize: integer(values.pool, concurrency + 4, 'pool'),
    producers: integer(values.producers, 16, 'producers'),
    repeats: integer(values.repeats, 3, 'repeats'),
    warmupJobs: integer(values.warmup, Math.min(jobs, 500), 'warmup'),
    skipLatency: values['skip-latency'] ?? false,
    profile: values.profile ?? false,
    retries: values.retries === '0' ? 0 : integer(values.retries, 2, 'retries'),
    log: (line) => console.error(`[bench] ${line}`),
  };
  const idle = new Map<string, number[]>();
  if (values['wait-idle'] !== undefined) {
    const percent = integer(values['wait-idle'], 85, 'wait-idle');
    options.beforeEach = async (contender) => {
      const percentIdle = await waitIdle(percent, 10 * 60_000);
      idle.set(contender.name, [...(idle.get(contender.name) ?? []), percentIdle]);
      options.log?.(`${contender.name}: CPUs ${percentIdle.toFixed(0)} % idle before start`);
    };
  }

  const needed = new Set<Server>(contenders.flatMap((contender) => contender.requires));
  const versions = await checkServers(options.servers, needed);
  const loadBefore = os.loadavg();
  const startedAt = new Date();
  const results = await runBench(contenders, options);
  const loadAfter = os.loadavg();

  for (const result of results) {
    if (result.succeeded !== result.submitted) {
      throw new Error(
        `${result.contender.name}: ${result.succeeded} of ${result.submitted} jobs recorded as succeeded`,
      );
    }
  }

  const cpus = os.cpus();
  const out: string[] = [];
  out.push(`## Results (${startedAt.toISOString()})`, '');
  out.push(
    `Machine: ${cpus.length} × ${cpus[0]?.model ?? 'unknown CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, ${os.type()} ${os.release()}; ` +
      `Node ${process.version}; ${[...versions].join('; ')}. The servers run on the same cores as the bench.`,
  );
  out.push(
    `Load average (1/5/15 min) before: ${loadBefore.map((n) => n.toFixed(2)).join(' / ')}, after: ${loadAfter.map((n) => n.toFixed(2)).join(' / ')}.`,
  );
  if (idle.size > 0) {
    const notes = [...idle].map(([name, values]) => `${name} ${values.map((v) => v.toFixed(0)).join('/')}`);
    out.push(`CPU idle % over the 5 s before each round of each contender: ${notes.join(', ')}.`);
  }
  out.push(
    `Settings: ${options.jobs} jobs per throughput run, ${options.producers} submits in flight, worker concurrency ${options.concurrency}, PostgreSQL pool size ${options.poolSize}, ` +
      `${options.latencyJobs} sequential jobs per latency run; ${options.repeats} rounds (each contender started afresh, warmed up with ${options.warmupJobs} jobs that are not counted, measured once), median reported.` +
      (experiments.dropUpdatedIndex || experiments.skipMarkDispatched
        ? ` Experiments: ${Object.keys(experiments).join(', ')}.`
        : ''),
  );
  out.push('', '### Throughput (no-op jobs)', '', throughputTable(results, options));
  if (!options.skipLatency) {
    out.push('', '### Latency, one job at a time (ms)', '', latencyTable(results));
  }
  out.push('', '### Every round', '', runsTable(results));
  const retried = results.flatMap((result) =>
    result.retried.map((note) => `- ${result.contender.name}: ${note}.`),
  );
  if (retried.length > 0) out.push('', '### Rounds run again', '', ...retried);
  out.push('', '### Setups', '', setupList(results));
  for (const result of results) {
    if (result.profile) out.push('', profileTable(result.contender.name, result.profile));
  }
  console.log(out.join('\n'));
}

/** Waits until the CPUs were at least `percent` % idle over 5 s (or `timeoutMs` passed); returns the last idle %. */
async function waitIdle(percent: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  const totals = () =>
    os.cpus().reduce(
      (sum, cpu) => {
        const t = cpu.times;
        return { idle: sum.idle + t.idle, all: sum.all + t.idle + t.user + t.nice + t.sys + t.irq };
      },
      { idle: 0, all: 0 },
    );
  for (;;) {
    const before = totals();
    await delay(5000);
    const after = totals();
    const idle = (100 * (after.idle - before.idle)) / Math.max(1, after.all - before.all);
    if (idle >= percent || Date.now() > deadline) return idle;
  }
}

function integer(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${value}`);
  return n;
}

function parseExperiments(value: string | undefined): JobsExperiments {
  const experiments: JobsExperiments = {};
  for (const name of value ? value.split(',').map((part) => part.trim()) : []) {
    if (name === 'drop-updated-index') experiments.dropUpdatedIndex = true;
    else if (name === 'skip-mark-dispatched') experiments.skipMarkDispatched = true;
    else throw new Error(`Unknown experiment ${name}`);
  }
  return experiments;
}

/** Fails loudly when a server a selected contender needs is unreachable; returns their versions. */
async function checkServers(servers: Servers, needed: Set<Server>): Promise<string[]> {
  const versions: string[] = [];
  if (needed.has('postgres')) {
    const client = new pg.Client({ connectionString: servers.databaseUrl });
    try {
      await client.connect();
      const result = await client.query<{ server_version: string }>('SHOW server_version');
      versions.push(`PostgreSQL ${result.rows[0]?.server_version}`);
    } catch (error) {
      throw new Error(`PostgreSQL is not reachable at ${servers.databaseUrl}: ${String(error)}`);
    } finally {
      await client.end().catch(() => {});
    }
  }
  if (needed.has('rabbitmq')) {
    try {
      const connection = await amqp.connect(servers.amqpUrl);
      const properties = (connection.connection as unknown as { serverProperties?: { version?: string } })
        .serverProperties;
      versions.push(`RabbitMQ ${properties?.version ?? '(version unknown)'}`);
      await connection.close();
    } catch (error) {
      throw new Error(`RabbitMQ is not reachable at ${servers.amqpUrl}: ${String(error)}`);
    }
  }
  if (needed.has('redis')) versions.push(`Redis ${await redisVersion(servers.redisUrl)}`);
  return versions;
}

function redisVersion(redisUrl: string): Promise<string> {
  const url = new URL(redisUrl);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: url.hostname, port: Number(url.port || 6379) });
    let data = '';
    socket.setTimeout(5000, () => socket.destroy(new Error('timeout')));
    socket.on('connect', () => socket.write('INFO server\r\n'));
    socket.on('data', (chunk) => {
      data += chunk.toString('utf8');
      const match = /redis_version:([^\r\n]+)/.exec(data);
      if (match) {
        socket.end();
        resolve(match[1]!);
      }
    });
    socket.on('error', (error) =>
      reject(new Error(`Redis is not reachable at ${redisUrl}: ${String(error)}`)),
    );
  });
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
