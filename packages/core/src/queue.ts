import type { TraceContext } from './telemetry.js';

export interface QueueDelivery {
  endpoint: string;
  jobId: string;
  /** The broker delivered this message before (to this or another consumer). */
  redelivered: boolean;
  /** The W3C trace context the message carried (the dispatch span's); null or omitted: none. */
  traceContext?: TraceContext | null;
}

/** One job id for one endpoint's queue. */
export interface QueueMessage {
  endpoint: string;
  jobId: string;
  /**
   * W3C trace context of the dispatch span (`traceparent`, `tracestate`): an adapter carries it with the message
   * (AMQP: message headers of those names) and hands it back on the delivery. Omitted or null: none.
   */
  traceContext?: TraceContext | null;
}

/**
 * Handles one delivery. Resolving means "done with this message" (acknowledge); rejecting means
 * "could not handle it now" (the adapter delivers it again later, and dead-letters it past a limit).
 */
export type DeliveryHandler = (delivery: QueueDelivery) => Promise<void>;

export interface ConsumeOptions {
  /** At most this many handler calls run at once for this consumer. */
  concurrency: number;
}

export interface QueueConsumer {
  /**
   * Stops taking deliveries, then waits for the handlers in flight, at most `timeoutMs` (default: no bound).
   * Messages of handlers still running after that are still acknowledged when they finish, until `close()`.
   */
  stop(options?: { timeoutMs?: number }): Promise<void>;
}

/**
 * Dispatch only: carries job ids to workers. It holds no state the repository does not also have, so a
 * lost or duplicated message delays a job or is dropped by the claim, never loses or repeats a result.
 * A publish that cannot be made durable rejects (with `UnavailableError` when the broker is unreachable);
 * it is never silently dropped. Adapters never crash the process on a broker error.
 */
export interface JobQueue {
  /** `messaging.system` of the runtime's spans and messaging metrics (e.g. `rabbitmq`); default `jobs`. */
  readonly messagingSystem?: string;
  /**
   * Resolves once the message is durably accepted (publisher confirm for a broker). `traceContext`: see
   * `QueueMessage`.
   */
  publish(endpoint: string, jobId: string, traceContext?: TraceContext | null): Promise<void>;
  /**
   * Publishes many messages at once (all in flight together, confirms awaited together); entry i is null when
   * message i was durably accepted, else why not. Optional: without it, the runtime calls `publish` for each,
   * concurrently.
   */
  publishMany?(messages: readonly QueueMessage[]): Promise<Array<Error | null>>;
  consume(endpoint: string, handler: DeliveryHandler, options: ConsumeOptions): Promise<QueueConsumer>;
  /**
   * Messages of the endpoint waiting for a consumer, when the queue can tell. The sweeper re-dispatches
   * long-unclaimed jobs only when this is 0, so a long backlog is not multiplied by re-dispatches.
   */
  depth?(endpoint: string): Promise<number> | number;
  close(): Promise<void>;
}
