import type { Endpoint, EndpointOutput, EndpointParsedInput } from './endpoint.js';
import type { JobHeader } from './types.js';

export interface WorkerContext {
  /** Aborts on cancel, on the endpoint's timeout, on a lost lease and on a shutdown past its bound. */
  signal: AbortSignal;
  /** The job header as it was when this run started. */
  job: JobHeader;
  /** 1 on the first run. */
  attempt: number;
  /** Reports progress (0 to 1) with an optional message; stored throttled, so call it as often as you like. */
  progress(fraction: number, message?: string): void;
}

export type WorkerFunction<E extends Endpoint> = (
  input: EndpointParsedInput<E>,
  context: WorkerContext,
) => Promise<EndpointOutput<E>> | EndpointOutput<E>;

export interface WorkerOptions<E extends Endpoint> {
  run: WorkerFunction<E>;
  /** Expected duration in milliseconds, for the job's ETA before it reports progress. */
  estimate?: (input: EndpointParsedInput<E>) => number | undefined;
  /** Frees what a succeeded job stored elsewhere, when the job is deleted or expires. */
  cleanup?: (args: {
    input: EndpointParsedInput<E>;
    output: EndpointOutput<E>;
    job: JobHeader;
  }) => Promise<void> | void;
  /** Overrides the endpoint's concurrency for this worker host. */
  concurrency?: number;
}

export interface Worker<E extends Endpoint = Endpoint> extends WorkerOptions<E> {
  endpoint: E;
}

/** Binds user code to an endpoint: `implement(resize, async (input, ctx) => output)`. */
export function implement<E extends Endpoint>(
  endpoint: E,
  worker: WorkerFunction<E> | WorkerOptions<E>,
): Worker<E> {
  const options = typeof worker === 'function' ? { run: worker } : worker;
  if (typeof options.run !== 'function')
    throw new TypeError(`Worker for ${endpoint.name} needs a run function.`);
  return { endpoint, ...options };
}
