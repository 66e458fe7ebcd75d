import { Queue, QueueEvents, Worker, type WorkerOptions } from 'bullmq';
import { runAll, throwReported } from '../support.js';
import type { StartContender } from '../types.js';

/**
 * BullMQ 5 (docs: docs.bullmq.io guide "Workers → Concurrency", "Workers → Auto-removal of jobs", "Going to
 * production → Auto-job removal"). `defaults`: Worker({ concurrency }) and nothing else, so every completed
 * job is kept. `tuned`: finished jobs removed automatically, keeping the last 1,000 completed and 5,000
 * failed, as its production guide recommends.
 */
const QUEUE = 'noop';

const WORKER_OPTIONS: Record<string, Partial<WorkerOptions>> = {
  defaults: {},
  tuned: { removeOnComplete: { count: 1000 }, removeOnFail: { count: 5000 } },
};

export const start: StartContender = async (variant, options) => {
  const workerOptions = WORKER_OPTIONS[variant];
  if (!workerOptions) throw new Error(`Unknown BullMQ variant ${variant}`);
  const url = new URL(options.servers.redisUrl);
  const connection = {
    host: url.hostname,
    port: Number(url.port || 6379),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
  };
  const prefix = `jobs-bench-${options.runId}`;
  const errors: unknown[] = [];
  const onError = (error: Error) => errors.push(error);
  const queue = new Queue(QUEUE, { connection, prefix });
  const events = new QueueEvents(QUEUE, { connection, prefix });
  queue.on('error', onError);
  events.on('error', onError);
  // Completion as the submitter sees it: the QueueEvents stream. Ids seen completed before anyone waits are
  // remembered, so a job that completes between add() and the wait is not missed.
  const completed = new Set<string>();
  const waiting = new Map<string, () => void>();
  events.on('completed', ({ jobId }) => {
    const resolve = waiting.get(jobId);
    if (resolve) {
      waiting.delete(jobId);
      resolve();
    } else completed.add(jobId);
  });
  let worker: Worker | null = null;
  let succeeded = 0;
  const close = () =>
    runAll(
      [
        async () => await worker?.close(),
        () => events.close(),
        () => queue.obliterate({ force: true }),
        () => queue.close(),
      ],
      'BullMQ close',
    );
  try {
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
  } catch (error) {
    await close().catch(() => {});
    throw error;
  }

  return {
    async startWorkers() {
      worker = new Worker(
        QUEUE,
        async (job) => {
          options.onStart((job.data as { seq: number }).seq);
          return {};
        },
        { connection, prefix, concurrency: options.concurrency, ...workerOptions },
      );
      worker.on('error', onError);
      worker.on('completed', () => {
        succeeded++;
      });
      await worker.waitUntilReady();
    },
    async submit(seq) {
      const job = await queue.add(QUEUE, { seq });
      if (!job.id) throw new Error('BullMQ add() returned no id');
      return job.id;
    },
    awaitCompletion(id) {
      if (completed.delete(id)) return Promise.resolve();
      return new Promise<void>((resolve) => waiting.set(id, resolve));
    },
    async pending() {
      const counts = await queue.getJobCounts(
        'waiting',
        'active',
        'delayed',
        'prioritized',
        'waiting-children',
      );
      return Object.values(counts).reduce((sum, n) => sum + n, 0);
    },
    // Completed jobs are removed in the tuned setup: count the worker's completion events (recorded in Redis
    // by then), and check them against the store's count where it keeps them.
    async succeeded() {
      if (variant === 'defaults') {
        const stored = await queue.getCompletedCount();
        if (stored !== succeeded)
          throw new Error(`BullMQ stored ${stored} completed jobs, the worker saw ${succeeded}`);
      }
      return succeeded;
    },
    async close() {
      await close();
      throwReported('BullMQ', errors);
    },
  };
};
