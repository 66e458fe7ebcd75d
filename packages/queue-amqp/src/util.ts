import { within, withTimeout } from '@jobs/core';
import type { Channel, ChannelModel, ConfirmChannel } from 'amqplib';

/** Resolves every current waiter when something changed (connection, channel, flow control). */
export class Signal {
  readonly #waiters = new Set<() => void>();

  notify(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
  }

  /** Resolves on the next `notify`, or after `ms`. */
  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      // A waiter never keeps the process alive by itself (sockets and backoff timers do while they matter).
      unref(timer);
      this.#waiters.add(done);
    });
  }
}

/** Exponential backoff with jitter: attempt 1 waits about initialMs, doubling up to maxMs, each 50–100 %. */
export function reconnectDelay(
  attempt: number,
  options: { initialMs: number; maxMs: number },
  random = Math.random,
): number {
  const base = Math.min(options.maxMs, options.initialMs * 2 ** Math.max(0, Math.min(attempt - 1, 30)));
  return Math.round(base * (0.5 + 0.5 * random()));
}

export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/** The AMQP reply code of a channel or connection error (406 PRECONDITION_FAILED, 404 NOT_FOUND, ...). */
export function replyCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** Closes a channel or connection, ignoring that it is already closed or closing; bounded in time. */
export async function closeQuietly(
  target: Channel | ConfirmChannel | ChannelModel,
  timeoutMs = 2_000,
): Promise<void> {
  // A rejection means it was already closed, or the connection went away: nothing left to close.
  await within(
    Promise.resolve().then(() => target.close()),
    timeoutMs,
    undefined,
  ).catch(() => {});
}

/** Runs `fn` on a short-lived channel of its own, so a channel error it provokes harms nothing else. */
export async function withChannel<T>(
  connection: ChannelModel,
  fn: (channel: Channel) => Promise<T>,
): Promise<T> {
  const channel = await connection.createChannel();
  channel.on('error', () => {
    // reported through the rejected operation
  });
  try {
    return await fn(channel);
  } finally {
    void closeQuietly(channel);
  }
}

export class TimeoutError extends Error {}

/** Races `promise` against a deadline (epoch ms); rejects with TimeoutError when it passes. */
export function beforeDeadline<T>(promise: Promise<T>, deadline: number, what: string): Promise<T> {
  return withTimeout(
    promise,
    Math.max(0, deadline - Date.now()),
    () => new TimeoutError(`${what} timed out`),
  );
}

export function unref(timer: ReturnType<typeof setTimeout>): void {
  (timer as { unref?: () => void }).unref?.();
}
