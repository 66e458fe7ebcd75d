import { type DeliveryHandler, type QueueConsumer, UnavailableError } from '@jobs/core';
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import type { ConnectionUser, ManagedConnection } from './connection.js';
import { Deliveries } from './deliveries.js';
import type { EventHub } from './events.js';
import type { ResolvedOptions } from './options.js';
import type { Publisher } from './publisher.js';
import type { Topology } from './topology.js';
import { beforeDeadline, closeQuietly, describeError, reconnectDelay, Signal, unref } from './util.js';

export interface ConsumerContext {
  connection: ManagedConnection;
  publisher: Publisher;
  topology: Topology;
  events: EventHub;
  options: ResolvedOptions;
  /** Called once the consumer holds nothing anymore (stopped and drained, or terminated). */
  done(consumer: AmqpConsumer): void;
}

/**
 * One consumer of one endpoint queue, on a channel of its own with prefetch = concurrency.
 *
 * Ack policy: a handler that resolves acknowledges its message; one that rejects hands it back (after
 * `redeliveryDelayMs`) for redelivery, or dead-letters it on its last allowed delivery. A handler still running
 * after `ackAfterMs` has its message acknowledged early, so the broker's consumer timeout never closes the
 * channel under a long job (the repository's lease protects the job from then on); its slot stays taken, so
 * concurrency is also enforced here: a delivery that finds every slot taken waits, unacknowledged, and is
 * handed back (re-published, then acknowledged) if it waited `ackAfterMs`. `Deliveries` (deliveries.ts) keeps
 * the deliveries by this policy; this class attaches the consumer to its queue, again after a failure.
 */
export class AmqpConsumer implements QueueConsumer, ConnectionUser {
  readonly endpoint: string;
  readonly #concurrency: number;
  readonly #context: ConsumerContext;
  readonly #options: ResolvedOptions;
  readonly #queueName: string;
  readonly #deliveries: Deliveries;
  readonly #changed = new Signal();
  readonly #abort = new AbortController();
  #state: 'running' | 'stopping' | 'stopped' = 'running';
  #channel: Channel | null = null;
  #channelConnection: ChannelModel | null = null;
  #consumerTag: string | null = null;
  #attaching: ChannelModel | null = null;
  #attachFailures = 0;
  #attachedOnce = false;
  #lastAttachError: string | undefined;
  #reattachTimer: ReturnType<typeof setTimeout> | null = null;
  #reattachFor: ChannelModel | null = null;
  #unuse: (() => void) | null = null;

  constructor(endpoint: string, handler: DeliveryHandler, concurrency: number, context: ConsumerContext) {
    this.endpoint = endpoint;
    this.#concurrency = concurrency;
    this.#context = context;
    this.#options = context.options;
    this.#queueName = `${context.options.prefix}.${endpoint}`;
    this.#deliveries = new Deliveries({
      endpoint,
      handler,
      concurrency,
      publisher: context.publisher,
      events: context.events,
      options: context.options,
      channel: () => this.#channel,
      running: () => this.#state === 'running',
      signal: this.#abort.signal,
      changed: this.#changed,
      afterHandler: () => {
        if (this.#state === 'stopping' && this.#deliveries.inFlight === 0) void this.#finish();
      },
    });
  }

  /** Handlers running now (including those whose message was acknowledged early). */
  get inFlight(): number {
    return this.#deliveries.inFlight;
  }

  start(): void {
    this.#unuse = this.#context.connection.use(this);
  }

  /** Resolves once the consumer is attached to its queue; rejects with `UnavailableError` after `timeoutMs`. */
  async attached(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.#attachedOnce) return;
      if (this.#state !== 'running')
        throw new UnavailableError('The consumer was stopped before it was attached.');
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        if (!this.#context.connection.connection) throw this.#context.connection.unavailable();
        throw new UnavailableError(
          `RabbitMQ is unavailable: the consumer of ${this.#queueName} could not be attached` +
            `${this.#lastAttachError ? ` (${this.#lastAttachError})` : ''}.`,
        );
      }
      await Promise.race([this.#changed.wait(remaining), this.#context.connection.changed.wait(remaining)]);
    }
  }

  connected(connection: ChannelModel): void {
    void this.#attach(connection);
  }

  disconnected(): void {
    // Every channel of the connection closed (handled by the channel's 'close'); reattached on reconnect.
    if (this.#reattachTimer) clearTimeout(this.#reattachTimer);
    this.#reattachTimer = null;
  }

  async stop(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.#state === 'running') {
      this.#state = 'stopping';
      this.#abort.abort();
      this.#unuse?.();
      if (this.#reattachTimer) clearTimeout(this.#reattachTimer);
      this.#reattachTimer = null;
      const channel = this.#channel;
      const consumerTag = this.#consumerTag;
      this.#consumerTag = null;
      if (channel && consumerTag) {
        try {
          await beforeDeadline(channel.cancel(consumerTag), Date.now() + 5_000, 'cancelling the consumer');
        } catch (error) {
          this.#options.logger.warn(
            { endpoint: this.endpoint, error: describeError(error) },
            'amqp consumer could not be cancelled',
          );
        }
      }
      this.#deliveries.requeueWaiting();
      this.#changed.notify();
      if (this.#deliveries.inFlight === 0) await this.#finish();
    }
    const deadline =
      options.timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.timeoutMs;
    while (this.#deliveries.inFlight > 0) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      await this.#changed.wait(Math.min(remaining, 60_000));
    }
  }

  /** Closes at once (the queue is closing): waiting deliveries go back with the channel; running acks are dropped. */
  async terminate(): Promise<void> {
    this.#state = 'stopped';
    this.#abort.abort();
    this.#unuse?.();
    if (this.#reattachTimer) clearTimeout(this.#reattachTimer);
    this.#reattachTimer = null;
    this.#deliveries.dropWaiting();
    const channel = this.#channel;
    this.#channel = null;
    this.#channelConnection = null;
    this.#consumerTag = null;
    this.#changed.notify();
    if (channel) await closeQuietly(channel);
    this.#context.done(this);
  }

  async #finish(): Promise<void> {
    this.#state = 'stopped';
    const channel = this.#channel;
    this.#channel = null;
    this.#channelConnection = null;
    this.#changed.notify();
    if (channel) await closeQuietly(channel);
    this.#context.done(this);
  }

  // --- attaching --------------------------------------------------------------------------------------------

  async #attach(connection: ChannelModel): Promise<void> {
    if (this.#state !== 'running' || this.#attaching === connection) return;
    if (this.#channel && this.#channelConnection === connection) return;
    this.#attaching = connection;
    let channel: Channel | null = null;
    try {
      await this.#context.topology.ensure(connection, this.endpoint);
      channel = await connection.createChannel();
      this.#watchChannel(channel, connection);
      await channel.prefetch(this.#concurrency);
      if (this.#state !== 'running' || this.#context.connection.connection !== connection) {
        void closeQuietly(channel);
        return;
      }
      this.#channel = channel;
      this.#channelConnection = connection;
      await this.#subscribe(channel);
    } catch (error) {
      this.#lastAttachError = describeError(error);
      this.#options.logger.warn(
        { endpoint: this.endpoint, error: this.#lastAttachError },
        'amqp consumer could not be attached',
      );
      if (channel && this.#channel !== channel) void closeQuietly(channel);
      this.#scheduleReattach(connection);
    } finally {
      if (this.#attaching === connection) this.#attaching = null;
    }
  }

  async #subscribe(channel: Channel): Promise<void> {
    const { consumerTag } = await channel.consume(
      this.#queueName,
      (message) => this.#onMessage(channel, message),
      {
        noAck: false,
      },
    );
    if (this.#channel !== channel) return;
    if (this.#state !== 'running') {
      // stop() ran while subscribing: cancel now; deliveries already on their way are handed back.
      await channel.cancel(consumerTag).catch(() => {});
      return;
    }
    this.#consumerTag = consumerTag;
    this.#attachFailures = 0;
    this.#attachedOnce = true;
    this.#lastAttachError = undefined;
    this.#changed.notify();
    this.#context.events.emit({ type: 'consumer-attached', endpoint: this.endpoint });
  }

  #watchChannel(channel: Channel, connection: ChannelModel): void {
    let lastError: string | undefined;
    channel.on('error', (error: unknown) => {
      lastError = describeError(error);
      this.#options.logger.warn({ endpoint: this.endpoint, error: lastError }, 'amqp consumer channel error');
    });
    channel.on('close', () => {
      if (this.#channel !== channel) return;
      this.#channel = null;
      this.#channelConnection = null;
      this.#consumerTag = null;
      // The broker has the unacknowledged messages back; running handlers keep their slots, their acks are dropped.
      this.#deliveries.dropChannel(channel);
      this.#changed.notify();
      if (this.#state !== 'running') {
        if (this.#state === 'stopping' && this.#deliveries.inFlight === 0) void this.#finish();
        return;
      }
      // Closed with its connection: reattached on reconnect. Closed alone: reattached here.
      setImmediate(() => {
        if (this.#state !== 'running' || this.#context.connection.connection !== connection) return;
        this.#context.events.emit({
          type: 'channel-closed',
          role: 'consume',
          endpoint: this.endpoint,
          error: lastError,
        });
        this.#context.topology.forget(connection, this.endpoint);
        this.#scheduleReattach(connection);
      });
    });
  }

  #onCancelled(channel: Channel): void {
    if (this.#channel !== channel) return;
    this.#consumerTag = null;
    this.#options.logger.warn(
      { endpoint: this.endpoint },
      'amqp consumer cancelled by the broker; subscribing again',
    );
    this.#context.events.emit({ type: 'consumer-cancelled', endpoint: this.endpoint });
    const connection = this.#channelConnection;
    if (this.#state !== 'running' || !connection) return;
    this.#context.topology.forget(connection, this.endpoint);
    this.#scheduleReattach(connection);
  }

  #scheduleReattach(connection: ChannelModel): void {
    if (this.#state !== 'running') return;
    if (this.#reattachTimer) {
      if (this.#reattachFor === connection) return; // already scheduled for this connection
      clearTimeout(this.#reattachTimer); // scheduled for a connection that is gone
    }
    this.#reattachFor = connection;
    this.#attachFailures++;
    const delayMs = reconnectDelay(this.#attachFailures, this.#options.reconnect);
    this.#reattachTimer = setTimeout(() => {
      this.#reattachTimer = null;
      void this.#reattach(connection);
    }, delayMs);
    unref(this.#reattachTimer);
  }

  async #reattach(connection: ChannelModel): Promise<void> {
    if (this.#state !== 'running' || this.#context.connection.connection !== connection) return;
    const channel = this.#channel;
    if (!channel || this.#channelConnection !== connection) {
      await this.#attach(connection);
      return;
    }
    if (this.#consumerTag) return;
    // Cancelled by the broker, channel still open: declare the queue again (it may have been deleted), re-subscribe.
    try {
      await this.#context.topology.ensure(connection, this.endpoint);
      if (this.#channel === channel && !this.#consumerTag && this.#state === 'running')
        await this.#subscribe(channel);
    } catch (error) {
      this.#lastAttachError = describeError(error);
      this.#options.logger.warn(
        { endpoint: this.endpoint, error: this.#lastAttachError },
        'amqp consumer could not subscribe again',
      );
      this.#scheduleReattach(connection);
    }
  }

  #onMessage(channel: Channel, message: ConsumeMessage | null): void {
    if (message === null) this.#onCancelled(channel);
    else this.#deliveries.receive(channel, message);
  }
}
