import { Queue, QueueEvents, Worker } from 'bullmq';
import type { Contender, Instance, StartOptions } from '../types.js';

const QUEUE = 'noop';

export function bullmqContender(): Contender {
  return {
    name: 'BullMQ 5.81.5 (Redis)',
    requires: ['redis'],
    setup:
      'BullMQ Queue + Worker({ concurrency }) + QueueEvents on the local Redis, a fresh key prefix, defaults otherwise (completed jobs kept); submit = queue.add()',
    completion: 'job.waitUntilFinished(queueEvents) (Redis stream events)',
    start: startBullmq,
  };
}

async function startBullmq(options: StartOptions): Promise<Instance> {
  const url = new URL(options.servers.redisUrl);
  const connection = {
    host: url.hostname,
    port: Number(url.port || 6379),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
  };
  const prefix = `jobs-bench-${options.runId}`;
  const errors: unknown[] = [];
  const queue = new Queue(QUEUE, { connection, prefix });
  const events = new QueueEvents(QUEUE, { connection, prefix });
  const worker = new Worker(
    QUEUE,
    async (job) => {
      options.onStart((job.data as { seq: number }).seq);
      return {};
    },
    { connection, prefix, concurrency: options.concurrency },
  );
  const onError = (error: Error) => errors.push(error);
  queue.on('error', onError);
  events.on('error', onError);
  worker.on('error', onError);
  const close = async () => {
    try {
      await worker.close();
      await events.close();
      await queue.obliterate({ force: true });
    } finally {
      await queue.close();
    }
  };
  try {
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady(), worker.waitUntilReady()]);
  } catch (error) {
    await close().catch(() => {});
    throw error;
  }

  return {
    async submit(seq) {
      const job = await queue.add(QUEUE, { seq });
      if (!job.id) throw new Error('BullMQ add() returned no id');
      return job.id;
    },
    async awaitCompletion(id) {
      const job = await queue.getJob(id);
      if (!job) throw new Error(`BullMQ job ${id} not found`);
      await job.waitUntilFinished(events, 30_000);
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
    succeeded: () => queue.getCompletedCount(),
    async close() {
      await close();
      if (errors.length > 0)
        throw new AggregateError(
          errors,
          `BullMQ reported ${errors.length} error(s), the first: ${String(errors[0])}`,
        );
    },
  };
}
