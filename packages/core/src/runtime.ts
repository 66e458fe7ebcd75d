import type { Endpoint } from './endpoint.js';
import { createWorkerHost, type WorkerHost, type WorkerHostOptions } from './host.js';
import type { JobQueue } from './queue.js';
import type { JobRepository } from './repository.js';
import { createJobService, type JobService, type JobServiceOptions } from './service.js';
import { createSweeper, type Sweeper, type SweeperOptions } from './sweeper.js';
import type { Logger } from './util.js';
import type { Worker } from './worker.js';

export interface JobsRuntimeOptions {
  repository: JobRepository;
  queue: JobQueue;
  /** Endpoints served by the JobService; defaults to the workers' endpoints. */
  endpoints?: readonly Endpoint[];
  /** Workers run in this process; none for an API-only process. */
  workers?: readonly Worker<any>[];
  service?: Omit<JobServiceOptions, 'repository' | 'queue' | 'endpoints' | 'workers' | 'logger'>;
  /**
   * Worker host options, or false for a process that must not run the workers it is given: an API process
   * passes its workers with `host: false` so that DELETE and expiry still run their `cleanup`.
   */
  host?: Omit<WorkerHostOptions, 'repository' | 'queue' | 'workers' | 'logger'> | false;
  /** Sweeper options, or false for a process that must not sweep. */
  sweeper?: Omit<SweeperOptions, 'repository' | 'queue' | 'workers' | 'logger'> | false;
  logger?: Logger;
}

export interface JobsRuntime {
  service: JobService;
  host: WorkerHost | null;
  sweeper: Sweeper | null;
  start(): Promise<void>;
  /** Stops the host gracefully and the sweeper; does not close the repository or the queue. */
  stop(options?: { timeoutMs?: number }): Promise<void>;
}

/** Service + worker host + sweeper over one repository and queue: the usual shape of a process. */
export function createJobsRuntime(options: JobsRuntimeOptions): JobsRuntime {
  const workers = options.workers ?? [];
  const endpoints = options.endpoints ?? workers.map((worker) => worker.endpoint);
  const common = { repository: options.repository, queue: options.queue, logger: options.logger };
  const service = createJobService({ ...common, ...options.service, endpoints, workers });
  const host =
    workers.length > 0 && options.host !== false
      ? createWorkerHost({ ...common, ...options.host, workers })
      : null;
  const sweeper =
    options.sweeper === false
      ? null
      : createSweeper({
          ...common,
          endpoints: endpoints.map((endpoint) => endpoint.name),
          ...options.sweeper,
          workers,
        });
  return {
    service,
    host,
    sweeper,
    async start() {
      await host?.start();
      sweeper?.start();
    },
    async stop(stopOptions) {
      await sweeper?.stop();
      await host?.stop(stopOptions);
      await service.close();
    },
  };
}
