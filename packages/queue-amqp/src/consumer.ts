import { type DeliveryHandler, type QueueConsumer, sleep, UnavailableError } from '@jobs/core';
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import type { ConnectionUser, ManagedConnection } from './connection.js';
import type { EventHub } from './events.js';
import { DEAD_LETTER_REASON_HEADER, decodeBody, deliveryNumber, PRIOR_DELIVERIES_HEADER } from './message.js';
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

interface Delivery {
  message: ConsumeMessage;
  /** The channel it arrived on: only that channel can acknowledge it. */
  channel: Channel;
  jobId: string;
  /** 1 for the first delivery of this job message. */
  number: number;
  redelivered: boolean;
  /** Acknowledged, handed back, or dropped with its channel: nothing more may be sent for it. */
  settled: boolean;
  /** Acknowledged after `ackAfterMs` while its handler still ran. */
  earlyAcked: boolean;
  timer: ReturnType<typeof setTimeout> | null;
}

type Settlement = 'ack' | 'requeue' | 'dead-letter';

/**
 * One consumer of one endpoint queue, on a channel of its own with prefetch = concurrency.
 *
 * Ack policy: a handler that resolves acknowledges its message; one that rejects hands it back (after
 * `redeliveryDelayMs`) for redelivery, or dead-letters it on its last allowed delivery. A handler still running
 * after `ackAfterMs` has its message acknowledged early, so the broker's consumer timeout never closes the
 * channel under a long job (the repository's lease protects the job from then on); its slot stays taken, so
 * concurrency is also enforced here: a delivery that finds every slot taken waits, unacknowledged, and is
 * handed back (re-published, then acknowledged) if it waited `ackAfterMs`.
 */
export class AmqpConsumer implements QueueConsumer, ConnectionUser {
  readonly endpoint: string;
  readonly #handler: DeliveryHandler;
  readonly #concurrency: number;
  readonly #context: ConsumerContext;
  readonly #options: ResolvedOptions;
  readonly #queueName: string;
  readonly #running = new Set<Delivery>();
  readonly #changed = new Signal();
  readonly #abort = new AbortController();
  #waiting: Delivery[] = [];
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
    this.#handler = handler;
    this.#concurrency = concurrency;
    this.#context = context;
    this.#options = context.options;
    this.#queueName = `${context.options.prefix}.${endpoint}`;
  }

  /** Handlers running now (including those whose message was acknowledged early). */
  get inFlight(): number {
    return this.#running.size;
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
          this.#options.logger.warn('amqp consumer could not be cancelled', {
            endpoint: this.endpoint,
            error: describeError(error),
          });
        }
      }
      for (const delivery of this.#waiting.splice(0)) {
        this.#clearTimer(delivery);
        this.#settle(delivery, 'requeue');
      }
      this.#changed.notify();
      if (this.#running.size === 0) await this.#finish();
    }
    const deadline =
      options.timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.timeoutMs;
    while (this.#running.size > 0) {
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
    for (const delivery of this.#waiting.splice(0)) {
      this.#clearTimer(delivery);
      delivery.settled = true;
    }
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
      this.#options.logger.warn('amqp consumer could not be attached', {
        endpoint: this.endpoint,
        error: this.#lastAttachError,
      });
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
      this.#options.logger.warn('amqp consumer channel error', { endpoint: this.endpoint, error: lastError });
    });
    channel.on('close', () => {
      if (this.#channel !== channel) return;
      this.#channel = null;
      this.#channelConnection = null;
      this.#consumerTag = null;
      // The broker has the unacknowledged messages back; running handlers keep their slots, their acks are dropped.
      for (const delivery of this.#waiting) {
        if (delivery.channel === channel) {
          this.#clearTimer(delivery);
          delivery.settled = true;
        }
      }
      this.#waiting = this.#waiting.filter((delivery) => !delivery.settled);
      this.#changed.notify();
      if (this.#state !== 'running') {
        if (this.#state === 'stopping' && this.#running.size === 0) void this.#finish();
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
    this.#options.logger.warn('amqp consumer cancelled by the broker; subscribing again', {
      endpoint: this.endpoint,
    });
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
      this.#options.logger.warn('amqp consumer could not subscribe again', {
        endpoint: this.endpoint,
        error: this.#lastAttachError,
      });
      this.#scheduleReattach(connection);
    }
  }

  // --- deliveries -------------------------------------------------------------------------------------------

  #onMessage(channel: Channel, message: ConsumeMessage | null): void {
    if (message === null) {
      this.#onCancelled(channel);
      return;
    }
    const number = deliveryNumber(message);
    const jobId = decodeBody(message, this.endpoint);
    if (jobId === null) {
      this.#deadLetterNow(channel, message, null, 'unparseable', number);
      return;
    }
    if (number > this.#options.maxDeliveries) {
      this.#deadLetterNow(channel, message, jobId, 'delivery-limit', number - 1);
      return;
    }
    const delivery: Delivery = {
      message,
      channel,
      jobId,
      number,
      redelivered: message.fields.redelivered || number > 1,
      settled: false,
      earlyAcked: false,
      timer: null,
    };
    if (this.#state !== 'running' || channel !== this.#channel) {
      this.#settle(delivery, 'requeue');
      return;
    }
    if (this.#running.size < this.#concurrency) {
      this.#start(delivery);
      return;
    }
    delivery.timer = setTimeout(() => void this.#handBack(delivery), this.#options.ackAfterMs);
    unref(delivery.timer);
    this.#waiting.push(delivery);
  }

  #deadLetterNow(
    channel: Channel,
    message: ConsumeMessage,
    jobId: string | null,
    reason: 'unparseable' | 'delivery-limit',
    deliveries: number,
  ): void {
    try {
      channel.reject(message, false);
    } catch {
      return; // the channel is gone: the broker delivers the message again, and it is dead-lettered then
    }
    this.#reportDeadLetter(jobId, reason, deliveries);
  }

  #reportDeadLetter(
    jobId: string | null,
    reason: 'unparseable' | 'delivery-limit',
    deliveries: number,
  ): void {
    this.#options.logger.warn('amqp message dead-lettered', {
      endpoint: this.endpoint,
      jobId,
      reason,
      deliveries,
    });
    this.#context.events.emit({ type: 'dead-lettered', endpoint: this.endpoint, jobId, reason, deliveries });
  }

  #start(delivery: Delivery): void {
    this.#running.add(delivery);
    delivery.timer = setTimeout(() => this.#ackEarly(delivery), this.#options.ackAfterMs);
    unref(delivery.timer);
    const handle = async () =>
      this.#handler({ endpoint: this.endpoint, jobId: delivery.jobId, redelivered: delivery.redelivered });
    handle().then(
      () => this.#handled(delivery, undefined),
      (error: unknown) => this.#handled(delivery, error ?? new Error('The handler rejected.')),
    );
  }

  #ackEarly(delivery: Delivery): void {
    delivery.timer = null;
    if (delivery.settled) return;
    delivery.earlyAcked = this.#settle(delivery, 'ack');
    if (delivery.earlyAcked) {
      this.#options.logger.info('amqp message of a long-running handler acknowledged early', {
        endpoint: this.endpoint,
        jobId: delivery.jobId,
        ackAfterMs: this.#options.ackAfterMs,
      });
    }
  }

  async #handled(delivery: Delivery, error: unknown): Promise<void> {
    this.#clearTimer(delivery);
    try {
      if (error === undefined) {
        this.#settle(delivery, 'ack');
      } else if (delivery.earlyAcked) {
        await this.#publishAgain(delivery, error);
      } else if (!delivery.settled) {
        this.#options.logger.debug('amqp handler rejected; the message will be delivered again', {
          endpoint: this.endpoint,
          jobId: delivery.jobId,
          delivery: delivery.number,
          error: describeError(error),
        });
        if (delivery.number >= this.#options.maxDeliveries) {
          if (this.#settle(delivery, 'dead-letter'))
            this.#reportDeadLetter(delivery.jobId, 'delivery-limit', delivery.number);
        } else {
          if (
            this.#state === 'running' &&
            delivery.channel === this.#channel &&
            this.#options.redeliveryDelayMs > 0
          ) {
            await sleep(this.#options.redeliveryDelayMs, this.#abort.signal);
          }
          this.#settle(delivery, 'requeue');
        }
      }
    } catch (unexpected) {
      this.#options.logger.error('amqp consumer failed to settle a delivery', {
        endpoint: this.endpoint,
        jobId: delivery.jobId,
        error: describeError(unexpected),
      });
    } finally {
      this.#running.delete(delivery);
      this.#changed.notify();
      this.#pump();
      if (this.#state === 'stopping' && this.#running.size === 0) void this.#finish();
    }
  }

  /** The handler of an early-acknowledged message rejected: publish the job id again (or dead-letter it). */
  async #publishAgain(delivery: Delivery, error: unknown): Promise<void> {
    const last = delivery.number >= this.#options.maxDeliveries;
    try {
      await this.#context.publisher.publish({ endpoint: this.endpoint, deadLetter: last }, delivery.jobId, {
        [PRIOR_DELIVERIES_HEADER]: delivery.number,
        ...(last ? { [DEAD_LETTER_REASON_HEADER]: 'delivery_limit' } : {}),
      });
      if (last) this.#reportDeadLetter(delivery.jobId, 'delivery-limit', delivery.number);
    } catch (publishError) {
      this.#options.logger.warn('amqp could not publish the job again; the sweeper will dispatch it', {
        endpoint: this.endpoint,
        jobId: delivery.jobId,
        handlerError: describeError(error),
        error: describeError(publishError),
      });
    }
  }

  /** A delivery waited `ackAfterMs` for a slot: hand it back (a fresh copy at the queue's tail) before the broker's timeout. */
  async #handBack(delivery: Delivery): Promise<void> {
    delivery.timer = null;
    const index = this.#waiting.indexOf(delivery);
    if (index < 0 || delivery.settled) return;
    this.#waiting.splice(index, 1);
    try {
      await this.#context.publisher.publish({ endpoint: this.endpoint }, delivery.jobId, {
        [PRIOR_DELIVERIES_HEADER]: delivery.number - 1,
      });
      // If the channel is gone the original comes back too: a duplicate, which the repository's claim drops.
      this.#settle(delivery, 'ack');
    } catch (error) {
      this.#options.logger.warn('amqp could not hand a waiting message back by publishing; requeueing it', {
        endpoint: this.endpoint,
        jobId: delivery.jobId,
        error: describeError(error),
      });
      this.#settle(delivery, 'requeue');
    }
  }

  #pump(): void {
    while (this.#state === 'running' && this.#running.size < this.#concurrency && this.#waiting.length > 0) {
      const delivery = this.#waiting.shift()!;
      this.#clearTimer(delivery);
      if (delivery.settled) continue;
      if (delivery.channel !== this.#channel) {
        delivery.settled = true;
        continue;
      }
      this.#start(delivery);
    }
  }

  /** Sends the settlement if the delivery's channel is still the open one. Returns whether it was sent. */
  #settle(delivery: Delivery, settlement: Settlement): boolean {
    if (delivery.settled) return false;
    delivery.settled = true;
    const channel = delivery.channel;
    if (channel !== this.#channel) {
      this.#options.logger.debug(
        'amqp delivery settled after its channel closed; the broker delivers it again',
        {
          endpoint: this.endpoint,
          jobId: delivery.jobId,
          settlement,
        },
      );
      return false;
    }
    try {
      if (settlement === 'ack') channel.ack(delivery.message);
      else if (settlement === 'requeue') channel.nack(delivery.message, false, true);
      else channel.reject(delivery.message, false);
      return true;
    } catch (error) {
      this.#options.logger.debug('amqp settlement dropped: the channel is closing', {
        endpoint: this.endpoint,
        jobId: delivery.jobId,
        settlement,
        error: describeError(error),
      });
      return false;
    }
  }

  #clearTimer(delivery: Delivery): void {
    if (delivery.timer) clearTimeout(delivery.timer);
    delivery.timer = null;
  }
}
