import {
  type ConsumeOptions,
  type DeliveryHandler,
  ENDPOINT_NAME_PATTERN,
  InvalidInputError,
  type JobQueue,
  type QueueConsumer,
  type QueueMessage,
  type TraceContext,
  toTraceContext,
  UnavailableError,
} from '@jobs/core';
import type { Channel, ChannelModel, GetMessage } from 'amqplib';
import { ManagedConnection } from './connection.js';
import { AmqpConsumer } from './consumer.js';
import { type AmqpQueueListener, EventHub } from './events.js';
import { DEAD_LETTER_REASON_HEADER, decodeBody, MAX_JOB_ID_LENGTH, traceHeaders } from './message.js';
import { type AmqpQueueOptions, type Names, names, type ResolvedOptions, resolveOptions } from './options.js';
import { Publisher } from './publisher.js';
import { Topology } from './topology.js';
import { replyCode, withChannel } from './util.js';

/** A message in the dead-letter queue, as `deadLetters()` shows it. */
export interface AmqpDeadLetter {
  /** The endpoint queue it died in (null when unknown). */
  endpoint: string | null;
  /** The job id it carried, or null when its body was not a job message. */
  jobId: string | null;
  /** Why it died: `rejected` (unparseable, or its last allowed delivery failed), `delivery_limit`, ... */
  reason: string | null;
  /** The body as text, cut at 1 000 characters. */
  body: string;
}

export type ConnectionStatus = 'idle' | 'connected' | 'blocked' | 'disconnected' | 'closed';

export interface AmqpJobQueue extends JobQueue {
  readonly prefix: string;
  /** The queue and exchange names this queue uses. */
  readonly names: Names;
  /** Connection state, lost connections, blocked publishing, cancelled consumers, dead letters. */
  on(event: 'state', listener: AmqpQueueListener): () => void;
  /** Each connection's status now, for health checks. */
  status(): { publish: ConnectionStatus; consume: ConnectionStatus };
  /** Messages ready in the endpoint's queue (not counting those delivered and not yet acknowledged). */
  depth(endpoint: string): Promise<number>;
  /** Looks at up to `limit` (default 100) dead letters without removing them, oldest first. */
  deadLetters(options?: { limit?: number }): Promise<AmqpDeadLetter[]>;
  /** Deletes every dead letter; returns how many there were. */
  purgeDeadLetters(): Promise<number>;
}

/** A RabbitMQ `JobQueue`: one durable quorum queue per endpoint, confirms, reconnects; see README. */
export function createAmqpQueue(options: AmqpQueueOptions = {}): AmqpJobQueue {
  return new AmqpQueue(resolveOptions(options));
}

class AmqpQueue implements AmqpJobQueue {
  readonly messagingSystem = 'rabbitmq';
  readonly prefix: string;
  readonly names: Names;
  readonly #options: ResolvedOptions;
  readonly #events: EventHub;
  readonly #topology: Topology;
  readonly #publishConnection: ManagedConnection;
  readonly #consumeConnection: ManagedConnection;
  readonly #publisher: Publisher;
  readonly #consumers = new Set<AmqpConsumer>();
  #closed = false;

  constructor(options: ResolvedOptions) {
    this.#options = options;
    this.prefix = options.prefix;
    this.names = names(options.prefix);
    this.#events = new EventHub(options.logger);
    this.#topology = new Topology({
      names: this.names,
      maxDeliveries: options.maxDeliveries,
      deadLetterMaxLength: options.deadLetterMaxLength,
      logger: options.logger,
    });
    this.#publishConnection = new ManagedConnection('publish', options, this.#events);
    this.#consumeConnection = new ManagedConnection('consume', options, this.#events);
    this.#publisher = new Publisher(this.#publishConnection, options, this.#topology, this.#events);
  }

  on(event: 'state', listener: AmqpQueueListener): () => void {
    if (event !== 'state')
      throw new TypeError(`Unknown event ${JSON.stringify(event)}; the only event is 'state'.`);
    return this.#events.on(listener);
  }

  status(): { publish: ConnectionStatus; consume: ConnectionStatus } {
    return { publish: this.#status(this.#publishConnection), consume: this.#status(this.#consumeConnection) };
  }

  async publish(endpoint: string, jobId: string, traceContext?: TraceContext | null): Promise<void> {
    checkMessage(endpoint, jobId);
    if (this.#closed) throw new UnavailableError('The AMQP queue is closed.');
    await this.#publisher.publish({ endpoint }, jobId, traceHeaders(toTraceContext(traceContext)));
  }

  async publishMany(messages: readonly QueueMessage[]): Promise<Array<Error | null>> {
    const results: Array<Error | null> = messages.map(() => null);
    const valid: Array<{
      index: number;
      target: { endpoint: string };
      jobId: string;
      headers: Record<string, string>;
    }> = [];
    messages.forEach((message, index) => {
      try {
        checkMessage(message.endpoint, message.jobId);
        valid.push({
          index,
          target: { endpoint: message.endpoint },
          jobId: message.jobId,
          headers: traceHeaders(toTraceContext(message.traceContext)),
        });
      } catch (error) {
        results[index] = error as Error;
      }
    });
    if (this.#closed) return messages.map(() => new UnavailableError('The AMQP queue is closed.'));
    const published = await this.#publisher.publishMany(valid);
    valid.forEach((message, i) => {
      results[message.index] = published[i]!;
    });
    return results;
  }

  async consume(endpoint: string, handler: DeliveryHandler, options: ConsumeOptions): Promise<QueueConsumer> {
    checkEndpoint(endpoint);
    if (typeof handler !== 'function')
      throw InvalidInputError.field('handler', 'handler must be a function.');
    const concurrency = options?.concurrency;
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 65_535) {
      throw InvalidInputError.field('concurrency', 'concurrency must be an integer from 1 to 65535.');
    }
    if (this.#closed) throw new UnavailableError('The AMQP queue is closed.');
    const consumer = new AmqpConsumer(endpoint, handler, concurrency, {
      connection: this.#consumeConnection,
      publisher: this.#publisher,
      topology: this.#topology,
      events: this.#events,
      options: this.#options,
      done: (done) => this.#consumers.delete(done),
    });
    this.#consumers.add(consumer);
    consumer.start();
    try {
      await consumer.attached(this.#options.connectTimeoutMs);
    } catch (error) {
      await consumer.terminate();
      throw error;
    }
    return consumer;
  }

  async depth(endpoint: string): Promise<number> {
    checkEndpoint(endpoint);
    return this.#onChannel(async (channel) => {
      try {
        return (await channel.checkQueue(this.names.queue(endpoint))).messageCount;
      } catch (error) {
        if (replyCode(error) === 404) return 0;
        throw error;
      }
    });
  }

  async deadLetters(options: { limit?: number } = {}): Promise<AmqpDeadLetter[]> {
    const limit = options.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1)
      throw InvalidInputError.field('limit', 'limit must be a positive integer.');
    return this.#onChannel(async (channel, connection) => {
      await this.#topology.ensureDeadLetter(connection);
      const letters: AmqpDeadLetter[] = [];
      // Messages taken without acknowledgement go back to the queue when the channel closes.
      for (let i = 0; i < limit; i++) {
        const message = await channel.get(this.names.deadLetterQueue, { noAck: false });
        if (!message) break;
        letters.push(describeDeadLetter(message, this.prefix));
      }
      return letters;
    });
  }

  async purgeDeadLetters(): Promise<number> {
    return this.#onChannel(async (channel, connection) => {
      await this.#topology.ensureDeadLetter(connection);
      return (await channel.purgeQueue(this.names.deadLetterQueue)).messageCount;
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#consumers].map((consumer) => consumer.terminate()));
    await this.#publisher.close();
    await Promise.all([this.#publishConnection.close(), this.#consumeConnection.close()]);
    this.#events.emit({ type: 'closed' });
  }

  async #onChannel<T>(fn: (channel: Channel, connection: ChannelModel) => Promise<T>): Promise<T> {
    if (this.#closed) throw new UnavailableError('The AMQP queue is closed.');
    const connection = await this.#publishConnection.ready(Date.now() + this.#options.publishTimeoutMs);
    try {
      return await withChannel(connection, (channel) => fn(channel, connection));
    } catch (error) {
      if (error instanceof InvalidInputError) throw error;
      throw new UnavailableError(
        `RabbitMQ is unavailable: ${error instanceof Error ? error.message : error}.`,
        {
          cause: error,
        },
      );
    }
  }

  #status(connection: ManagedConnection): ConnectionStatus {
    if (connection.closed) return 'closed';
    if (connection.connection) return connection.blocked ? 'blocked' : 'connected';
    return connection.started ? 'disconnected' : 'idle';
  }
}

function describeDeadLetter(message: GetMessage, prefix: string): AmqpDeadLetter {
  const headers: Record<string, unknown> = message.properties.headers ?? {};
  const deaths = Array.isArray(headers['x-death'])
    ? (headers['x-death'] as Array<Record<string, unknown>>)
    : [];
  const text = (value: unknown) => (typeof value === 'string' ? value : null);
  const queue = text(headers['x-first-death-queue']) ?? text(deaths[0]?.queue);
  let endpoint = queue?.startsWith(`${prefix}.`) ? queue.slice(prefix.length + 1) : null;
  const body = message.content.toString('utf8');
  if (endpoint === null) {
    // Published to the dead-letter exchange by a consumer: the body names the endpoint.
    try {
      const parsed = JSON.parse(body) as { endpoint?: unknown };
      if (typeof parsed?.endpoint === 'string' && ENDPOINT_NAME_PATTERN.test(parsed.endpoint))
        endpoint = parsed.endpoint;
    } catch {
      // not a job message
    }
  }
  return {
    endpoint,
    jobId: endpoint ? decodeBody(message, endpoint) : null,
    reason:
      text(headers['x-first-death-reason']) ??
      text(deaths[0]?.reason) ??
      text(headers[DEAD_LETTER_REASON_HEADER]),
    body: body.length > 1_000 ? body.slice(0, 1_000) : body,
  };
}

function checkMessage(endpoint: string, jobId: string): void {
  checkEndpoint(endpoint);
  if (typeof jobId !== 'string' || jobId.length === 0 || jobId.length > MAX_JOB_ID_LENGTH) {
    throw InvalidInputError.field(
      'jobId',
      `jobId must be a non-empty string of at most ${MAX_JOB_ID_LENGTH} characters.`,
    );
  }
}

function checkEndpoint(endpoint: string): void {
  if (typeof endpoint !== 'string' || !ENDPOINT_NAME_PATTERN.test(endpoint)) {
    throw InvalidInputError.field(
      'endpoint',
      `endpoint ${JSON.stringify(endpoint)} must match ${ENDPOINT_NAME_PATTERN}.`,
    );
  }
}
