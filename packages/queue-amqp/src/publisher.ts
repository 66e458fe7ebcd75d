import { UnavailableError } from '@jobs/core';
import type { ChannelModel, ConfirmChannel, Message } from 'amqplib';
import type { ConnectionUser, ManagedConnection } from './connection.js';
import type { EventHub } from './events.js';
import { encodeBody } from './message.js';
import type { ResolvedOptions } from './options.js';
import type { Topology } from './topology.js';
import { beforeDeadline, closeQuietly, describeError, reconnectDelay, TimeoutError, unref } from './util.js';

/** Where a message goes: an endpoint's queue (through the default exchange) or the dead-letter exchange. */
export interface Target {
  endpoint: string;
  deadLetter?: boolean;
}

interface Pending {
  /** Set when the broker returned the message as unroutable (it arrives before the confirm). */
  returned: string | null;
}

/**
 * Publishes on a confirm channel of the publish connection: persistent, `mandatory` (an unroutable message
 * comes back and fails its publish), resolved only by the broker's confirm. Waits within `publishTimeoutMs`
 * for a connection, an unblocked broker and a drained write buffer; then rejects with `UnavailableError`.
 */
export class Publisher implements ConnectionUser {
  readonly #connection: ManagedConnection;
  readonly #options: ResolvedOptions;
  readonly #topology: Topology;
  readonly #events: EventHub;
  readonly #pending = new Map<string, Pending>();
  /** Publishes awaiting their confirm, per channel: a retired channel is closed once it has none. */
  readonly #inFlight = new Map<ConfirmChannel, number>();
  /** Channels no longer published on (one was nacked), kept open until their confirms are in. */
  readonly #retired = new Set<ConfirmChannel>();
  #channel: ConfirmChannel | null = null;
  #channelConnection: ChannelModel | null = null;
  /** Set while amqplib's write buffer is full; cleared by the channel's 'drain'. */
  #draining = false;
  #channelFailures = 0;
  #reopenTimer: ReturnType<typeof setTimeout> | null = null;
  #reopenFor: ChannelModel | null = null;
  #unuse: (() => void) | null = null;
  #closed = false;

  constructor(connection: ManagedConnection, options: ResolvedOptions, topology: Topology, events: EventHub) {
    this.#connection = connection;
    this.#options = options;
    this.#topology = topology;
    this.#events = events;
  }

  connected(connection: ChannelModel): void {
    void this.#openChannel(connection);
  }

  disconnected(): void {
    this.#channel = null;
    this.#channelConnection = null;
    this.#draining = false;
  }

  /**
   * Publishes `jobId` for `target`, resolving once the broker confirmed it. `headers` carry the trace context,
   * and the delivery count of a message handed back by a consumer.
   */
  async publish(target: Target, jobId: string, headers: Record<string, unknown> = {}): Promise<void> {
    if (this.#closed) throw new UnavailableError('The AMQP queue is closed.');
    if (!this.#unuse) this.#unuse = this.#connection.use(this);
    const deadline = Date.now() + this.#options.publishTimeoutMs;
    const { channel, connection } = await this.#writable(target, deadline);
    return this.#send(channel, connection, target, jobId, headers);
  }

  /**
   * Publishes many job ids with every message in flight at once, the confirms awaited together; entry i is null
   * when message i was confirmed, else why not.
   */
  async publishMany(
    messages: readonly { target: Target; jobId: string; headers?: Record<string, unknown> }[],
  ): Promise<Array<Error | null>> {
    if (this.#closed) return messages.map(() => new UnavailableError('The AMQP queue is closed.'));
    if (!this.#unuse) this.#unuse = this.#connection.use(this);
    const deadline = Date.now() + this.#options.publishTimeoutMs;
    const ready = new Map<string, Promise<{ channel: ConfirmChannel; connection: ChannelModel }>>();
    return Promise.all(
      messages.map(async ({ target, jobId, headers }) => {
        const key = `${target.deadLetter ? 'dl' : 'q'}:${target.endpoint}`;
        let writable = ready.get(key);
        if (!writable) {
          writable = this.#writable(target, deadline);
          ready.set(key, writable);
        }
        try {
          const { channel, connection } = await writable;
          await this.#send(channel, connection, target, jobId, headers ?? {});
          return null;
        } catch (error) {
          return error instanceof Error ? error : new Error(String(error));
        }
      }),
    );
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#unuse?.();
    if (this.#reopenTimer) clearTimeout(this.#reopenTimer);
    const channel = this.#channel;
    this.#channel = null;
    const retired = [...this.#retired];
    this.#retired.clear();
    // Unconfirmed publishes fail with 'channel closed' when the channel goes.
    await Promise.all([channel, ...retired].map((open) => (open ? closeQuietly(open) : undefined)));
  }

  /** Waits for a channel that may be written to now, with the target's queue declared. */
  async #writable(
    target: Target,
    publishDeadline: number,
  ): Promise<{ channel: ConfirmChannel; connection: ChannelModel }> {
    // The first connection attempt and the opening of the channel on a live connection are always awaited
    // (bounded by connectTimeoutMs): publishTimeoutMs bounds the wait for a broker known to be down or blocked,
    // not the lazy first connect.
    const settlingDeadline = Date.now() + this.#options.connectTimeoutMs + 1_000;
    let lastError: unknown;
    for (;;) {
      const live = this.#connection.connection;
      const settling =
        this.#connection.firstAttemptPending || (live !== null && this.#channelConnection !== live);
      const deadline = settling ? Math.max(publishDeadline, settlingDeadline) : publishDeadline;
      if (this.#closed) throw new UnavailableError('The AMQP queue is closed.');
      const connection = this.#connection.connection;
      const channel = this.#channel;
      if (connection && channel && this.#channelConnection === connection && !this.#connection.blocked) {
        try {
          const declaring = target.deadLetter
            ? this.#topology.ensureDeadLetter(connection)
            : this.#topology.ensure(connection, target.endpoint);
          // A declare is a round trip like a confirm: bounded by confirmTimeoutMs at least, so that
          // publishTimeoutMs = 0 ("do not wait for a connection") still lets the first publish declare.
          await beforeDeadline(
            declaring,
            Math.max(deadline, Date.now() + this.#options.confirmTimeoutMs),
            'declaring the queue',
          );
          if (this.#channel === channel && !this.#connection.blocked && !this.#draining)
            return { channel, connection };
        } catch (error) {
          if (error instanceof TimeoutError) throw this.#unavailable(error);
          lastError = error;
          // The connection may be going away; wait a little for the state to settle, then look again.
          const remaining = deadline - Date.now();
          if (remaining <= 0) throw this.#unavailable(lastError);
          await this.#connection.changed.wait(Math.min(remaining, 100));
          continue;
        }
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw this.#unavailable(lastError);
      await this.#connection.changed.wait(remaining);
    }
  }

  #unavailable(cause: unknown): UnavailableError {
    if (this.#closed) return new UnavailableError('The AMQP queue is closed.');
    if (this.#connection.blocked || !this.#connection.connection || !this.#channel) {
      return this.#connection.unavailable();
    }
    if (this.#draining)
      return new UnavailableError('RabbitMQ is unavailable: the write buffer did not drain in time.');
    return new UnavailableError(`RabbitMQ is unavailable: ${describeError(cause)}.`, { cause });
  }

  #send(
    channel: ConfirmChannel,
    connection: ChannelModel,
    target: Target,
    jobId: string,
    headers: Record<string, unknown>,
  ): Promise<void> {
    const messageId = crypto.randomUUID();
    const exchange = target.deadLetter ? this.#deadLetterExchange : '';
    const routingKey = this.#queueName(target.endpoint);
    const body = encodeBody(target.endpoint, jobId);
    return new Promise<void>((resolve, reject) => {
      const pending: Pending = { returned: null };
      let settled = false;
      const finish = (error?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.#pending.delete(messageId);
        this.#settledOn(channel);
        if (error) reject(error);
        else resolve();
      };
      const timer = setTimeout(
        () =>
          finish(
            new UnavailableError(
              `RabbitMQ is unavailable: the message was not confirmed within ${this.#options.confirmTimeoutMs} ms.`,
            ),
          ),
        this.#options.confirmTimeoutMs,
      );
      this.#pending.set(messageId, pending);
      this.#inFlight.set(channel, (this.#inFlight.get(channel) ?? 0) + 1);
      try {
        const writable = channel.publish(
          exchange,
          routingKey,
          body,
          {
            persistent: true,
            mandatory: true,
            messageId,
            contentType: 'application/json',
            timestamp: Math.floor(Date.now() / 1000),
            headers,
          },
          (error: unknown) => {
            if (error) {
              finish(
                new UnavailableError(`RabbitMQ did not accept the message: ${describeError(error)}.`, {
                  cause: error,
                }),
              );
              // A nack (a channel closing fails its confirms too, but is replaced by then: see #retire).
              setImmediate(() => this.#retire(channel, connection, describeError(error)));
            } else if (pending.returned) {
              // The queue is gone (deleted by someone): declare it again before the next publish.
              this.#topology.forget(connection, target.endpoint);
              finish(new UnavailableError(`RabbitMQ could not route the message: ${pending.returned}.`));
            } else {
              this.#channelFailures = 0;
              finish();
            }
          },
        );
        if (!writable) {
          this.#draining = true;
        }
      } catch (error) {
        finish(new UnavailableError(`RabbitMQ is unavailable: ${describeError(error)}.`, { cause: error }));
      }
    });
  }

  get #deadLetterExchange(): string {
    return `${this.#options.prefix}.dead-letter`;
  }

  #queueName(endpoint: string): string {
    return `${this.#options.prefix}.${endpoint}`;
  }

  /**
   * Stops publishing on a channel whose message the broker nacked, and opens a new one. RabbitMQ 3.10 nacks
   * every message a channel publishes to a quorum queue while the channel cannot register with the queue's
   * leader, and a channel that first published while the leader's node was down (just after a failover to
   * another node of a cluster) keeps failing so for as long as it lives; a new channel finds the new leader.
   * In-flight publishes of the old channel keep their confirms: it is closed once they are in.
   */
  #retire(channel: ConfirmChannel, connection: ChannelModel, error: string): void {
    if (this.#closed || this.#channel !== channel) return; // closed, or already replaced
    this.#options.logger.warn({ error }, 'amqp publish nacked by the broker; publishing on a new channel');
    this.#channel = null;
    this.#channelConnection = null;
    this.#draining = false;
    this.#retired.add(channel);
    this.#settledOn(channel, 0);
    this.#connection.changed.notify();
    this.#events.emit({ type: 'channel-closed', role: 'publish', endpoint: undefined, error });
    this.#scheduleReopen(connection);
  }

  /** One publish on `channel` got its answer (or `by` = 0: none); closes a retired channel once it has none left. */
  #settledOn(channel: ConfirmChannel, by = 1): void {
    const left = Math.max(0, (this.#inFlight.get(channel) ?? 0) - by);
    if (left > 0) {
      this.#inFlight.set(channel, left);
      return;
    }
    this.#inFlight.delete(channel);
    if (this.#retired.delete(channel)) void closeQuietly(channel);
  }

  #onReturn(message: Message): void {
    const messageId = message.properties.messageId as string | undefined;
    const pending = messageId ? this.#pending.get(messageId) : undefined;
    if (pending)
      pending.returned = `${message.fields.exchange || '(default exchange)'} → ${message.fields.routingKey}`;
  }

  async #openChannel(connection: ChannelModel): Promise<void> {
    if (this.#closed || this.#connection.connection !== connection) return;
    let channel: ConfirmChannel;
    try {
      channel = await connection.createConfirmChannel();
    } catch (error) {
      this.#options.logger.warn({ error: describeError(error) }, 'amqp publish channel could not be opened');
      this.#scheduleReopen(connection);
      return;
    }
    if (this.#closed || this.#connection.connection !== connection) {
      void closeQuietly(channel);
      return;
    }
    let lastError: string | undefined;
    channel.on('error', (error: unknown) => {
      lastError = describeError(error);
      this.#options.logger.warn({ error: lastError }, 'amqp publish channel error');
    });
    channel.on('close', () => {
      if (this.#channel !== channel) return;
      this.#channel = null;
      this.#channelConnection = null;
      this.#draining = false;
      this.#connection.changed.notify();
      // A channel closed together with its connection is reopened on reconnect; alone, it is reopened here.
      setImmediate(() => {
        if (this.#closed || this.#connection.connection !== connection) return;
        this.#events.emit({ type: 'channel-closed', role: 'publish', endpoint: undefined, error: lastError });
        this.#scheduleReopen(connection);
      });
    });
    channel.on('return', (message: Message) => this.#onReturn(message));
    channel.on('drain', () => {
      this.#draining = false;
      this.#connection.changed.notify();
    });
    this.#channel = channel;
    this.#channelConnection = connection;
    this.#draining = false;
    this.#connection.changed.notify();
  }

  #scheduleReopen(connection: ChannelModel): void {
    if (this.#closed) return;
    if (this.#reopenTimer) {
      if (this.#reopenFor === connection) return; // already scheduled for this connection
      clearTimeout(this.#reopenTimer); // scheduled for a connection that is gone
    }
    this.#reopenFor = connection;
    this.#channelFailures++;
    const delayMs = reconnectDelay(this.#channelFailures, this.#options.reconnect);
    this.#reopenTimer = setTimeout(() => {
      this.#reopenTimer = null;
      void this.#openChannel(connection);
    }, delayMs);
    unref(this.#reopenTimer);
  }
}
