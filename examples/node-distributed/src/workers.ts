import { createHash } from 'node:crypto';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { type Endpoint, implement, type Worker, type WorkerContext, type WorkerOptions } from '@jobs/core';
import { digest, report, sleep } from './endpoints.js';
import { abortReason, type ExecutionLog } from './execution-log.js';

export interface WorkersOptions {
  /** Where every execution is recorded (start, finish, abort). */
  log: ExecutionLog;
  /** Overrides every endpoint's concurrency in this process. */
  concurrency?: number | null;
}

/** The worker side of every endpoint, each execution recorded in the execution log. */
export function createWorkers(options: WorkersOptions): Worker<any>[] {
  const concurrency = options.concurrency ?? undefined;
  return [
    recorded(options.log, sleep, {
      concurrency,
      estimate: (input) => input.ms,
      async run(input, ctx) {
        const started = Date.now();
        await delay(input.ms, ctx.signal);
        return { pid: process.pid, attempt: ctx.attempt, sleptMs: Date.now() - started };
      },
      // Stands for freeing what a job stored elsewhere; it runs in whichever worker process takes it.
      async cleanup({ input, job }) {
        const record = { type: 'cleanup', jobId: job.id, pid: process.pid } as const;
        options.log.record({ ...record, phase: 'start', at: Date.now() });
        await new Promise((resolve) => setTimeout(resolve, input.cleanupMs ?? 0));
        options.log.record({ ...record, phase: 'finish', at: Date.now() });
      },
    }),
    recorded(options.log, digest, {
      concurrency,
      async run(input, ctx) {
        const slice = 5_000;
        let value = Buffer.from(input.text, 'utf8');
        for (let done = 0; done < input.rounds; ) {
          const end = Math.min(input.rounds, done + slice);
          for (; done < end; done++) value = createHash(input.algorithm).update(value).digest();
          ctx.progress(done / input.rounds, `${done} of ${input.rounds} rounds`);
          await yieldToLoop();
          ctx.signal.throwIfAborted();
        }
        return { algorithm: input.algorithm, rounds: input.rounds, digest: value.toString('hex') };
      },
    }),
    recorded(options.log, report, {
      concurrency,
      estimate: (input) => input.ms,
      async run(input, ctx) {
        await delay(input.ms, ctx.signal);
        return { tenant: input.tenant, pid: process.pid };
      },
    }),
  ];
}

/** Wraps a worker so that each run writes `start`, then `finish` or `abort` records. */
function recorded<E extends Endpoint>(log: ExecutionLog, endpoint: E, worker: WorkerOptions<E>): Worker<E> {
  return implement(endpoint, {
    ...worker,
    async run(input, ctx: WorkerContext) {
      const base = { jobId: ctx.job.id, endpoint: endpoint.name, attempt: ctx.attempt, pid: process.pid };
      log.record({ type: 'start', ...base, at: Date.now() });
      // Recorded the moment the signal fires: this is the time a cancel or shutdown reached the running code.
      const onAbort = () =>
        log.record({ type: 'abort', ...base, at: Date.now(), reason: abortReason(ctx.signal) });
      if (ctx.signal.aborted) onAbort();
      else ctx.signal.addEventListener('abort', onAbort, { once: true });
      try {
        const output = await worker.run(input, ctx);
        log.record({ type: 'finish', ...base, at: Date.now() });
        return output;
      } finally {
        ctx.signal.removeEventListener('abort', onAbort);
      }
    },
  });
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
