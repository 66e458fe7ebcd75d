import { type DeliveryHandler, sleep, type TraceContext } from '@jobs/core';
import type { Channel, ConsumeMessage } from 'amqplib';
import type { EventHub } from './events.js';
import {
  DEAD_LETTER_REASON_HEADER,
  decodeBody,
  deliveryNumber,
  PRIOR_DELIVERIES_HEADER,
  traceContextOf,
  traceHeaders,
} from './message.js';
import type { ResolvedOptions } from './options.js';
import type { Publisher } from './publisher.js';
import { describeError, type Signal, unref } from './util.js';

interface Delivery {
  message: ConsumeMessage;
  /** The channel it arrived on: only that channel can acknowledge it. */
  channel: Channel;
  jobId: string;
  /** The W3C trace context in the message's headers (handed to the handler, and kept by a re-published copy). */
  traceContext: TraceContext | null;
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

export interface DeliveriesOptions {
  endpoint: string;
  handler: DeliveryHandler;
  concurrency: number;
  publisher: Publisher;
  events: EventHub;
  options: ResolvedOptions;
  /** The consumer's open channel (null while it has none): a delivery can be settled on that one only. */
  channel: () => Channel | null;
  /** Whether the consumer takes work (it is neither stopping nor stopped). */
  running: () => boolean;
  /** Aborted when the consumer stops (ends a redelivery delay). */
  signal: AbortSignal;
  /** Notified whenever a handler finished or waiting deliveries were dropped. */
  changed: Signal;
  /** Called after each handler finished (and the next waiting delivery started). */
  afterHandler: () => void;
}

/**
 * The deliveries of one consumer, and the ack policy of `AmqpConsumer` (see there): the slots (`concurrency`
 * handlers at once), the deliveries waiting for one, the early acknowledgement after `ackAfterMs`, the hand-back of
 * a delivery that waited as long, redelivery and dead-lettering.
 */
export class Deliveries {
  readonly #endpoint: string;
  readonly #handler: DeliveryHandler;
  readonly #concurrency: number;
  readonly #publisher: Publisher;
  readonly #events: EventHub;
  readonly #options: ResolvedOptions;
  readonly #channel: () => Channel | null;
  readonly #isRunning: () => boolean;
  readonly #signal: AbortSignal;
  readonly #changed: Signal;
  readonly #afterHandler: () => void;
  readonly #running = new Set<Delivery>();
  #waiting: Delivery[] = [];

  constructor(options: DeliveriesOptions) {
    this.#endpoint = options.endpoint;
    this.#handler = options.handler;
    this.#concurrency = options.concurrency;
    this.#publisher = options.publisher;
    this.#events = options.events;
    this.#options = options.options;
    this.#channel = options.channel;
    this.#isRunning = options.running;
    this.#signal = options.signal;
    this.#changed = options.changed;
    this.#afterHandler = options.afterHandler;
  }

  /** Handlers running now (including those whose message was acknowledged early). */
  get inFlight(): number {
    return this.#running.size;
  }

  /** The consumer stops: the deliveries waiting for a slot go back to the queue. */
  requeueWaiting(): void {
    for (const delivery of this.#waiting.splice(0)) {
      this.#clearTimer(delivery);
      this.#settle(delivery, 'requeue');
    }
  }

  /** The consumer closes at once: the deliveries waiting for a slot go back with the channel. */
  dropWaiting(): void {
    for (const delivery of this.#waiting.splice(0)) {
      this.#clearTimer(delivery);
      delivery.settled = true;
    }
  }

  /** `channel` closed: the deliveries waiting on it are forgotten (the broker has them back). */
  dropChannel(channel: Channel): void {
    for (const delivery of this.#waiting) {
      if (delivery.channel === channel) {
        this.#clearTimer(delivery);
        delivery.settled = true;
      }
    }
    this.#waiting = this.#waiting.filter((delivery) => !delivery.settled);
  }

  /** A message arrived on `channel`: it starts at once, waits for a slot, or is dead-lettered. */
  receive(channel: Channel, message: ConsumeMessage): void {
    const number = deliveryNumber(message);
    const jobId = decodeBody(message, this.#endpoint);
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
      traceContext: traceContextOf(message),
      number,
      redelivered: message.fields.redelivered || number > 1,
      settled: false,
      earlyAcked: false,
      timer: null,
    };
    if (!this.#isRunning() || channel !== this.#channel()) {
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
    this.#options.logger.warn(
      { endpoint: this.#endpoint, jobId, reason, deliveries },
      'amqp message dead-lettered',
    );
    this.#events.emit({ type: 'dead-lettered', endpoint: this.#endpoint, jobId, reason, deliveries });
  }

  #start(delivery: Delivery): void {
    this.#running.add(delivery);
    delivery.timer = setTimeout(() => this.#ackEarly(delivery), this.#options.ackAfterMs);
    unref(delivery.timer);
    const handle = async () =>
      this.#handler(
        delivery.traceContext
          ? {
              endpoint: this.#endpoint,
              jobId: delivery.jobId,
              redelivered: delivery.redelivered,
              traceContext: delivery.traceContext,
            }
          : { endpoint: this.#endpoint, jobId: delivery.jobId, redelivered: delivery.redelivered },
      );
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
      this.#options.logger.info(
        { endpoint: this.#endpoint, jobId: delivery.jobId, ackAfterMs: this.#options.ackAfterMs },
        'amqp message of a long-running handler acknowledged early',
      );
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
        this.#options.logger.debug(
          {
            endpoint: this.#endpoint,
            jobId: delivery.jobId,
            delivery: delivery.number,
            error: describeError(error),
          },
          'amqp handler rejected; the message will be delivered again',
        );
        if (delivery.number >= this.#options.maxDeliveries) {
          if (this.#settle(delivery, 'dead-letter'))
            this.#reportDeadLetter(delivery.jobId, 'delivery-limit', delivery.number);
        } else {
          if (
            this.#isRunning() &&
            delivery.channel === this.#channel() &&
            this.#options.redeliveryDelayMs > 0
          ) {
            await sleep(this.#options.redeliveryDelayMs, this.#signal);
          }
          this.#settle(delivery, 'requeue');
        }
      }
    } catch (unexpected) {
      this.#options.logger.error(
        { endpoint: this.#endpoint, jobId: delivery.jobId, error: describeError(unexpected) },
        'amqp consumer failed to settle a delivery',
      );
    } finally {
      this.#running.delete(delivery);
      this.#changed.notify();
      this.#pump();
      this.#afterHandler();
    }
  }

  /** The handler of an early-acknowledged message rejected: publish the job id again (or dead-letter it). */
  async #publishAgain(delivery: Delivery, error: unknown): Promise<void> {
    const last = delivery.number >= this.#options.maxDeliveries;
    try {
      await this.#publisher.publish({ endpoint: this.#endpoint, deadLetter: last }, delivery.jobId, {
        ...traceHeaders(delivery.traceContext),
        [PRIOR_DELIVERIES_HEADER]: delivery.number,
        ...(last ? { [DEAD_LETTER_REASON_HEADER]: 'delivery_limit' } : {}),
      });
      if (last) this.#reportDeadLetter(delivery.jobId, 'delivery-limit', delivery.number);
    } catch (publishError) {
      this.#options.logger.warn(
        {
          endpoint: this.#endpoint,
          jobId: delivery.jobId,
          handlerError: describeError(error),
          error: describeError(publishError),
        },
        'amqp could not publish the job again; the sweeper will dispatch it',
      );
    }
  }

  /** A delivery waited `ackAfterMs` for a slot: hand it back (a fresh copy at the queue's tail) before the broker's timeout. */
  async #handBack(delivery: Delivery): Promise<void> {
    delivery.timer = null;
    const index = this.#waiting.indexOf(delivery);
    if (index < 0 || delivery.settled) return;
    this.#waiting.splice(index, 1);
    try {
      await this.#publisher.publish({ endpoint: this.#endpoint }, delivery.jobId, {
        ...traceHeaders(delivery.traceContext),
        [PRIOR_DELIVERIES_HEADER]: delivery.number - 1,
      });
      // If the channel is gone the original comes back too: a duplicate, which the repository's claim drops.
      this.#settle(delivery, 'ack');
    } catch (error) {
      this.#options.logger.warn(
        { endpoint: this.#endpoint, jobId: delivery.jobId, error: describeError(error) },
        'amqp could not hand a waiting message back by publishing; requeueing it',
      );
      this.#settle(delivery, 'requeue');
    }
  }

  #pump(): void {
    while (this.#isRunning() && this.#running.size < this.#concurrency && this.#waiting.length > 0) {
      const delivery = this.#waiting.shift()!;
      this.#clearTimer(delivery);
      if (delivery.settled) continue;
      if (delivery.channel !== this.#channel()) {
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
    if (channel !== this.#channel()) {
      this.#options.logger.debug(
        { endpoint: this.#endpoint, jobId: delivery.jobId, settlement },
        'amqp delivery settled after its channel closed; the broker delivers it again',
      );
      return false;
    }
    try {
      if (settlement === 'ack') channel.ack(delivery.message);
      else if (settlement === 'requeue') channel.nack(delivery.message, false, true);
      else channel.reject(delivery.message, false);
      return true;
    } catch (error) {
      this.#options.logger.debug(
        { endpoint: this.#endpoint, jobId: delivery.jobId, settlement, error: describeError(error) },
        'amqp settlement dropped: the channel is closing',
      );
      return false;
    }
  }

  #clearTimer(delivery: Delivery): void {
    if (delivery.timer) clearTimeout(delivery.timer);
    delivery.timer = null;
  }
}
