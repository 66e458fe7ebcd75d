import type { Logger } from '@jobs/core';

/** Which of the two connections: publishes and consumers never share one (flow control blocks publishers only). */
export type ConnectionRole = 'publish' | 'consume';

/** What happens to the queue's connections, channels and consumers; for logs, metrics and health checks. */
export type AmqpQueueEvent =
  /**
   * A connection attempt starts. `address` is the broker URL tried, without credentials and query
   * (`amqp://rabbit-2:5672`); undefined when the `connection` option opens connections.
   */
  | { type: 'connecting'; role: ConnectionRole; address: string | undefined }
  | { type: 'connected'; role: ConnectionRole; address: string | undefined }
  /**
   * The connection was lost, or could not be opened. Next: an attempt on the next address, when other
   * addresses are left to try in this round, else `reconnecting` (unless the queue is closed).
   */
  | { type: 'disconnected'; role: ConnectionRole; address: string | undefined; error: string | undefined }
  /** Every address failed (or the connection was lost): the next round of attempts starts after `delayMs`. */
  | { type: 'reconnecting'; role: ConnectionRole; attempt: number; delayMs: number }
  /** The broker stopped reading from the connection (memory or disk alarm): publishes wait, then fail. */
  | { type: 'blocked'; role: ConnectionRole; reason: string }
  | { type: 'unblocked'; role: ConnectionRole }
  /**
   * A channel closed without the connection (e.g. a broker-side error), or the publish channel was replaced
   * after the broker nacked a message on it; it is opened again.
   */
  | { type: 'channel-closed'; role: ConnectionRole; endpoint: string | undefined; error: string | undefined }
  /** A consumer is attached to its queue: first time, and again after every reconnect or cancel. */
  | { type: 'consumer-attached'; endpoint: string }
  /** The broker cancelled a consumer (queue deleted, node failure); it is subscribed again. */
  | { type: 'consumer-cancelled'; endpoint: string }
  /** A message went to the dead-letter queue. */
  | {
      type: 'dead-lettered';
      endpoint: string;
      jobId: string | null;
      reason: 'unparseable' | 'delivery-limit';
      deliveries: number;
    }
  | { type: 'closed' };

export type AmqpQueueListener = (event: AmqpQueueEvent) => void;

/** Fans events out to listeners; a throwing listener is logged, never breaks the queue. */
export class EventHub {
  readonly #listeners = new Set<AmqpQueueListener>();
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  on(listener: AmqpQueueListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  emit(event: AmqpQueueEvent): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(event);
      } catch (error) {
        this.#logger.error({ event: event.type, error: String(error) }, 'amqp queue event listener threw');
      }
    }
  }
}
