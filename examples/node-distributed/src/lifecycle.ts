import type { Logger } from '@jobs/core';

export interface GracefulOptions {
  logger: Logger;
  /** Runs once, on the first SIGTERM / SIGINT (or when the launcher that started this process goes away). */
  stop: (reason: string) => Promise<void>;
  /** If `stop` has not finished after this long, the process exits with code 1 anyway. */
  forceAfterMs: number;
}

/**
 * Graceful stop on SIGTERM and SIGINT: `stop` runs once, then the process exits 0 (1 if `stop` failed or
 * overran its bound). Further signals while stopping are acknowledged and ignored, so the SIGINT a terminal
 * sends to the whole process group and the SIGTERM of a supervisor do not cut the stop short.
 */
export function handleStopSignals(options: GracefulOptions): (reason: string) => void {
  let stopping = false;
  const begin = (reason: string) => {
    if (stopping) {
      options.logger.info({ reason }, 'already stopping');
      return;
    }
    stopping = true;
    options.logger.info({ reason }, 'stopping');
    const force = setTimeout(() => {
      options.logger.error({ boundMs: options.forceAfterMs }, 'graceful stop overran its bound; exiting');
      process.exit(1);
    }, options.forceAfterMs);
    force.unref();
    options.stop(reason).then(
      () => {
        options.logger.info({}, 'stopped');
        process.exit(0);
      },
      (error: unknown) => {
        options.logger.error({ error: String(error) }, 'graceful stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => begin('SIGTERM'));
  process.on('SIGINT', () => begin('SIGINT'));
  // Started by the cluster launcher (an IPC channel): stop when the launcher goes away, even if it was killed.
  if (process.channel) {
    process.channel.unref();
    process.on('disconnect', () => begin('launcher exited'));
  }
  return begin;
}

/** Tells the launcher (if any) that this process is ready; `details` travel with the message. */
export function announceReady(details: Record<string, unknown>): void {
  process.send?.({ type: 'ready', pid: process.pid, ...details });
}
