import type { DbActivity } from '../db-activity.js';
import { fmt } from '../markdown.js';
import type { ProfileReport } from '../profiler.js';
import { median, medianPercentiles } from '../stats.js';
import type { LatencyResult, Servers } from '../types.js';
import { measured, medianUsagePer, type Usage, type UsagePer, usagePer } from './probes.js';
import { type RoundsOptions, type RowRounds, runRounds } from './rounds.js';
import { type Row, rowLabel, withContender } from './rows.js';

/**
 * One round of a throughput measurement of one row, in a fresh child process:
 * - `steady`: the workers run; a warm-up run (not counted), then `jobs` submitted by `producers` submitters
 *   until none is pending, then optionally the latency runs;
 * - `backlog`: `jobs` submitted while the workers are stopped, then the workers start and drain them.
 */
export interface ThroughputPlan {
  workload: 'steady' | 'backlog';
  jobs: number;
  /** Jobs of the discarded warm-up run (steady), and a tenth of it, at least 10, before the latency runs. */
  warmupJobs: number;
  /** Sequential jobs of the latency run; 0 for none. */
  latencyJobs: number;
  producers: number;
  profile: boolean;
  /** A run fails when no job completes for this long. */
  stallTimeoutMs: number;
}

export interface ThroughputRound {
  jobs: number;
  /** steady: first submit → last submit resolved, workers running; backlog: the same, workers stopped. */
  enqueueMs: number;
  /** steady: first submit → no job pending; backlog: workers started → no job pending. */
  totalMs: number;
  /** What the measured window cost: steady, the whole run; backlog, the drain. */
  usage: Usage;
  latency: LatencyResult | null;
  /** Jobs submitted in the round, all runs together, and how many the store recorded as succeeded. */
  submitted: number;
  succeeded: number;
  profile: ProfileReport | null;
}

/** The process name of the contender's child in `Usage.cpu.processes`. */
export const CONTENDER = 'contender';

export function throughputRound(
  row: Row,
  plan: ThroughputPlan,
  servers: Servers,
  db: DbActivity | null,
): Promise<ThroughputRound> {
  const caps = row.spec.caps;
  const jobs = Math.min(plan.jobs, caps?.jobs ?? Number.POSITIVE_INFINITY);
  const warmupJobs = Math.min(plan.warmupJobs, caps ? Math.ceil(caps.jobs / 4) : Number.POSITIVE_INFINITY);
  const latencyJobs = Math.min(plan.latencyJobs, caps?.latencyJobs ?? Number.POSITIVE_INFINITY);
  return withContender(row, servers, async (child) => {
    const probes = {
      processes: { [CONTENDER]: child.pid },
      db: row.spec.requires.includes('postgres') ? db : null,
    };
    const stallTimeoutMs = plan.stallTimeoutMs;
    let enqueueMs: number;
    let totalMs: number;
    let usage: Usage;
    if (plan.workload === 'steady') {
      await child.call('startWorkers');
      if (warmupJobs > 0)
        await child.call('throughput', { jobs: warmupJobs, producers: plan.producers, stallTimeoutMs });
      await child.call('resetProfile');
      const run = await measured(probes, () =>
        child.call('throughput', { jobs, producers: plan.producers, stallTimeoutMs }),
      );
      ({ enqueueMs, totalMs } = run.value);
      usage = run.usage;
    } else {
      enqueueMs = await child.call('submitBacklog', { jobs, producers: plan.producers });
      await child.call('resetProfile');
      const drain = await measured(probes, () => child.call('drain', { stallTimeoutMs }));
      totalMs = drain.usage.wallMs;
      usage = drain.usage;
    }
    const profile = plan.profile ? await child.call('profile', { jobs }) : null;
    let latency: LatencyResult | null = null;
    if (latencyJobs > 0) {
      await child.call('latency', { jobs: Math.min(latencyJobs, Math.max(10, Math.round(warmupJobs / 10))) });
      latency = await child.call('latency', { jobs: latencyJobs });
    }
    const counts = await child.call('counts');
    return { jobs, enqueueMs, totalMs, usage, latency, profile, ...counts };
  });
}

export interface MeasureContext extends RoundsOptions {
  servers: Servers;
  /** The database's activity counters, for the rows that use PostgreSQL. */
  db: DbActivity | null;
}

export type ThroughputResult = RowRounds<Row, ThroughputRound>;

/** Every row, `repeats` rounds interleaved. */
export function measureThroughput(
  rows: readonly Row[],
  plan: ThroughputPlan,
  context: MeasureContext,
): Promise<ThroughputResult[]> {
  return runRounds(
    rows,
    {
      label: rowLabel,
      round: (row) => throughputRound(row, plan, context.servers, context.db),
      describe: (round) =>
        `${fmt((round.jobs * 1000) / round.totalMs)} jobs/s ${plan.workload === 'steady' ? 'end to end' : 'drained'}` +
        (round.latency ? `, complete p50 ${round.latency.complete.p50.toFixed(1)} ms` : ''),
    },
    context,
  );
}

/** Medians over the rounds of one row. */
export interface ThroughputSummary {
  jobs: number;
  enqueuePerSecond: number;
  /** steady: end to end; backlog: drain rate. */
  completedPerSecond: number;
  totalMs: number;
  perJob: UsagePer | null;
  latency: LatencyResult | null;
}

export function summarize(result: ThroughputResult): ThroughputSummary {
  const rounds = result.rounds;
  const latencies = rounds.flatMap((round) => (round.latency ? [round.latency] : []));
  return {
    jobs: rounds[0]?.jobs ?? 0,
    enqueuePerSecond: median(rounds.map((round) => (round.jobs * 1000) / round.enqueueMs)),
    completedPerSecond: median(rounds.map((round) => (round.jobs * 1000) / round.totalMs)),
    totalMs: median(rounds.map((round) => round.totalMs)),
    perJob: medianUsagePer(rounds.map((round) => usagePer(round.usage, round.jobs))),
    latency:
      latencies.length === 0
        ? null
        : {
            jobs: latencies[0]!.jobs,
            start: medianPercentiles(latencies.map((latency) => latency.start)),
            complete: medianPercentiles(latencies.map((latency) => latency.complete)),
          },
  };
}

/** Throws when a row did not record every job it was given as succeeded. */
export function checkAllSucceeded(results: readonly ThroughputResult[]): void {
  for (const { row, rounds } of results) {
    for (const round of rounds) {
      if (round.succeeded !== round.submitted)
        throw new Error(
          `${rowLabel(row)}: ${round.succeeded} of ${round.submitted} jobs recorded as succeeded`,
        );
    }
  }
}
