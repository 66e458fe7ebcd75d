import { sleep, UnavailableError } from '@jobs/core';
import { type ChannelModel, connect } from 'amqplib';
import type { ConnectionRole, EventHub } from './events.js';
import type { ResolvedOptions } from './options.js';
import { closeQuietly, describeError, reconnectDelay, Signal } from './util.js';

/** Something that lives on a connection: told when one is up, and when it is gone. */
export interface ConnectionUser {
  /** A connection is up (first time or after a reconnect). Must not throw; runs its own error handling. */
  connected(connection: ChannelModel): void;
  /** The connection is gone: every channel on it is closed. */
  disconnected(): void;
}

/** A connection that lived this long counts as healthy: the next loss starts the backoff from the beginning. */
const STABLE_MS = 10_000;

/**
 * One AMQP connection, kept open: opened on first use, reopened with exponential backoff and jitter whenever it
 * is lost, until `close()`. Every 'error' event is handled here; nothing the broker does throws out of it.
 */
export class ManagedConnection {
  readonly role: ConnectionRole;
  /** Notified on every change: connected, lost, blocked, unblocked (and by users, for their channels). */
  readonly changed = new Signal();
  readonly #options: ResolvedOptions;
  readonly #events: EventHub;
  readonly #users = new Set<ConnectionUser>();
  readonly #stop = new AbortController();
  #current: ChannelModel | null = null;
  #blocked: string | null = null;
  #lastError: string | undefined;
  #loop: Promise<void> | null = null;
  #closed = false;
  #attempted = false;

  constructor(role: ConnectionRole, options: ResolvedOptions, events: EventHub) {
    this.role = role;
    this.#options = options;
    this.#events = events;
  }

  /** The open connection, or null while connecting, reconnecting or closed. */
  get connection(): ChannelModel | null {
    return this.#current;
  }

  /** Why the broker blocked the connection (resource alarm), or null. */
  get blocked(): string | null {
    return this.#blocked;
  }

  /** Whether anything used the connection yet (it opens on first use). */
  get started(): boolean {
    return this.#loop !== null;
  }

  /** True until the first connection attempt has succeeded or failed. */
  get firstAttemptPending(): boolean {
    return !this.#attempted && !this.#closed;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Starts connecting (and keeps the connection open from then on). Idempotent. */
  start(): void {
    if (this.#closed || this.#loop) return;
    this.#loop = this.#run().catch((error) => {
      this.#options.logger.error('amqp connection loop failed', {
        role: this.role,
        error: describeError(error),
      });
    });
  }

  /** Registers a user; it is told at once if the connection is up. Returns the unregister function. */
  use(user: ConnectionUser): () => void {
    this.#users.add(user);
    const current = this.#current;
    if (current)
      queueMicrotask(() => this.#users.has(user) && this.#current === current && user.connected(current));
    this.start();
    return () => {
      this.#users.delete(user);
    };
  }

  /** Waits for an open connection until `deadline` (epoch ms), then rejects with `UnavailableError`. */
  async ready(deadline: number): Promise<ChannelModel> {
    this.start();
    for (;;) {
      if (this.#closed) throw new UnavailableError('The AMQP queue is closed.');
      const current = this.#current;
      if (current) return current;
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw this.unavailable();
      await this.changed.wait(remaining);
    }
  }

  /** The error to reject with while the connection is down. */
  unavailable(): UnavailableError {
    if (this.#closed) return new UnavailableError('The AMQP queue is closed.');
    const why = this.#blocked
      ? `the broker blocked the connection (${this.#blocked})`
      : `not connected${this.#lastError ? ` (${this.#lastError})` : ''}`;
    return new UnavailableError(`RabbitMQ is unavailable: ${why}.`);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stop.abort();
    const current = this.#current;
    if (current) await closeQuietly(current);
    this.changed.notify();
    await this.#loop;
  }

  async #run(): Promise<void> {
    let attempt = 0;
    while (!this.#closed) {
      this.#events.emit({ type: 'connecting', role: this.role });
      let connection: ChannelModel;
      try {
        connection = await this.#open();
      } catch (error) {
        this.#attempted = true;
        this.#lastError = describeError(error);
        if (this.#closed) break;
        this.#options.logger.warn('amqp connection failed', { role: this.role, error: this.#lastError });
        this.#events.emit({ type: 'disconnected', role: this.role, error: this.#lastError });
        this.changed.notify();
        attempt++;
        await this.#backoff(attempt);
        continue;
      }
      if (this.#closed) {
        await closeQuietly(connection);
        break;
      }
      this.#attempted = true;
      const connectedAt = Date.now();
      const lost = this.#watch(connection);
      this.#current = connection;
      this.#lastError = undefined;
      this.#events.emit({ type: 'connected', role: this.role });
      this.#options.logger.info('amqp connected', { role: this.role });
      this.changed.notify();
      for (const user of [...this.#users]) this.#tell(() => user.connected(connection));

      const error = await lost;
      this.#current = null;
      this.#blocked = null;
      if (error) this.#lastError = error;
      for (const user of [...this.#users]) this.#tell(() => user.disconnected());
      this.changed.notify();
      if (this.#closed) break;
      this.#options.logger.warn('amqp connection lost', { role: this.role, error });
      this.#events.emit({ type: 'disconnected', role: this.role, error });
      if (Date.now() - connectedAt >= STABLE_MS) attempt = 0;
      attempt++;
      await this.#backoff(attempt);
    }
    this.#current = null;
    this.changed.notify();
  }

  /** Handles the connection's events; resolves (with the error, if any) when it closes. */
  #watch(connection: ChannelModel): Promise<string | undefined> {
    return new Promise((resolve) => {
      let lastError: string | undefined;
      connection.on('error', (error: unknown) => {
        lastError = describeError(error);
        this.#options.logger.warn('amqp connection error', { role: this.role, error: lastError });
      });
      connection.on('close', (error: unknown) => {
        resolve(error ? describeError(error) : lastError);
      });
      connection.on('blocked', (reason: unknown) => {
        this.#blocked = String(reason ?? 'blocked');
        this.#options.logger.warn('amqp connection blocked by the broker', {
          role: this.role,
          reason: this.#blocked,
        });
        this.#events.emit({ type: 'blocked', role: this.role, reason: this.#blocked });
        this.changed.notify();
      });
      connection.on('unblocked', () => {
        this.#blocked = null;
        this.#options.logger.info('amqp connection unblocked', { role: this.role });
        this.#events.emit({ type: 'unblocked', role: this.role });
        this.changed.notify();
      });
    });
  }

  async #open(): Promise<ChannelModel> {
    const options = this.#options;
    const opening = options.connection
      ? options.connection()
      : connect(options.url, {
          timeout: options.connectTimeoutMs,
          ...options.socketOptions,
          clientProperties: {
            ...(options.socketOptions.clientProperties as Record<string, unknown> | undefined),
            connection_name: `${options.connectionName} (${this.role})`,
          },
        });
    // A custom factory may not bound its own time, and close() must not wait for a hanging attempt: give up
    // after connectTimeoutMs (or at close), and close a connection that arrives after that.
    let timer: ReturnType<typeof setTimeout> | undefined;
    let onAbort: (() => void) | undefined;
    let abandoned = false;
    try {
      return await Promise.race([
        opening,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            abandoned = true;
            reject(new Error(`connecting timed out after ${options.connectTimeoutMs} ms`));
          }, options.connectTimeoutMs + 1_000);
          onAbort = () => {
            abandoned = true;
            reject(new Error('the queue was closed while connecting'));
          };
          this.#stop.signal.addEventListener('abort', onAbort, { once: true });
        }),
      ]);
    } finally {
      clearTimeout(timer);
      if (onAbort) this.#stop.signal.removeEventListener('abort', onAbort);
      if (abandoned) {
        opening.then(
          (late) => {
            late.on('error', () => {});
            void closeQuietly(late);
          },
          () => {},
        );
      }
    }
  }

  async #backoff(attempt: number): Promise<void> {
    if (this.#closed) return;
    const delayMs = reconnectDelay(attempt, this.#options.reconnect);
    this.#events.emit({ type: 'reconnecting', role: this.role, attempt, delayMs });
    await sleep(delayMs, this.#stop.signal);
  }

  #tell(call: () => void): void {
    try {
      call();
    } catch (error) {
      this.#options.logger.error('amqp connection user failed', {
        role: this.role,
        error: describeError(error),
      });
    }
  }
}
