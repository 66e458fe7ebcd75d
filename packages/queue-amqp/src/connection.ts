import { sleep, UnavailableError } from '@jobs/core';
import { type ChannelModel, connect } from 'amqplib';
import type { ConnectionRole, EventHub } from './events.js';
import { DEFAULT_URL, type ResolvedOptions, redactUrl } from './options.js';
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

/** A copy of `items` in random order (Fisher–Yates). */
function shuffle<T>(items: readonly T[]): T[] {
  const shuffled = [...items];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
  }
  return shuffled;
}

/** Where a connection attempt goes: a broker URL (and how it is shown), or the custom `connection` factory. */
interface Address {
  url: string | undefined;
  shown: string | undefined;
}

/**
 * One AMQP connection, kept open: opened on first use, reopened with exponential backoff and jitter whenever it
 * is lost, until `close()`. Every 'error' event is handled here; nothing the broker does throws out of it.
 *
 * With several broker URLs (a cluster's nodes), every attempt takes the next URL in turn, in an order shuffled
 * once per connection: a round tries each URL once, one after the other without waiting; the backoff is between
 * rounds, and after a lost connection (whose next round starts at the URL after the lost one, so it moves to
 * another node).
 */
export class ManagedConnection {
  readonly role: ConnectionRole;
  /** Notified on every change: connected, lost, blocked, unblocked (and by users, for their channels). */
  readonly changed = new Signal();
  readonly #options: ResolvedOptions;
  readonly #events: EventHub;
  readonly #users = new Set<ConnectionUser>();
  readonly #stop = new AbortController();
  readonly #addresses: readonly Address[];
  /** Index of the address the next attempt takes. */
  #next = 0;
  #current: ChannelModel | null = null;
  #currentAddress: string | undefined;
  #blocked: string | null = null;
  #lastError: string | undefined;
  #loop: Promise<void> | null = null;
  #closed = false;
  #attempted = false;

  constructor(role: ConnectionRole, options: ResolvedOptions, events: EventHub) {
    this.role = role;
    this.#options = options;
    this.#events = events;
    // Each connection goes through the nodes in an order of its own (shuffled), so a fleet's connections
    // spread over the cluster, and those of a lost node spread over the nodes left.
    this.#addresses =
      options.urls.length > 0
        ? shuffle(options.urls.map((url) => ({ url, shown: redactUrl(url) })))
        : [{ url: undefined, shown: undefined }];
  }

  /** The open connection, or null while connecting, reconnecting or closed. */
  get connection(): ChannelModel | null {
    return this.#current;
  }

  /** The address (URL without credentials) of the open connection; undefined when not connected. */
  get address(): string | undefined {
    return this.#current ? this.#currentAddress : undefined;
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
      this.#options.logger.error(
        { role: this.role, error: describeError(error) },
        'amqp connection loop failed',
      );
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
      const opened = await this.#round();
      if (this.#closed) {
        if (opened) await closeQuietly(opened.connection);
        break;
      }
      this.#attempted = true;
      if (!opened) {
        this.changed.notify(); // a publish waiting for the first attempt may give up now
        attempt++;
        await this.#backoff(attempt);
        continue;
      }
      const { connection, address } = opened;
      const connectedAt = Date.now();
      const lost = this.#watch(connection, address);
      this.#current = connection;
      this.#currentAddress = address;
      this.#lastError = undefined;
      this.#events.emit({ type: 'connected', role: this.role, address });
      this.#options.logger.info({ role: this.role, address }, 'amqp connected');
      this.changed.notify();
      for (const user of [...this.#users]) this.#tell(() => user.connected(connection));

      const error = await lost;
      this.#current = null;
      this.#currentAddress = undefined;
      this.#blocked = null;
      if (error) this.#lastError = this.#addresses.length > 1 ? `${address}: ${error}` : error;
      for (const user of [...this.#users]) this.#tell(() => user.disconnected());
      this.changed.notify();
      if (this.#closed) break;
      this.#options.logger.warn({ role: this.role, address, error }, 'amqp connection lost');
      this.#events.emit({ type: 'disconnected', role: this.role, address, error });
      if (Date.now() - connectedAt >= STABLE_MS) attempt = 0;
      attempt++;
      await this.#backoff(attempt);
    }
    this.#current = null;
    this.#currentAddress = undefined;
    this.changed.notify();
  }

  /**
   * One round of attempts: each address once, in turn from the next one, until one connects. Resolves with
   * the open connection, or null when every address failed (or the queue was closed).
   */
  async #round(): Promise<{ connection: ChannelModel; address: string | undefined } | null> {
    const failures: string[] = [];
    for (let tried = 0; tried < this.#addresses.length && !this.#closed; tried++) {
      const address = this.#addresses[this.#next]!;
      this.#next = (this.#next + 1) % this.#addresses.length;
      this.#events.emit({ type: 'connecting', role: this.role, address: address.shown });
      try {
        return { connection: await this.#open(address.url), address: address.shown };
      } catch (error) {
        if (this.#closed) return null;
        const described = describeError(error);
        failures.push(this.#addresses.length > 1 ? `${address.shown}: ${described}` : described);
        this.#lastError = failures.join('; ');
        this.#options.logger.warn(
          { role: this.role, address: address.shown, error: described },
          'amqp connection failed',
        );
        this.#events.emit({
          type: 'disconnected',
          role: this.role,
          address: address.shown,
          error: described,
        });
        this.changed.notify();
      }
    }
    return null;
  }

  /** Handles the connection's events; resolves (with the error, if any) when it closes. */
  #watch(connection: ChannelModel, address: string | undefined): Promise<string | undefined> {
    return new Promise((resolve) => {
      let lastError: string | undefined;
      connection.on('error', (error: unknown) => {
        lastError = describeError(error);
        this.#options.logger.warn({ role: this.role, address, error: lastError }, 'amqp connection error');
      });
      connection.on('close', (error: unknown) => {
        resolve(error ? describeError(error) : lastError);
      });
      connection.on('blocked', (reason: unknown) => {
        this.#blocked = String(reason ?? 'blocked');
        this.#options.logger.warn(
          { role: this.role, address, reason: this.#blocked },
          'amqp connection blocked by the broker',
        );
        this.#events.emit({ type: 'blocked', role: this.role, reason: this.#blocked });
        this.changed.notify();
      });
      connection.on('unblocked', () => {
        this.#blocked = null;
        this.#options.logger.info({ role: this.role }, 'amqp connection unblocked');
        this.#events.emit({ type: 'unblocked', role: this.role });
        this.changed.notify();
      });
    });
  }

  async #open(url: string | undefined): Promise<ChannelModel> {
    const options = this.#options;
    const opening = options.connection
      ? options.connection()
      : connect(url ?? DEFAULT_URL, {
          timeout: options.connectTimeoutMs,
          ...options.socketOptions,
          clientProperties: {
            ...(options.socketOptions.clientProperties as Record<string, unknown> | undefined),
            connection_name: `${options.connectionName} (${this.role})`,
          },
        });
    // A custom factory may not bound its own time, and close() must not wait for a hanging attempt: give up
    // after connectTimeoutMs (or at close), and close a connection that arrives after that. (Not core's
    // withTimeout: it neither races the queue's stop signal nor says that the attempt was abandoned, and a late
    // connection nobody closes would stay open.)
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
      this.#options.logger.error(
        { role: this.role, error: describeError(error) },
        'amqp connection user failed',
      );
    }
  }
}
