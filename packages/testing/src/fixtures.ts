// Fixtures for tests of HTTP front ends and clients: a `task` endpoint whose jobs the test drives step by
// step, and the gates that release those steps. Runtime-neutral (no HTTP framework, no Node module).
import { defineEndpoint, type EndpointParsedInput, implement, JobFailedError, type Worker } from '@jobs/core';
import { z } from 'zod';

/** Step permits per tag: a worker's step waits until the test releases it (or its signal aborts). */
export class Gates {
  readonly #permits = new Map<string, number>();
  readonly #waiters = new Map<string, Array<() => void>>();

  /** Lets `steps` steps of the jobs tagged `tag` run: waiting ones at once, later ones when they get there. */
  release(tag: string, steps = 1): void {
    for (let i = 0; i < steps; i++) {
      const waiter = this.#waiters.get(tag)?.shift();
      if (waiter) waiter();
      else this.#permits.set(tag, (this.#permits.get(tag) ?? 0) + 1);
    }
  }

  /** Resolves when a step of `tag` is released; rejects with the signal's reason when it aborts first. */
  async step(tag: string, signal: AbortSignal): Promise<void> {
    const permits = this.#permits.get(tag) ?? 0;
    if (permits > 0) {
      this.#permits.set(tag, permits - 1);
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const done = () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        const list = this.#waiters.get(tag) ?? [];
        this.#waiters.set(
          tag,
          list.filter((waiter) => waiter !== done),
        );
        reject(signal.reason);
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiters.set(tag, [...(this.#waiters.get(tag) ?? []), done]);
    });
  }
}

const taskInput = z.object({
  tag: z.string().min(1),
  steps: z.number().int().min(0).max(10).default(0),
  fail: z.boolean().default(false),
});
const taskOutput = z.object({ tag: z.string(), steps: z.number().int() });

export interface TaskEndpointOptions {
  /** Jobs of the endpoint one worker host runs at once. Default: the endpoint default. */
  concurrency?: number;
}

/**
 * The `task` endpoint: a job runs `steps` steps (0–10), each released by the test with
 * `gates.release(tag)` and followed by a progress report, then fails if `fail` is set (not retried:
 * `maxAttempts` 1) or answers `{ tag, steps }`. Implement it with {@link implementTask}.
 */
export function defineTaskEndpoint(options: TaskEndpointOptions = {}) {
  return defineEndpoint({
    name: 'task',
    description: 'Runs the steps the test releases.',
    input: taskInput,
    output: taskOutput,
    maxAttempts: 1,
    ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
  });
}

export type TaskEndpoint = ReturnType<typeof defineTaskEndpoint>;

export interface ImplementTaskOptions {
  /** The job's expected duration in milliseconds (its ETA, hence `Retry-After`). Default: none. */
  estimate?: (input: EndpointParsedInput<TaskEndpoint>) => number;
}

/** The worker of a {@link defineTaskEndpoint} endpoint, its steps released through `gates`. */
export function implementTask(
  endpoint: TaskEndpoint,
  gates: Gates,
  options: ImplementTaskOptions = {},
): Worker<TaskEndpoint> {
  return implement(endpoint, {
    ...(options.estimate ? { estimate: options.estimate } : {}),
    run: async (input, ctx) => {
      for (let i = 0; i < input.steps; i++) {
        await gates.step(input.tag, ctx.signal);
        ctx.progress((i + 1) / input.steps, `step ${i + 1} of ${input.steps}`);
      }
      if (input.fail) throw new JobFailedError('The task was told to fail.', { retryable: false });
      return { tag: input.tag, steps: input.steps };
    },
  });
}
