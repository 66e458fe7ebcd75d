import {
  type ConsumeOptions,
  type DeliveryHandler,
  InvalidInputError,
  type JobQueue,
  type QueueConsumer,
  type QueueDelivery,
  type QueueMessage,
  type TraceContext,
  toTraceContext,
  UnavailableError,
  within,
} from '@jobs/core';
import { Fifo } from './fifo.js';

export interface MemoryQueueOptions {
  /** How long a message whose handler rejected waits before it is delivered again. Default 100 ms. */
  redeliveryDelayMs?: number;
  /** Deliveries of one message before it goes to the dead letters instead of being delivered again. Default 10. */
  maxDeliveries?: number;
  /** Dead letters kept per endpoint for inspection; past it the oldest are dropped. Default 1000. */
  maxDeadLetters?: number;
}

/** A message given up on after `maxDeliveries` rejected deliveries. */
export interface DeadLetter {
  endpoint: string;
  jobId: string;
  /** How many times it was delivered. */
  deliveries: number;
  /** What the last handler rejected with. */
  error: unknown;
}

export interface MemoryJobQueue extends JobQueue {
  publishMany(messages: readonly QueueMessage[]): Promise<Array<Error | null>>;
  /** Messages of this endpoint not currently delivered: waiting for a consumer or for their redelivery delay. */
  depth(endpoint: string): number;
  /** The endpoint's dead-lettered messages, oldest first (a copy; at most `maxDeadLetters`). */
  deadLetters(endpoint: string): DeadLetter[];
}

interface Message {
  jobId: string;
  /** The dispatch span's trace context, handed to the consumer as it came. */
  traceContext: TraceContext | null;
  deliveries: number;
}

interface Consumer {
  handler: DeliveryHandler;
  concurrency: number;
  /** Settles when the handler settled and the message was acknowledged or handed back; never rejects. */
  inFlight: Set<Promise<void>>;
}

interface EndpointState {
  name: string;
  ready: Fifo<Message>;
  /** Messages waiting for their redelivery delay. */
  delayed: number;
  consumers: Consumer[];
  /** Round-robin position among consumers. */
  next: number;
  deadLetters: DeadLetter[];
  dispatchScheduled: boolean;
}

const defer: (callback: () => void) => void =
  typeof setImmediate === 'function'
    ? (callback) => setImmediate(callback)
    : (callback) => setTimeout(callback, 0);

function checkName(value: unknown, path: string): string {
  if (typeof value !== 'string' || value.length === 0)
    throw InvalidInputError.field(path, `${path} must be a non-empty string.`);
  return value;
}

/**
 * An in-memory `JobQueue` for one process: a FIFO per endpoint, shared by that endpoint's consumers
 * (each message goes to one of them), with a concurrency limit per consumer, delayed redelivery of
 * rejected messages and a dead-letter list past `maxDeliveries`. Handlers never run inside `publish`.
 */
export function createMemoryQueue(options: MemoryQueueOptions = {}): MemoryJobQueue {
  const redeliveryDelayMs = options.redeliveryDelayMs ?? 100;
  const maxDeliveries = options.maxDeliveries ?? 10;
  const maxDeadLetters = options.maxDeadLetters ?? 1_000;
  if (!Number.isFinite(redeliveryDelayMs) || redeliveryDelayMs < 0) {
    throw new RangeError('redeliveryDelayMs must be a finite number >= 0.');
  }
  if (!Number.isInteger(maxDeliveries) || maxDeliveries < 1) {
    throw new RangeError('maxDeliveries must be an integer >= 1.');
  }
  if (!Number.isInteger(maxDeadLetters) || maxDeadLetters < 0) {
    throw new RangeError('maxDeadLetters must be an integer >= 0.');
  }
  return new MemoryQueue(redeliveryDelayMs, maxDeliveries, maxDeadLetters);
}

class MemoryQueue implements MemoryJobQueue {
  readonly #redeliveryDelayMs: number;
  readonly #maxDeliveries: number;
  readonly #maxDeadLetters: number;
  readonly #endpoints = new Map<string, EndpointState>();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  #closed = false;

  constructor(redeliveryDelayMs: number, maxDeliveries: number, maxDeadLetters: number) {
    this.#redeliveryDelayMs = redeliveryDelayMs;
    this.#maxDeliveries = maxDeliveries;
    this.#maxDeadLetters = maxDeadLetters;
  }

  async publish(endpoint: string, jobId: string, traceContext?: TraceContext | null): Promise<void> {
    this.#open();
    this.#enqueue(endpoint, jobId, traceContext);
  }

  async publishMany(messages: readonly QueueMessage[]): Promise<Array<Error | null>> {
    this.#open();
    return messages.map((message) => {
      try {
        this.#enqueue(message.endpoint, message.jobId, message.traceContext);
        return null;
      } catch (error) {
        return error instanceof Error ? error : new Error(String(error));
      }
    });
  }

  #enqueue(endpoint: string, jobId: string, traceContext: TraceContext | null | undefined): void {
    checkName(endpoint, 'endpoint');
    checkName(jobId, 'jobId');
    const state = this.#state(endpoint);
    state.ready.push({ jobId, traceContext: toTraceContext(traceContext), deliveries: 0 });
    this.#schedule(state);
  }

  async consume(endpoint: string, handler: DeliveryHandler, options: ConsumeOptions): Promise<QueueConsumer> {
    this.#open();
    checkName(endpoint, 'endpoint');
    if (typeof handler !== 'function')
      throw InvalidInputError.field('handler', 'handler must be a function.');
    const concurrency = options?.concurrency;
    if (typeof concurrency !== 'number' || !Number.isInteger(concurrency) || concurrency < 1) {
      throw InvalidInputError.field('concurrency', 'concurrency must be an integer >= 1.');
    }
    const state = this.#state(endpoint);
    const consumer: Consumer = { handler, concurrency, inFlight: new Set() };
    state.consumers.push(consumer);
    this.#schedule(state);
    return {
      stop: async (stopOptions: { timeoutMs?: number } = {}) => {
        const timeoutMs = stopOptions.timeoutMs;
        if (
          timeoutMs !== undefined &&
          (typeof timeoutMs !== 'number' || Number.isNaN(timeoutMs) || timeoutMs < 0)
        ) {
          throw InvalidInputError.field('timeoutMs', 'timeoutMs must be a number >= 0.');
        }
        const index = state.consumers.indexOf(consumer);
        if (index !== -1) state.consumers.splice(index, 1);
        // Messages this consumer did not take stay for the others; wake them in case one has room.
        this.#schedule(state);
        const drained = Promise.all(consumer.inFlight).then(() => undefined);
        if (timeoutMs === undefined || timeoutMs === Number.POSITIVE_INFINITY) return drained;
        await within(drained, timeoutMs, undefined);
      },
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    for (const state of this.#endpoints.values()) {
      state.consumers = [];
      state.ready.clear();
      state.delayed = 0;
    }
  }

  depth(endpoint: string): number {
    const state = this.#endpoints.get(endpoint);
    return state ? state.ready.length + state.delayed : 0;
  }

  deadLetters(endpoint: string): DeadLetter[] {
    return (this.#endpoints.get(endpoint)?.deadLetters ?? []).map((letter) => ({ ...letter }));
  }

  #open(): void {
    if (this.#closed) throw new UnavailableError('The memory job queue is closed.');
  }

  #state(endpoint: string): EndpointState {
    let state = this.#endpoints.get(endpoint);
    if (!state) {
      state = {
        name: endpoint,
        ready: new Fifo(),
        delayed: 0,
        consumers: [],
        next: 0,
        deadLetters: [],
        dispatchScheduled: false,
      };
      this.#endpoints.set(endpoint, state);
    }
    return state;
  }

  /** Dispatches on a later turn of the event loop, once however many times it is asked for meanwhile. */
  #schedule(state: EndpointState): void {
    if (state.dispatchScheduled || this.#closed) return;
    state.dispatchScheduled = true;
    defer(() => {
      state.dispatchScheduled = false;
      this.#dispatch(state);
    });
  }

  #dispatch(state: EndpointState): void {
    while (!this.#closed && state.ready.length > 0) {
      const consumer = this.#pickConsumer(state);
      if (!consumer) return;
      this.#deliver(state, consumer, state.ready.shift()!);
    }
  }

  /** The next consumer, round robin, that has room for one more handler. */
  #pickConsumer(state: EndpointState): Consumer | undefined {
    const count = state.consumers.length;
    for (let offset = 0; offset < count; offset++) {
      const index = (state.next + offset) % count;
      const consumer = state.consumers[index]!;
      if (consumer.inFlight.size < consumer.concurrency) {
        state.next = (index + 1) % count;
        return consumer;
      }
    }
    return undefined;
  }

  #deliver(state: EndpointState, consumer: Consumer, message: Message): void {
    message.deliveries += 1;
    const delivery: QueueDelivery = {
      endpoint: state.name,
      jobId: message.jobId,
      redelivered: message.deliveries > 1,
    };
    if (message.traceContext) delivery.traceContext = message.traceContext;
    let handling: Promise<void>;
    try {
      handling = Promise.resolve(consumer.handler(delivery));
    } catch (error) {
      handling = Promise.reject(error);
    }
    const done = () => {
      consumer.inFlight.delete(tracked);
      this.#schedule(state);
    };
    const tracked: Promise<void> = handling.then(done, (error: unknown) => {
      this.#reject(state, message, error);
      done();
    });
    consumer.inFlight.add(tracked);
  }

  /** A handler rejected: deliver the message again after the delay, or dead-letter it past the limit. */
  #reject(state: EndpointState, message: Message, error: unknown): void {
    if (this.#closed) return;
    if (message.deliveries >= this.#maxDeliveries) {
      state.deadLetters.push({
        endpoint: state.name,
        jobId: message.jobId,
        deliveries: message.deliveries,
        error,
      });
      if (state.deadLetters.length > this.#maxDeadLetters) {
        state.deadLetters.splice(0, state.deadLetters.length - this.#maxDeadLetters);
      }
      return;
    }
    state.delayed += 1;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      state.delayed -= 1;
      state.ready.push(message);
      this.#schedule(state);
    }, this.#redeliveryDelayMs);
    this.#timers.add(timer);
  }
}
