import { checkNumber, consoleLogger, ENDPOINT_NAME_PATTERN, type Logger } from '@jobs/core';
import type { ChannelModel } from 'amqplib';

export interface ReconnectOptions {
  /** Delay before the first reconnect attempt. Default 250 ms. */
  initialMs?: number;
  /** Upper bound of one delay; delays double up to it, with jitter. Default 30 s. */
  maxMs?: number;
}

export interface AmqpQueueOptions {
  /**
   * Broker URL, or the URLs of a cluster's nodes: every connection attempt takes the next one in turn (in an
   * order shuffled per connection), so after a node is lost the connections move to the nodes that are left.
   * Default `amqp://guest:guest@127.0.0.1:5672`. Ignored when `connection` is given.
   */
  url?: string | readonly string[];
  /** Passed to amqplib's `connect` (TLS options, `clientProperties`, `timeout`, ...). */
  socketOptions?: Record<string, unknown>;
  /**
   * Opens a connection: called for every (re)connect, so it must return a fresh connection each time.
   * Use it for a custom connect; the default calls amqplib's `connect(url, socketOptions)`.
   */
  connection?: () => Promise<ChannelModel>;
  /**
   * Shown in the broker's management views (`connection_name` client property), suffixed with
   * ` (publish)` or ` (consume)`. Default `jobs:<prefix>`.
   */
  connectionName?: string;
  /** Names queues and exchanges: `<prefix>.<endpoint>`, `<prefix>.dead-letter`. Default `jobs`. */
  prefix?: string;
  /** How long a written message may wait for the broker's confirm before the publish rejects. Default 10 s. */
  confirmTimeoutMs?: number;
  /**
   * How long a publish may wait to be written: for the connection (while connecting or reconnecting),
   * for the broker to unblock it (resource alarm), for the write buffer to drain, for the queue to be declared.
   * Past it the publish rejects with `UnavailableError`. 0 fails at once while the broker is known to be down
   * or blocked (the first connection attempt, and opening the channel, are always awaited). Default 5 s.
   */
  publishTimeoutMs?: number;
  /**
   * Bound of one connection attempt (TCP + handshake; unless `socketOptions.timeout` is set), and how long
   * `consume()` waits for its consumer to be attached before it rejects with `UnavailableError`. Default 10 s.
   */
  connectTimeoutMs?: number;
  reconnect?: ReconnectOptions;
  /**
   * Deliveries of one message to a handler before it goes to the dead-letter queue instead of being
   * delivered again. Default 5.
   */
  maxDeliveries?: number;
  /**
   * A delivery whose handler still runs after this long is acknowledged anyway (the repository's lease
   * protects the job from then on); a delivery that waited this long for a free slot is handed back.
   * Must stay below the broker's `consumer_timeout` (30 min by default). Default 15 min.
   */
  ackAfterMs?: number;
  /** How long the message of a rejecting handler is held before it is handed back for redelivery. Default 1 s. */
  redeliveryDelayMs?: number;
  /** Messages the dead-letter queue keeps; past it the oldest are dropped. Default 100 000. */
  deadLetterMaxLength?: number;
  logger?: Logger;
}

export interface ResolvedOptions {
  /** The broker URLs, at least one; empty when `connection` is given. */
  urls: readonly string[];
  socketOptions: Record<string, unknown>;
  connection: (() => Promise<ChannelModel>) | undefined;
  connectionName: string;
  prefix: string;
  confirmTimeoutMs: number;
  publishTimeoutMs: number;
  connectTimeoutMs: number;
  reconnect: Required<ReconnectOptions>;
  maxDeliveries: number;
  ackAfterMs: number;
  redeliveryDelayMs: number;
  deadLetterMaxLength: number;
  logger: Logger;
}

export const DEFAULT_URL = 'amqp://guest:guest@127.0.0.1:5672';

export function resolveOptions(options: AmqpQueueOptions): ResolvedOptions {
  const prefix = options.prefix ?? 'jobs';
  if (typeof prefix !== 'string' || !ENDPOINT_NAME_PATTERN.test(prefix)) {
    throw new TypeError(`prefix ${JSON.stringify(prefix)} must match ${ENDPOINT_NAME_PATTERN}.`);
  }
  const reconnect = {
    initialMs: positive('reconnect.initialMs', options.reconnect?.initialMs ?? 250),
    maxMs: positive('reconnect.maxMs', options.reconnect?.maxMs ?? 30_000),
  };
  if (reconnect.maxMs < reconnect.initialMs)
    throw new TypeError('reconnect.maxMs must be >= reconnect.initialMs.');
  return {
    urls: options.connection ? [] : resolveUrls(options.url),
    socketOptions: { ...options.socketOptions },
    connection: options.connection,
    connectionName: options.connectionName ?? `jobs:${prefix}`,
    prefix,
    confirmTimeoutMs: positive('confirmTimeoutMs', options.confirmTimeoutMs ?? 10_000),
    publishTimeoutMs: nonNegative('publishTimeoutMs', options.publishTimeoutMs ?? 5_000),
    connectTimeoutMs: positive('connectTimeoutMs', options.connectTimeoutMs ?? 10_000),
    reconnect,
    maxDeliveries: positiveInteger('maxDeliveries', options.maxDeliveries ?? 5),
    ackAfterMs: positive('ackAfterMs', options.ackAfterMs ?? 15 * 60_000),
    redeliveryDelayMs: nonNegative('redeliveryDelayMs', options.redeliveryDelayMs ?? 1_000),
    deadLetterMaxLength: positiveInteger('deadLetterMaxLength', options.deadLetterMaxLength ?? 100_000),
    logger: options.logger ?? consoleLogger,
  };
}

function resolveUrls(url: AmqpQueueOptions['url']): string[] {
  const urls = url === undefined ? [DEFAULT_URL] : typeof url === 'string' ? [url] : url;
  if (!Array.isArray(urls) || urls.length === 0)
    throw new TypeError('url must be a URL string or a non-empty array of URL strings.');
  for (const entry of urls) redactUrl(entry);
  return [...urls];
}

/**
 * A broker URL without its credentials and query, for logs and events: `amqps://rabbit-1.internal:5671/prod`.
 * Throws a TypeError for anything that is not an `amqp:` or `amqps:` URL.
 */
export function redactUrl(url: unknown): string {
  let parsed: URL;
  try {
    if (typeof url !== 'string') throw new TypeError('not a string');
    parsed = new URL(url);
  } catch {
    throw new TypeError(`url ${describeUrlValue(url)} is not a URL (amqp://user:password@host:port/vhost).`);
  }
  if (parsed.protocol !== 'amqp:' && parsed.protocol !== 'amqps:') {
    throw new TypeError(`url ${describeUrlValue(url)} must start with amqp:// or amqps://.`);
  }
  const vhost = parsed.pathname === '/' ? '' : parsed.pathname;
  return `${parsed.protocol}//${parsed.host}${vhost}`;
}

/** Shows a rejected url value without its credentials. */
function describeUrlValue(url: unknown): string {
  if (typeof url !== 'string') return String(url);
  return JSON.stringify(url.replace(/\/\/[^@/]*@/, '//***@'));
}

/** Queue and exchange names of one prefix. */
export interface Names {
  queue(endpoint: string): string;
  deadLetterExchange: string;
  deadLetterQueue: string;
}

export function names(prefix: string): Names {
  return {
    queue: (endpoint) => `${prefix}.${endpoint}`,
    deadLetterExchange: `${prefix}.dead-letter`,
    deadLetterQueue: `${prefix}.dead-letter`,
  };
}

const positive = (name: string, value: unknown) => checkNumber(name, value, 'positive');
const nonNegative = (name: string, value: unknown) => checkNumber(name, value, 'nonNegative');
const positiveInteger = (name: string, value: unknown) => checkNumber(name, value, 'positiveInteger');
