/**
 * Worker process: consumes RabbitMQ, claims jobs in PostgreSQL under a lease, runs them, records results;
 * and sweeps (expiry, re-dispatch of lost messages, recovery of jobs whose worker died). Every part is safe
 * with many copies: run as many as the work needs.
 *
 *   DATABASE_URL=postgres://... AMQP_URL=amqp://... CONCURRENCY=8 pnpm worker
 */
import { createJobsRuntime } from '@jobs/core';
import { openBackends } from './backends.js';
import { ConfigError, readWorkerConfig, type WorkerConfig } from './config.js';
import { openExecutionLog } from './execution-log.js';
import { announceReady, handleStopSignals } from './lifecycle.js';
import { createLogger } from './logger.js';
import { setupTelemetry } from './telemetry.js';
import { createWorkers } from './workers.js';

async function main(config: WorkerConfig): Promise<void> {
  const logger = createLogger(config.logLevel, config.logFormat, config.name);
  const log = openExecutionLog(config.executionLog);
  // Before the runtime (it takes the global providers); with METRICS_PORT, Prometheus text at :METRICS_PORT/metrics.
  const telemetry = setupTelemetry(config.name, process.env);
  const backends = await openBackends(config, logger);
  const workers = createWorkers({ log, concurrency: config.concurrency });
  const runtime = createJobsRuntime({
    repository: backends.repository,
    queue: backends.queue,
    workers,
    host: {
      leaseMs: config.leaseMs,
      ...(config.heartbeatIntervalMs === null ? {} : { heartbeatIntervalMs: config.heartbeatIntervalMs }),
      shutdownTimeoutMs: config.shutdownTimeoutMs,
    },
    sweeper: {
      intervalMs: config.sweepIntervalMs,
      redispatchAfterMs: config.redispatchAfterMs,
    },
    dispatcher: { pollIntervalMs: config.dispatchPollMs },
    cleanup: { timeoutMs: config.cleanupTimeoutMs },
    logger,
  });

  // Installed before start: a signal that arrives while the consumers attach still stops cleanly.
  let started: Promise<void> | null = null;
  handleStopSignals({
    logger,
    // The host's own bound, plus time to record the released jobs and close the connections.
    forceAfterMs: config.shutdownTimeoutMs + 10_000,
    async stop(reason) {
      log.record({ type: 'stopping', pid: process.pid, at: Date.now(), signal: reason });
      await started?.catch(() => {});
      // Takes nothing new; in-flight jobs get the bound to finish, the rest are aborted and released.
      await runtime.stop({ timeoutMs: config.shutdownTimeoutMs });
      await backends.close();
      await telemetry.shutdown();
      log.close();
    },
  });

  started = runtime.start();
  await started;
  logger.info(
    {
      role: 'worker',
      endpoints: workers.map(
        (worker) => `${worker.endpoint.name}×${worker.concurrency ?? worker.endpoint.concurrency}`,
      ),
      leaseMs: config.leaseMs,
      schema: config.schema,
    },
    'ready',
  );
  announceReady({ role: 'worker' });
}

let config: WorkerConfig;
try {
  config = readWorkerConfig(process.env);
} catch (error) {
  console.error(error instanceof ConfigError ? `configuration: ${error.message}` : error);
  process.exit(2);
}
main(config).catch((error: unknown) => {
  console.error('worker process failed to start:', error instanceof Error ? error.message : error);
  process.exit(1);
});
