import { type JobChange, type Logger, type SubscribeOptions, UnavailableError, within } from '@jobs/core';
import pg from 'pg';
import { isConnectionError } from './errors.js';
import { parseNotice } from './rows.js';

export interface ChangeListenerOptions {
  /** Connection settings of the dedicated LISTEN connection (never a pooled connection). */
  clientConfig: pg.ClientConfig;
  /** Quoted channel identifier for LISTEN, and its plain name as pg_notify sends it. */
  channel: string;
  quotedChannel: string;
  logger: Logger;
  /** First reconnect delay; doubles up to maxReconnectDelayMs, with jitter. */
  reconnectDelayMs: number;
  maxReconnectDelayMs: number;
  /**
   * How often the LISTEN connection proves it is alive with a query (bounded by the same time): a connection
   * that stops answering without closing (a black-holed network) is dropped and replaced.
   */
  healthCheckIntervalMs: number;
}

interface Subscriber {
  listener: (change: JobChange) => void;
  onLiveChange: ((live: boolean) => void) | undefined;
}

type State = 'idle' | 'connecting' | 'listening' | 'closed';

/**
 * One dedicated connection that LISTENs on the change channel and fans notifications out to subscribers.
 * It connects on the first subscription, reconnects with exponential backoff when the connection drops
 * (as long as someone is subscribed), and never lets a connection error escape as an unhandled event.
 */
export class ChangeListener {
  private readonly subscribers = new Set<Subscriber>();
  private healthTimer: NodeJS.Timeout | null = null;
  private state: State = 'idle';
  private client: pg.Client | null = null;
  private attempt: Promise<void> | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private failures = 0;
  private wasUp = false;

  constructor(private readonly options: ChangeListenerOptions) {}

  get listening(): boolean {
    return this.state === 'listening';
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /** Resolves once LISTEN is active; rejects with UnavailableError when the connection cannot be made now. */
  async subscribe(
    listener: (change: JobChange) => void,
    options: SubscribeOptions = {},
  ): Promise<() => void> {
    if (this.state === 'closed') throw new UnavailableError('The repository is closed.');
    // A distinct entry per call, so the same function subscribed twice is called twice and unsubscribed once.
    const entry: Subscriber = { listener, onLiveChange: options.onLiveChange };
    this.subscribers.add(entry);
    try {
      await this.ensureListening();
    } catch (error) {
      this.subscribers.delete(entry);
      throw error;
    }
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      this.subscribers.delete(entry);
    };
  }

  private deliver(change: JobChange): void {
    for (const subscriber of [...this.subscribers]) {
      try {
        subscriber.listener(change);
      } catch (error) {
        this.options.logger.error({ error: String(error) }, 'jobs repository: a change subscriber threw');
      }
    }
  }

  private announceLive(live: boolean): void {
    for (const subscriber of [...this.subscribers]) {
      try {
        subscriber.onLiveChange?.(live);
      } catch (error) {
        this.options.logger.error({ error: String(error) }, 'jobs repository: a change subscriber threw');
      }
    }
  }

  private async ensureListening(): Promise<void> {
    if (this.state === 'listening') return;
    if (this.state === 'closed') throw new UnavailableError('The repository is closed.');
    this.clearRetry(); // someone is waiting: try now rather than after the backoff
    this.attempt ??= this.connect().finally(() => {
      this.attempt = null;
    });
    await this.attempt;
  }

  private async connect(): Promise<void> {
    this.state = 'connecting';
    const client = new pg.Client(this.options.clientConfig);
    // Attached before connect: an error event without a listener would crash the process.
    client.on('error', (error) => this.dropped(client, error));
    client.on('end', () => this.dropped(client, null));
    client.on('notification', (message) => {
      if (message.channel !== this.options.channel || !message.payload) return;
      const change = parseNotice(message.payload);
      if (change) this.deliver(change);
    });
    this.client = client;
    let failure: unknown = null;
    try {
      await client.connect();
      // Bounded like the health check: a connection that goes silent here must not leave it connecting forever.
      await client.query({
        text: `LISTEN ${this.options.quotedChannel}`,
        query_timeout: this.options.healthCheckIntervalMs,
      } as pg.QueryConfig);
      // The connection may have dropped (and been replaced or abandoned) while LISTEN was under way.
      if (this.client !== client) failure = new Error('Connection terminated while starting LISTEN');
    } catch (error) {
      failure = error;
    }
    if ((this.state as State) === 'closed') {
      this.discard(client);
      throw new UnavailableError('The repository is closed.');
    }
    if (failure !== null) {
      if (this.client === client) this.client = null;
      this.discard(client);
      this.state = 'idle';
      this.failures += 1;
      this.scheduleRetry();
      if (isConnectionError(failure)) {
        throw new UnavailableError('The job database is unavailable (LISTEN connection).', {
          cause: failure,
        });
      }
      throw failure;
    }
    this.state = 'listening';
    this.failures = 0;
    if (this.wasUp) {
      this.options.logger.info({}, 'jobs repository: LISTEN connection restored');
      this.announceLive(true);
    }
    this.wasUp = true;
    this.scheduleHealthCheck(client);
  }

  /** Proves the connection alive every interval; a query that fails or does not answer in time drops it. */
  private scheduleHealthCheck(client: pg.Client): void {
    if (this.healthTimer) clearTimeout(this.healthTimer);
    const interval = this.options.healthCheckIntervalMs;
    this.healthTimer = setTimeout(() => {
      this.healthTimer = null;
      if (this.client !== client || this.state !== 'listening') return;
      client.query({ text: 'SELECT 1', query_timeout: interval } as pg.QueryConfig).then(
        () => this.scheduleHealthCheck(client),
        (error: Error) => this.dropped(client, error),
      );
    }, interval);
    this.healthTimer.unref?.();
  }

  private discard(client: pg.Client): void {
    client.removeAllListeners('end');
    client.removeAllListeners('notification');
    // end() waits for the server to answer; a connection that stopped answering must not hold it open.
    (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
    client.end().catch(() => {});
  }

  private dropped(client: pg.Client, error: Error | null): void {
    if (this.client !== client) return; // an old connection, already replaced
    this.client = null;
    this.discard(client);
    if (this.state === 'closed') return;
    const wasListening = this.state === 'listening';
    if (wasListening) {
      this.state = 'idle';
      this.options.logger.warn(
        { error: error ? String(error.message) : 'connection ended' },
        'jobs repository: LISTEN connection lost; reconnecting',
      );
      this.announceLive(false);
      this.scheduleRetry();
    }
    // While connecting, connect() sees the failure itself and schedules the retry.
  }

  private scheduleRetry(): void {
    if (this.state === 'closed' || this.retryTimer || this.subscribers.size === 0) return;
    const base = Math.min(
      this.options.maxReconnectDelayMs,
      this.options.reconnectDelayMs * 2 ** Math.min(this.failures, 20),
    );
    const delay = Math.round(base / 2 + (Math.random() * base) / 2);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.state !== 'idle' || this.attempt || this.subscribers.size === 0) return;
      this.ensureListening().catch((error) => {
        this.options.logger.debug({ error: String(error) }, 'jobs repository: LISTEN reconnect failed');
      });
    }, delay);
    this.retryTimer.unref?.();
  }

  private clearRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  /** Test hook and operational aid: the backend pid of the LISTEN connection, when connected. */
  get processId(): number | null {
    return (this.client as unknown as { processID?: number } | null)?.processID ?? null;
  }

  async close(): Promise<void> {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.healthTimer) clearTimeout(this.healthTimer);
    this.healthTimer = null;
    this.state = 'closed';
    this.subscribers.clear();
    const client = this.client;
    this.client = null;
    if (client) {
      client.removeAllListeners('end');
      client.removeAllListeners('notification');
      // end() waits for the server's goodbye: a connection that stopped answering must not hold close() forever.
      const ended = client.end().then(
        () => true,
        () => true,
      );
      if (!(await within(ended, this.options.healthCheckIntervalMs, false))) {
        (
          client as unknown as { connection?: { stream?: { destroy(): void } } }
        ).connection?.stream?.destroy();
      }
    }
    await this.attempt?.catch(() => {});
  }
}

/**
 * Connection settings of the LISTEN connection: `listen` (a connection string or settings), or else the pool's
 * own.
 */
export function listenClientConfig(
  listen: string | pg.ClientConfig | undefined,
  pool: pg.Pool,
): pg.ClientConfig {
  if (typeof listen === 'string')
    return { connectionString: listen, keepAlive: true, connectionTimeoutMillis: 10_000 };
  if (listen) return { keepAlive: true, connectionTimeoutMillis: 10_000, ...listen };
  // The pool's own settings (password and ssl key are non-enumerable there: copy them explicitly).
  const source = pool.options as pg.PoolConfig;
  return {
    ...source,
    password: source.password,
    ssl: source.ssl,
    keepAlive: true,
    connectionTimeoutMillis: source.connectionTimeoutMillis || 10_000,
  } as pg.ClientConfig;
}
