import type { Logger } from '@jobs/core';
import type { ChannelModel, Options } from 'amqplib';
import type { Names } from './options.js';
import { describeError, replyCode, withChannel } from './util.js';

const PRECONDITION_FAILED = 406;

export interface TopologyOptions {
  names: Names;
  maxDeliveries: number;
  deadLetterMaxLength: number;
  logger: Logger;
}

/**
 * Declares the queues and exchange, once per connection and endpoint (again after every reconnect: a broker
 * restart or a deleted queue is healed by the next declare). Declares are idempotent; one that finds the
 * queue declared with other arguments (406) keeps the existing queue and logs a warning.
 */
export class Topology {
  readonly #options: TopologyOptions;
  readonly #declared = new WeakMap<ChannelModel, Map<string, Promise<void>>>();

  constructor(options: TopologyOptions) {
    this.#options = options;
  }

  /** The arguments of an endpoint queue. */
  queueArguments(): Record<string, unknown> {
    return {
      'x-queue-type': 'quorum',
      'x-dead-letter-exchange': this.#options.names.deadLetterExchange,
      // A quorum queue dead-letters a message returned more than this many times: maxDeliveries deliveries.
      'x-delivery-limit': this.#options.maxDeliveries - 1,
    };
  }

  deadLetterArguments(): Record<string, unknown> {
    return {
      'x-queue-type': 'quorum',
      'x-max-length': this.#options.deadLetterMaxLength,
    };
  }

  /** Declares the dead-letter exchange and queue, and the endpoint's queue, on this connection. */
  ensure(connection: ChannelModel, endpoint: string): Promise<void> {
    return this.#once(connection, `queue:${endpoint}`, async () => {
      await this.ensureDeadLetter(connection);
      await this.#assertQueue(connection, this.#options.names.queue(endpoint), {
        durable: true,
        arguments: this.queueArguments(),
      });
    });
  }

  ensureDeadLetter(connection: ChannelModel): Promise<void> {
    const { deadLetterExchange, deadLetterQueue } = this.#options.names;
    return this.#once(connection, 'dead-letter', async () => {
      await this.#assertExchange(connection, deadLetterExchange);
      await this.#assertQueue(connection, deadLetterQueue, {
        durable: true,
        arguments: this.deadLetterArguments(),
      });
      await withChannel(connection, (channel) => channel.bindQueue(deadLetterQueue, deadLetterExchange, ''));
    });
  }

  /** Forgets that an endpoint's queue was declared (it was found missing), so the next use declares it again. */
  forget(connection: ChannelModel, endpoint: string): void {
    this.#declared.get(connection)?.delete(`queue:${endpoint}`);
  }

  #once(connection: ChannelModel, key: string, declare: () => Promise<void>): Promise<void> {
    let declared = this.#declared.get(connection);
    if (!declared) {
      declared = new Map();
      this.#declared.set(connection, declared);
    }
    const existing = declared.get(key);
    if (existing) return existing;
    const promise = declare();
    declared.set(key, promise);
    promise.catch(() => {
      if (declared.get(key) === promise) declared.delete(key);
    });
    return promise;
  }

  async #assertQueue(connection: ChannelModel, name: string, options: Options.AssertQueue): Promise<void> {
    try {
      await withChannel(connection, (channel) => channel.assertQueue(name, options));
    } catch (error) {
      if (replyCode(error) !== PRECONDITION_FAILED) throw error;
      // Declared before with other arguments (another version, other options, or by an operator): use it.
      await withChannel(connection, (channel) => channel.checkQueue(name));
      this.#options.logger.warn(
        { queue: name, arguments: options.arguments, error: describeError(error) },
        'queue exists with other arguments than this client declares; using it as it is',
      );
    }
  }

  async #assertExchange(connection: ChannelModel, name: string): Promise<void> {
    try {
      await withChannel(connection, (channel) => channel.assertExchange(name, 'fanout', { durable: true }));
    } catch (error) {
      if (replyCode(error) !== PRECONDITION_FAILED) throw error;
      await withChannel(connection, (channel) => channel.checkExchange(name));
      this.#options.logger.warn(
        { exchange: name, error: describeError(error) },
        'exchange exists with other properties than this client declares; using it',
      );
    }
  }
}
