import { writeFile } from 'node:fs/promises';
import type { BenchConfig, Measurement } from './cli.js';
import { allContenders, type ContenderSpec } from './contenders/index.js';
import { fmt } from './markdown.js';
import { type HttpRow, measureHttp } from './measure/http-overhead.js';
import type { Row } from './measure/rows.js';
import {
  checkAllSucceeded,
  type MeasureContext,
  measureThroughput,
  type ThroughputPlan,
  type ThroughputResult,
} from './measure/throughput.js';
import { measureWaiters, type WaitersPlan } from './measure/waiters.js';
import { nodeRuntime } from './node-runtimes.js';
import { httpRatioTable, httpTable } from './report/http-table.js';
import { scalingChartSvg } from './report/scaling-chart.js';
import {
  backlogTable,
  latencyTable,
  profileTables,
  retainedTable,
  roundsTable,
  scalingTable,
  setupList,
  throughputTable,
} from './report/throughput-tables.js';
import { waitersTable } from './report/waiters-table.js';

/**
 * Each measurement: the rows it runs, how, and the Markdown section it prints. `results` are returned for
 * the smoke test; every throughput-based measurement fails when a job was not recorded as succeeded.
 */
export interface Section {
  markdown: string;
  results: readonly ThroughputResult[];
}

const STALL_TIMEOUT_MS = 60_000;

function specsById(ids: readonly string[] | null): ContenderSpec[] {
  const registry = allContenders();
  if (!ids) return [...registry.values()];
  return ids.map((id) => {
    const spec = registry.get(id);
    if (!spec) throw new Error(`Unknown contender ${id}: ${[...registry.keys()].join(', ')}`);
    return spec;
  });
}

/** The contenders a run needs servers for. */
export function selectedSpecs(config: BenchConfig): ContenderSpec[] {
  const has = (measurement: Measurement) => config.measurements.has(measurement);
  const growth = has('scaling') || has('retained') || has('backlog');
  const waitersOrHttp = has('waiters') || has('http');
  return [
    ...(has('compare') ? specsById(config.only) : []),
    ...(growth ? specsById(config.growthWith) : []),
    ...(waitersOrHttp ? specsById(['jobs-amqp', 'jobs-http']) : []),
  ];
}

function row(
  config: BenchConfig,
  spec: ContenderSpec,
  node = nodesOf(config, spec)[0]!,
  concurrency = config.concurrency,
): Row {
  return { spec, node, concurrency, poolSize: config.pool ?? concurrency + 4, retainedJobs: 0 };
}

function nodesOf(config: BenchConfig, spec: ContenderSpec) {
  return (spec.family === 'ours' ? config.ourNodes : [config.peerNode]).map(nodeRuntime);
}

function steadyPlan(config: BenchConfig, latency: boolean): ThroughputPlan {
  return {
    workload: 'steady',
    jobs: config.jobs,
    warmupJobs: config.warmupJobs,
    latencyJobs: latency && !config.skipLatency ? config.latencyJobs : 0,
    producers: config.producers,
    profile: config.profile,
    stallTimeoutMs: STALL_TIMEOUT_MS,
  };
}

async function throughputSection(
  rows: Row[],
  plan: ThroughputPlan,
  context: MeasureContext,
  render: (results: ThroughputResult[]) => string,
): Promise<Section> {
  const results = await measureThroughput(rows, plan, context);
  checkAllSucceeded(results);
  return { markdown: render(results), results };
}

function compare(config: BenchConfig, context: MeasureContext): Promise<Section> {
  const rows = specsById(config.only).flatMap((spec) =>
    nodesOf(config, spec).map((node) => row(config, spec, node)),
  );
  const plan = steadyPlan(config, true);
  return throughputSection(rows, plan, context, (results) => {
    const capped = rows.filter((row) => row.spec.caps).map((row) => row.spec.name);
    const parts = [
      '### Throughput (no-op jobs)',
      '',
      `${fmt(config.jobs)} jobs per throughput run after a warm-up of ${fmt(config.warmupJobs)} (not counted)` +
        (plan.latencyJobs > 0 ? `; ${fmt(plan.latencyJobs)} sequential jobs per latency run` : '') +
        (capped.length > 0
          ? `. Capped by its polling design, so run with fewer jobs (the rate does not depend on the count): ${[...new Set(capped)].join(', ')}`
          : '') +
        '.',
      '',
      throughputTable(results),
    ];
    if (plan.latencyJobs > 0)
      parts.push('', '### Latency, one job at a time (ms)', '', latencyTable(results));
    parts.push('', '### Every round', '', roundsTable(results), '', '### Setups', '', setupList(results));
    for (const profile of profileTables(results)) parts.push('', profile);
    return parts.join('\n');
  });
}

function scaling(config: BenchConfig, context: MeasureContext): Promise<Section> {
  const rows = specsById(config.growthWith).flatMap((spec) =>
    config.scalingConcurrency.map((concurrency) => row(config, spec, undefined, concurrency)),
  );
  return throughputSection(rows, steadyPlan(config, false), context, (results) => {
    return [
      '### Cost by worker concurrency',
      '',
      `${fmt(config.jobs)} no-op jobs per run; PostgreSQL pool = concurrency + 4 unless --pool is given. Plot: \`${config.plotPath}\`.`,
      '',
      scalingTable(results),
    ].join('\n');
  });
}

/** Writes the scaling plot; returns its path. */
export async function writeScalingPlot(config: BenchConfig, section: Section): Promise<string> {
  await writeFile(config.plotPath, scalingChartSvg(section.results));
  return config.plotPath;
}

function retained(config: BenchConfig, context: MeasureContext): Promise<Section> {
  const specs = specsById(config.growthWith).filter((spec) => spec.retains);
  if (specs.length === 0) throw new Error('--retained needs a jobs PostgreSQL contender in --growth-with');
  const rows = specs.flatMap((spec) =>
    [0, config.retainedJobs].map((retainedJobs) => ({ ...row(config, spec), retainedJobs })),
  );
  return throughputSection(rows, steadyPlan(config, false), context, (results) =>
    [
      '### Cost per job with finished jobs retained',
      '',
      `${fmt(config.jobs)} no-op jobs per run, after ${fmt(config.retainedJobs)} finished jobs were put into the jobs table (one INSERT ... SELECT generate_series, then VACUUM ANALYZE).`,
      '',
      retainedTable(results),
    ].join('\n'),
  );
}

function backlog(config: BenchConfig, context: MeasureContext): Promise<Section> {
  const rows = specsById(config.growthWith).map((spec) => row(config, spec));
  const plan: ThroughputPlan = {
    ...steadyPlan(config, false),
    workload: 'backlog',
    jobs: config.backlogJobs,
    warmupJobs: 0,
  };
  return throughputSection(rows, plan, context, (results) =>
    [
      '### Draining a backlog',
      '',
      `${fmt(config.backlogJobs)} jobs submitted (${config.producers} in flight) while the workers were stopped, then the workers started; the costs are those of the drain.`,
      '',
      backlogTable(results),
    ].join('\n'),
  );
}

async function waiters(config: BenchConfig, context: MeasureContext): Promise<Section> {
  const [amqp, http] = specsById(['jobs-amqp', 'jobs-http']);
  const plan: WaitersPlan = {
    waiters: config.waiters,
    waitSeconds: config.waiterWaitSeconds,
    windowSeconds: config.waiterWindowSeconds,
    settleSeconds: config.waiterSettleSeconds,
    producers: config.producers,
  };
  const results = await measureWaiters(
    [
      { client: 'idle', row: row(config, amqp!) },
      { client: 'service', row: row(config, amqp!) },
      { client: 'http', row: row(config, http!) },
    ],
    plan,
    context,
  );
  return {
    markdown: [
      '### Long-poll waiters on jobs that do not complete',
      '',
      `${fmt(config.waiters)} jobs queued with the workers stopped, one waiter per job long-polling ${config.waiterWaitSeconds} s at a time in a loop; measured over ${config.waiterWindowSeconds} s after ${config.waiterSettleSeconds} s. Costs per second (CPU ms/s: 10 = 1 % of a CPU).`,
      '',
      waitersTable(results, plan),
    ].join('\n'),
    results: [],
  };
}

async function http(config: BenchConfig, context: MeasureContext): Promise<Section> {
  const jobsHttp = specsById(['jobs-http'])[0]!;
  const rows: HttpRow[] = nodesOf(config, jobsHttp).flatMap((node) => [
    { server: 'jobs' as const, node, row: row(config, jobsHttp, node) },
    { server: 'bare' as const, node, row: null },
  ]);
  const results = await measureHttp(
    rows,
    { seconds: config.httpSeconds, connections: config.httpConnections },
    context,
  );
  return {
    markdown: [
      '### HTTP: POST /jobs/noop',
      '',
      `autocannon (${config.httpConnections} connections, ${config.httpSeconds} s) in a process of its own against createJobsApp (an API process: workers not started, so every request stores and publishes a job) and against a bare Hono handler answering 202, each served by @hono/node-server in a child process.`,
      '',
      httpTable(results),
      '',
      httpRatioTable(results),
    ].join('\n'),
    results: [],
  };
}

/** Every measurement, by the name of its command-line flag. */
export const MEASURE: Record<
  Measurement,
  (config: BenchConfig, context: MeasureContext) => Promise<Section>
> = {
  compare,
  scaling,
  retained,
  backlog,
  waiters,
  http,
};
