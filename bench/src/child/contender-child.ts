import type { Implementation } from '../contenders/index.js';
import type { ProfileReport } from '../profiler.js';
import { serveRpc } from '../rpc.js';
import type { ContenderSettings, HttpTarget, Instance, LatencyResult, StartContender } from '../types.js';
import { latencyRun, submitAll, type ThroughputTiming, throughputRun, waitUntilDone } from './drive.js';
import { Waiters, type WaitersReport } from './waiters.js';

/**
 * The child process of one contender: the orchestrator starts it (under the Node chosen for the row), calls
 * these methods over IPC, and measures the CPU of this process around the calls. Only this process imports
 * the library under test.
 */
const implementations: Record<Implementation, () => Promise<{ start: StartContender }>> = {
  jobs: () => import('../contenders/jobs.js'),
  'pg-boss': () => import('../contenders/pg-boss.js'),
  'graphile-worker': () => import('../contenders/graphile-worker.js'),
  bullmq: () => import('../contenders/bullmq.js'),
};

export interface StartRequest {
  implementation: Implementation;
  variant: string;
  settings: ContenderSettings;
}

let instance: Instance | null = null;
/** When each job's handler started, by sequence number. */
const starts = new Map<number, number>();
let nextSeq = 0;
/** The jobs queued by `submitBacklog`, for `startWaiters`. */
let backlog: string[] = [];
let waiters: Waiters | null = null;

function started(): Instance {
  if (!instance) throw new Error('no contender started');
  return instance;
}

function takeSeqs(count: number): number[] {
  const seqs = Array.from({ length: count }, (_, i) => nextSeq + i);
  nextSeq += count;
  return seqs;
}

const api = {
  async start(request: StartRequest): Promise<void> {
    if (instance) throw new Error('a contender is already started');
    const { start } = await implementations[request.implementation]();
    instance = await start(request.variant, {
      ...request.settings,
      onStart: (seq) => {
        if (!starts.has(seq)) starts.set(seq, performance.now());
      },
    });
  },
  startWorkers: async (): Promise<void> => started().startWorkers(),
  async throughput(request: {
    jobs: number;
    producers: number;
    stallTimeoutMs: number;
  }): Promise<ThroughputTiming> {
    return throughputRun(started(), takeSeqs(request.jobs), request.producers, request.stallTimeoutMs);
  },
  latency: async (request: { jobs: number }): Promise<LatencyResult> =>
    latencyRun(started(), takeSeqs(request.jobs), starts),
  /** Queues jobs while the workers are stopped; resolves with the milliseconds it took. */
  async submitBacklog(request: { jobs: number; producers: number }): Promise<number> {
    const begin = performance.now();
    backlog = await submitAll(started(), takeSeqs(request.jobs), request.producers);
    return performance.now() - begin;
  },
  /** Starts the workers on the backlog and waits until it is drained. */
  async drain(request: { stallTimeoutMs: number }): Promise<void> {
    await started().startWorkers();
    await waitUntilDone(started(), request.stallTimeoutMs);
  },
  async startWaiters(request: { waitSeconds: number }): Promise<void> {
    waiters = new Waiters(started(), backlog, request.waitSeconds);
  },
  async waitersReturned(): Promise<number> {
    return waiters?.returned ?? 0;
  },
  async stopWaiters(): Promise<WaitersReport> {
    if (!waiters) throw new Error('no waiters started');
    return waiters.stop();
  },
  resetProfile: async (): Promise<void> => started().profiler?.reset(),
  profile: async (request: { jobs: number }): Promise<ProfileReport | null> =>
    started().profiler?.report(request.jobs) ?? null,
  async counts(): Promise<{ submitted: number; succeeded: number }> {
    return { submitted: nextSeq, succeeded: await started().succeeded() };
  },
  async httpTarget(): Promise<HttpTarget> {
    const target = started().httpSubmit;
    if (!target) throw new Error('this contender has no HTTP submit endpoint');
    return target;
  },
  async close(): Promise<void> {
    const closing = started();
    instance = null;
    await closing.close();
  },
};

export type ContenderApi = typeof api;

// Left started when the orchestrator went away (interrupted, or it failed): drop what it created all the same.
serveRpc(api, async () => {
  if (instance) await api.close();
});
