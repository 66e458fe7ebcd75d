import { randomBytes } from 'node:crypto';
import { cpuBetween, sampleCpu } from './cpu.js';
import { median, medianPercentiles, percentiles } from './stats.js';
import { delay } from './support.js';
import type {
  Contender,
  CpuPerJob,
  Instance,
  LatencyResult,
  ProfileReport,
  Servers,
  ThroughputResult,
} from './types.js';

export interface BenchOptions {
  servers: Servers;
  /** Jobs per throughput run. */
  jobs: number;
  /** Sequential jobs per latency run. */
  latencyJobs: number;
  /** Worker concurrency, the same for every contender. */
  concurrency: number;
  /** PostgreSQL pool size of every PostgreSQL-based contender. */
  poolSize: number;
  /** Submits in flight at once during the throughput run (client-side parallelism). */
  producers: number;
  /** Rounds: each round starts every contender afresh and measures it once; the median is reported. */
  repeats: number;
  /** Jobs of the discarded warm-up throughput run of each round (and a tenth of it, at least 10, for latency). */
  warmupJobs: number;
  /** Skip the latency measurement. */
  skipLatency?: boolean;
  /** Collect per-operation counts (jobs contenders only) during the measured throughput runs. */
  profile?: boolean;
  /** A throughput run fails when no job completes for this long. Default 60 s. */
  stallTimeoutMs?: number;
  log?: (line: string) => void;
  /**
   * A round that fails (a server restarted by someone else, a lost connection) is run again this many times,
   * after a pause; the failure is listed in the result. Default 0: fail at once.
   */
  retries?: number;
  /** Called before each contender starts (e.g. to wait until the machine is idle). */
  beforeEach?: (contender: Contender) => Promise<void>;
}

export interface ContenderResult {
  contender: Contender;
  throughput: ThroughputResult;
  throughputRuns: ThroughputResult[];
  latency: LatencyResult | null;
  latencyRuns: LatencyResult[];
  /** Jobs the store recorded as succeeded at the end, and how many were submitted in all. */
  succeeded: number;
  submitted: number;
  profile: ProfileReport | null;
  /** Rounds that failed and were run again, with the error. */
  retried: string[];
}

interface RoundResult {
  throughput: ThroughputResult;
  latency: LatencyResult | null;
  succeeded: number;
  submitted: number;
  profile: ProfileReport | null;
}

/**
 * Runs the contenders in rounds: in each round every contender in turn is started (fresh schema / queue /
 * prefix), warmed up, measured once and closed before the next one starts. Interleaving the repetitions this
 * way spreads a slow period of a shared machine over all contenders instead of one.
 */
export async function runBench(
  contenders: readonly Contender[],
  options: BenchOptions,
): Promise<ContenderResult[]> {
  const rounds = contenders.map(() => [] as RoundResult[]);
  const retried = contenders.map(() => [] as string[]);
  for (let round = 1; round <= options.repeats; round++) {
    for (const [index, contender] of contenders.entries()) {
      for (let attempt = 0; ; attempt++) {
        await options.beforeEach?.(contender);
        try {
          rounds[index]!.push(await runRound(contender, options, round));
          break;
        } catch (error) {
          if (attempt >= (options.retries ?? 0)) throw error;
          const note = `round ${round} failed (${error instanceof Error ? error.message : String(error)}) and was run again`;
          retried[index]!.push(note);
          options.log?.(`${contender.name}: ${note} in 15 s`);
          await delay(15_000);
        }
      }
    }
  }
  return contenders.map((contender, index) => ({
    ...summarize(contender, rounds[index]!, options),
    retried: retried[index]!,
  }));
}

/** All the rounds of one contender, one after the other. */
export async function runContender(contender: Contender, options: BenchOptions): Promise<ContenderResult> {
  const rounds: RoundResult[] = [];
  for (let round = 1; round <= options.repeats; round++)
    rounds.push(await runRound(contender, options, round));
  return { ...summarize(contender, rounds, options), retried: [] };
}

async function runRound(contender: Contender, options: BenchOptions, round: number): Promise<RoundResult> {
  const log = options.log ?? (() => {});
  const label = `${contender.name} [${round}/${options.repeats}]`;
  const runId = `${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const starts = new Map<number, number>();
  let seq = 0;
  const take = (count: number) => {
    const seqs = Array.from({ length: count }, (_, i) => seq + i);
    seq += count;
    return seqs;
  };
  const instance = await contender.start({
    servers: options.servers,
    concurrency: options.concurrency,
    poolSize: options.poolSize,
    runId,
    onStart: (n) => {
      if (!starts.has(n)) starts.set(n, performance.now());
    },
  });
  let closed = false;
  try {
    await throughputRun(instance, take(options.warmupJobs), options);
    instance.profiler?.reset();
    const throughput = await throughputRun(instance, take(options.jobs), options);
    log(
      `${label}: throughput: enqueue ${throughput.enqueuePerSecond.toFixed(0)}/s, end-to-end ${throughput.endToEndPerSecond.toFixed(0)}/s`,
    );
    const profile = options.profile ? (instance.profiler?.report(options.jobs) ?? null) : null;

    let latency: LatencyResult | null = null;
    if (!options.skipLatency) {
      await latencyRun(instance, take(Math.max(10, Math.round(options.warmupJobs / 10))), starts);
      latency = await latencyRun(instance, take(options.latencyJobs), starts);
      log(
        `${label}: latency: start p50 ${latency.start.p50.toFixed(1)} ms, complete p50 ${latency.complete.p50.toFixed(1)} ms`,
      );
    }
    const succeeded = await instance.succeeded();
    closed = true;
    await instance.close();
    return { throughput, latency, succeeded, submitted: seq, profile };
  } finally {
    if (!closed) await instance.close().catch(() => {});
  }
}

function summarize(
  contender: Contender,
  rounds: RoundResult[],
  options: BenchOptions,
): Omit<ContenderResult, 'retried'> {
  const throughputRuns = rounds.map((round) => round.throughput);
  const latencyRuns = rounds.flatMap((round) => (round.latency ? [round.latency] : []));
  return {
    contender,
    throughput: {
      jobs: options.jobs,
      enqueuePerSecond: median(throughputRuns.map((run) => run.enqueuePerSecond)),
      endToEndPerSecond: median(throughputRuns.map((run) => run.endToEndPerSecond)),
      totalMs: median(throughputRuns.map((run) => run.totalMs)),
      cpuPerJob: medianCpu(throughputRuns.map((run) => run.cpuPerJob)),
    },
    throughputRuns,
    latency:
      latencyRuns.length === 0
        ? null
        : {
            jobs: options.latencyJobs,
            start: medianPercentiles(latencyRuns.map((run) => run.start)),
            complete: medianPercentiles(latencyRuns.map((run) => run.complete)),
          },
    latencyRuns,
    succeeded: rounds.reduce((sum, round) => sum + round.succeeded, 0),
    submitted: rounds.reduce((sum, round) => sum + round.submitted, 0),
    profile: mergeProfiles(rounds.flatMap((round) => (round.profile ? [round.profile] : []))),
  };
}

function mergeProfiles(profiles: ProfileReport[]): ProfileReport | null {
  if (profiles.length === 0) return null;
  const entries = new Map<string, { calls: number; totalMs: number }>();
  for (const profile of profiles) {
    for (const entry of profile.entries) {
      const sum = entries.get(entry.operation) ?? { calls: 0, totalMs: 0 };
      sum.calls += entry.calls;
      sum.totalMs += entry.totalMs;
      entries.set(entry.operation, sum);
    }
  }
  return {
    jobs: profiles.reduce((sum, profile) => sum + profile.jobs, 0),
    entries: [...entries.entries()]
      .map(([operation, sum]) => ({ operation, ...sum }))
      .sort((a, b) => a.operation.localeCompare(b.operation)),
  };
}

function medianCpu(runs: ReadonlyArray<CpuPerJob | null>): CpuPerJob | null {
  const samples = runs.filter((run): run is CpuPerJob => run !== null);
  if (samples.length === 0) return null;
  const of = (key: keyof CpuPerJob) => median(samples.map((sample) => sample[key]));
  return {
    bench: of('bench'),
    postgres: of('postgres'),
    rabbitmq: of('rabbitmq'),
    redis: of('redis'),
    othersPercent: of('othersPercent'),
  };
}

/**
 * Submits every job with `producers` submits in flight, while the workers already run; then waits until the
 * store holds no pending job. Completion is polled every 20 ms (≤ 20 ms added to a run of seconds).
 */
async function throughputRun(
  instance: Instance,
  seqs: number[],
  options: BenchOptions,
): Promise<ThroughputResult> {
  const before = await instance.pending();
  if (before !== 0) throw new Error(`${before} jobs still pending before a throughput run`);
  const cpuBefore = sampleCpu();
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(options.producers, seqs.length) }, async () => {
      while (next < seqs.length) await instance.submit(seqs[next++]!);
    }),
  );
  const enqueued = performance.now();
  const stallTimeoutMs = options.stallTimeoutMs ?? 60_000;
  let last = Number.POSITIVE_INFINITY;
  let lastChange = performance.now();
  for (;;) {
    const pending = await instance.pending();
    if (pending === 0) break;
    if (pending < last) {
      last = pending;
      lastChange = performance.now();
    } else if (performance.now() - lastChange > stallTimeoutMs) {
      throw new Error(`No progress for ${stallTimeoutMs} ms with ${pending} jobs pending`);
    }
    await delay(20);
  }
  const done = performance.now();
  const cpu = cpuBetween(cpuBefore, sampleCpu(), done - started);
  const perJob = (ms: number) => ms / seqs.length;
  return {
    jobs: seqs.length,
    enqueuePerSecond: (seqs.length * 1000) / (enqueued - started),
    endToEndPerSecond: (seqs.length * 1000) / (done - started),
    totalMs: done - started,
    cpuPerJob: cpu && {
      bench: perJob(cpu.bench),
      postgres: perJob(cpu.postgres),
      rabbitmq: perJob(cpu.rabbitmq),
      redis: perJob(cpu.redis),
      othersPercent: (100 * cpu.others) / cpu.wallMs,
    },
  };
}

/** One job at a time on an idle system, with a random 5–25 ms pause between jobs (no phase lock with pollers). */
async function latencyRun(
  instance: Instance,
  seqs: number[],
  starts: Map<number, number>,
): Promise<LatencyResult> {
  const start: number[] = [];
  const complete: number[] = [];
  for (const seq of seqs) {
    await delay(5 + Math.random() * 20);
    const submitted = performance.now();
    const handle = await instance.submit(seq);
    await instance.awaitCompletion(handle);
    const completed = performance.now();
    const workerStart = starts.get(seq);
    if (workerStart === undefined) throw new Error(`job ${seq} completed but its handler never started`);
    start.push(workerStart - submitted);
    complete.push(completed - submitted);
  }
  return { jobs: seqs.length, start: percentiles(start), complete: percentiles(complete) };
}
