/** Helpers for this package's tests (not exported from the package). */
import net from 'node:net';
import { type NewJob, newJobId, UnavailableError } from '@jobs/core';
import pg from 'pg';
import { createPostgresRepository, type PostgresRepositoryOptions } from './repository.js';

/** The PostgreSQL server the tests run against; they fail (never skip) when it is not there. */
export const DATABASE_URL = process.env.JOBS_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A fresh schema name per test file, so parallel runs and other packages never collide. */
export function randomSchema(prefix: string): string {
  return `${prefix}_${crypto.randomUUID().replaceAll('-', '').slice(0, 12)}`;
}

/** A fresh application_name, so a test can terminate exactly its own connections. */
export function randomAppName(prefix: string): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

export async function withAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: DATABASE_URL, application_name: 'jobs-test-admin' });
  client.on('error', () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function dropSchema(schema: string): Promise<void> {
  await withAdmin((client) => client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
}

/** Terminates every backend of this database opened under `applicationName`; returns how many. */
export async function terminateBackends(applicationName: string): Promise<number> {
  return withAdmin(async (client) => {
    const result = await client.query<{ terminated: boolean }>(
      `SELECT pg_terminate_backend(pid) AS terminated FROM pg_stat_activity
       WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = $1`,
      [applicationName],
    );
    return result.rows.filter((row) => row.terminated).length;
  });
}

export function testRepository(schema: string, options: PostgresRepositoryOptions = {}) {
  return createPostgresRepository({
    connectionString: DATABASE_URL,
    schema,
    ...options,
    poolConfig: { max: 10, application_name: 'jobs-test', ...options.poolConfig },
  });
}

/** A job for `create`, unique id, no key. */
export function newJob(endpoint: string, overrides: Partial<NewJob> = {}): NewJob {
  return {
    id: newJobId(),
    endpoint,
    input: { at: Date.now() },
    owner: null,
    idempotencyKey: null,
    inputHash: null,
    maxAttempts: 3,
    ...overrides,
  };
}

/** Unwraps the results of a batch call, failing on the first refused item. */
export function values<T>(results: ReadonlyArray<{ ok: true; value: T } | { ok: false; error: Error }>): T[] {
  return results.map((result, index) => {
    if (!result.ok)
      throw new Error(`item ${index} was refused: ${result.error.message}`, { cause: result.error });
    return result.value;
  });
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `condition` until it returns something truthy (a throw counts as "not yet"); fails after `timeoutMs`.
 * A liveness bound, never an assertion of speed.
 */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  message: string,
  timeoutMs = 20_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${message}`, { cause: last });
    }
    await delay(25);
  }
}

/** A promise with its resolve function, for a step the test releases by hand. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/**
 * How a promise settles, or 'pending' when it has not after `ms`: a watchdog that tells "waits forever" from
 * "fails", never a measure of speed (the bound is many times what the call should need).
 */
export async function settleWithin<T>(
  promise: Promise<T>,
  ms: number,
): Promise<
  { status: 'fulfilled'; value: T } | { status: 'rejected'; reason: unknown } | { status: 'pending' }
> {
  let timer: NodeJS.Timeout | undefined;
  const pending = new Promise<{ status: 'pending' }>((resolve) => {
    timer = setTimeout(() => resolve({ status: 'pending' }), ms);
  });
  try {
    return await Promise.race([
      promise.then(
        (value) => ({ status: 'fulfilled' as const, value }),
        (reason: unknown) => ({ status: 'rejected' as const, reason }),
      ),
      pending,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `fn`; returns its value, or the error when it is an UnavailableError; anything else fails the test. */
export async function tolerant<T>(fn: () => Promise<T>): Promise<T | UnavailableError> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof UnavailableError) return error;
    throw error;
  }
}

/** Catches errors that escape to the process (uncaught exceptions, unhandled rejections): there must be none. */
export function escapedErrors(): { errors: unknown[]; stop(): void } {
  const errors: unknown[] = [];
  const onEscaped = (error: unknown) => errors.push(error);
  process.on('uncaughtException', onEscaped);
  process.on('unhandledRejection', onEscaped);
  return {
    errors,
    stop() {
      process.off('uncaughtException', onEscaped);
      process.off('unhandledRejection', onEscaped);
    },
  };
}

interface ProxiedConnection {
  client: net.Socket;
  upstream: net.Socket | null;
  /** false once the connection lived through a black hole: it never forwards anything again. */
  forwarding: boolean;
}

/**
 * A TCP proxy in front of the PostgreSQL server that a test can cut in two ways:
 * - `stop()`: every connection is reset and the port refuses new ones (a server that went away);
 * - `blackHole()`: nothing is closed and nothing arrives any more (a network that silently drops packets): bytes
 *   either way are read and dropped, closes are not passed on, new connections are accepted and never answered.
 * Half-open sockets are allowed, so that a client's FIN is only answered when the proxy passes it on.
 */
export class TcpProxy {
  private server: net.Server | null = null;
  private readonly connections = new Set<ProxiedConnection>();
  private holed = false;
  private trigger: Buffer | null = null;
  port = 0;

  constructor(private readonly target = new URL(DATABASE_URL)) {}

  async start(): Promise<void> {
    const server = net.createServer({ allowHalfOpen: true }, (client) => this.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  private accept(client: net.Socket): void {
    const connection: ProxiedConnection = { client, upstream: null, forwarding: !this.holed };
    this.connections.add(connection);
    client.on('error', () => {});
    client.on('close', () => {
      if (connection.forwarding) connection.upstream?.destroy();
      if (connection.forwarding || !connection.upstream) this.connections.delete(connection);
    });
    if (!connection.forwarding) {
      client.resume(); // read and drop
      return;
    }
    const upstream = net.connect({
      port: Number(this.target.port || 5432),
      host: this.target.hostname,
      allowHalfOpen: true,
    });
    connection.upstream = upstream;
    upstream.on('error', () => {});
    upstream.on('close', () => {
      if (connection.forwarding) {
        client.destroy();
        this.connections.delete(connection);
      }
    });
    client.on('data', (chunk: Buffer) => {
      if (connection.forwarding && this.trigger && chunk.includes(this.trigger))
        connection.forwarding = false;
      if (connection.forwarding) upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (connection.forwarding) client.write(chunk);
    });
    client.on('end', () => {
      if (connection.forwarding) upstream.end();
    });
    upstream.on('end', () => {
      if (connection.forwarding) client.end();
    });
  }

  /** Stops forwarding on every connection, closing nothing; new connections are accepted and never answered. */
  blackHole(): void {
    this.holed = true;
    for (const connection of this.connections) connection.forwarding = false;
  }

  /**
   * From now on, a connection over which the client sends these bytes goes silent from that message on (the
   * message is dropped): a black hole at a precise step of the protocol. null: no more.
   */
  blackHoleOn(text: string | null): void {
    this.trigger = text === null ? null : Buffer.from(text);
  }

  /** New connections are forwarded again; those that lived through the black hole stay silent (bytes were lost). */
  heal(): void {
    this.holed = false;
  }

  /** Resets every connection and refuses new ones (start() again to accept on the same port). */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    this.destroyConnections();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Destroys every socket the proxy holds, black-holed ones included. */
  destroyConnections(): void {
    for (const connection of this.connections) {
      connection.forwarding = false;
      connection.client.destroy();
      connection.upstream?.destroy();
    }
    this.connections.clear();
  }

  /** Open client connections (black-holed ones included). */
  get connectionCount(): number {
    return this.connections.size;
  }

  url(): string {
    const url = new URL(DATABASE_URL);
    url.hostname = '127.0.0.1';
    url.port = String(this.port);
    return url.toString();
  }
}

/** A pg.Pool whose `query` calls are recorded (statement text and name), for counting statements. */
export function recordingPool(config: pg.PoolConfig): {
  pool: pg.Pool;
  statements: Array<{ text: string; name: string | undefined }>;
} {
  const pool = new pg.Pool(config);
  pool.on('error', () => {});
  const statements: Array<{ text: string; name: string | undefined }> = [];
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  (pool as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    const first = args[0] as string | { text: string; name?: string };
    statements.push(
      typeof first === 'string' ? { text: first, name: undefined } : { text: first.text, name: first.name },
    );
    return query(...args);
  };
  return { pool, statements };
}
