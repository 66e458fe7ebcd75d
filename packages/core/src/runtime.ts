import { CleanupRunner, type CleanupRunnerOptions } from './cleanup.js';
import { Dispatcher, type DispatcherOptions } from './dispatcher.js';
import type { Endpoint } from './endpoint.js';
import { createWorkerHost, type WorkerHost, type WorkerHostOptions } from './host/host.js';
import type { Logger } from './logger.js';
import { ChangeNotifier } from './notifier.js';
import type { JobQueue } from './queue.js';
import type { JobRepository } from './repository.js';
import type { Schedule } from './schedule.js';
import { Scheduler, type SchedulerOptions } from './scheduler.js';
import { createJobService, type JobService, type JobServiceOptions } from './service.js';
import { createSweeper, type Sweeper, type SweeperOptions } from './sweeper.js';
import { Telemetry, type TelemetryOptions } from './telemetry.js';
import type { Worker } from './worker.js';

type Wired = 'repository' | 'queue' | 'notifier' | 'logger' | 'telemetry';

/**
 * `meterProvider`, `tracerProvider` (default: the global ones of `@opentelemetry/api`, when the app installed it)
 * and `queuedRefreshMs` come from `TelemetryOptions`: see the README's "Telemetry".
 */
export interface JobsRuntimeOptions extends TelemetryOptions {
  repository: JobRepository;
  queue: JobQueue;
  /** Endpoints served by the JobService; defaults to the workers' endpoints. */
  endpoints?: readonly Endpoint[];
  /** Workers run in this process; none for an API-only process. */
  workers?: readonly Worker<any>[];
  service?: Omit<JobServiceOptions, Wired | 'endpoints' | 'onCreated' | 'onRemoved' | 'onRetried'>;
  /**
   * Worker host options, or false for a process that must not run the workers it is given: an API process
   * may pass its workers with `host: false` so that it runs their cleanups too.
   */
  host?: Omit<WorkerHostOptions, Wired | 'workers'> | false;
  /** Dispatcher options, or false for a process that must not hand jobs to the queue. */
  dispatcher?: Omit<DispatcherOptions, Wired> | false;
  /** Sweeper options, or false for a process that must not sweep. */
  sweeper?: Omit<SweeperOptions, Wired | 'onExpired'> | false;
  /** Cleanup runner options, or false for a process that must not run worker cleanups. */
  cleanup?: Omit<CleanupRunnerOptions, 'repository' | 'workers' | 'logger'> | false;
  /**
   * Recurring schedules (`defineSchedule`) of the endpoints served here: listed by the service, and their
   * occurrences submitted by this process's scheduler, each once however many processes run it.
   */
  schedules?: readonly Schedule[];
  /** Scheduler options, or false for a process that lists the schedules but must not submit them. */
  scheduler?: Omit<SchedulerOptions, Wired | 'service' | 'schedules'> | false;
  logger?: Logger;
}

export interface JobsRuntime {
  service: JobService;
  host: WorkerHost | null;
  dispatcher: Dispatcher | null;
  sweeper: Sweeper | null;
  cleanup: CleanupRunner | null;
  scheduler: Scheduler | null;
  start(): Promise<void>;
  /**
   * Stops the host gracefully (its unfinished jobs are released and dispatched again), then the dispatcher,
   * sweeper and cleanup runner; does not close the repository or the queue.
   */
  stop(options?: { timeoutMs?: number }): Promise<void>;
}

/** Service + worker host + dispatcher + sweeper + cleanup runner over one repository and queue: a process. */
export function createJobsRuntime(options: JobsRuntimeOptions): JobsRuntime {
  const workers = options.workers ?? [];
  const endpoints = options.endpoints ?? workers.map((worker) => worker.endpoint);
  const { repository, queue, logger } = options;
  const notifier = new ChangeNotifier(repository, logger);
  const telemetry = new Telemetry({
    meterProvider: options.meterProvider,
    tracerProvider: options.tracerProvider,
    queuedRefreshMs: options.queuedRefreshMs,
    repository,
    endpoints: [...new Set([...endpoints, ...workers.map((worker) => worker.endpoint)].map((e) => e.name))],
    ...(logger ? { logger } : {}),
  });
  telemetry.system = queue.messagingSystem;
  const common = { repository, queue, notifier, logger, telemetry };
  const known = new Map([...endpoints, ...workers.map((worker) => worker.endpoint)].map((e) => [e.name, e]));
  const dispatchAhead = new Map(
    [...known.values()].flatMap((e) =>
      e.dispatchAhead === null ? [] : [[e.name, e.dispatchAhead] as const],
    ),
  );
  const limits = new Map(
    [...known.values()].flatMap((e) => (e.limits === null ? [] : [[e.name, e.limits] as const])),
  );
  const dispatcher =
    options.dispatcher === false
      ? null
      : new Dispatcher({
          ...common,
          ...(dispatchAhead.size > 0 ? { dispatchAhead } : {}),
          ...(limits.size > 0 ? { limits } : {}),
          ...options.dispatcher,
        });
  const cleanupRunner =
    options.cleanup === false ? null : new CleanupRunner({ repository, workers, logger, ...options.cleanup });
  const cleanup = cleanupRunner?.active ? cleanupRunner : null;
  const schedules = options.schedules ?? [];
  const service = createJobService({
    ...common,
    ...options.service,
    endpoints,
    schedules,
    ...(options.scheduler ? { clock: options.scheduler.clock } : {}),
    onCreated: (job) => dispatcher?.submitted(job.id),
    onRemoved: () => cleanup?.wake(),
    onRetried: (job) => dispatcher?.submitted(job.id),
  });
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
          dispatchAhead,
          limits,
          ...options.sweeper,
          onExpired: () => cleanup?.wake(),
        });
  const scheduler =
    options.scheduler === false || schedules.length === 0
      ? null
      : new Scheduler({ repository, logger, ...options.scheduler, service, schedules });
  return {
    service,
    host,
    dispatcher,
    sweeper,
    cleanup,
    scheduler,
    async start() {
      await telemetry.ready;
      await host?.start();
      dispatcher?.start();
      sweeper?.start();
      cleanup?.start();
      scheduler?.start();
    },
    async stop(stopOptions) {
      await scheduler?.stop();
      await sweeper?.stop();
      await host?.stop(stopOptions);
      if (dispatcher) {
        await dispatcher.stop();
        // The jobs the host released are handed out now, while the queue is still open.
        await dispatcher.flush();
      }
      await cleanup?.stop();
      await service.close();
      await notifier.close();
      await telemetry.close();
    },
  };
}
