// Limits and client-error answers for a node:http server (what @hono/node-server's `serve` returns). Typed
// structurally, so that this package needs neither Node's types nor Node: Bun and Deno users never load it.
import { consoleLogger, type Logger, problemType } from '@jobs/core';
import { PROBLEM_CONTENT_TYPE, problemResponse } from './problems.js';

export interface NodeServerLimits {
  /** Time a client has to send a request's headers, in ms (node:http `headersTimeout`). Default 10,000. */
  headersTimeoutMs?: number;
  /**
   * Time a client has to send a whole request, headers and body, in ms (`requestTimeout`); a slow body is cut
   * off with `408`. Waiting for the answer does not count: long-polls and event streams are not limited by it.
   * Default 30,000.
   */
  requestTimeoutMs?: number;
  /** An idle keep-alive connection is closed after this many ms (`keepAliveTimeout`). Default 5,000. */
  keepAliveTimeoutMs?: number;
  /** Open connections at most (`maxConnections`); the server closes more at once. Default 1,000. */
  maxConnections?: number;
  /** Largest request line plus headers, in bytes (`maxHeaderSize`); larger answers `431`. Default 16,384. */
  maxHeaderBytes?: number;
}

/** The defaults of {@link NodeServerLimits}. */
export const NODE_SERVER_LIMITS: Readonly<Required<NodeServerLimits>> = Object.freeze({
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 1_000,
  maxHeaderBytes: 16_384,
});

/** The options of node:http's `createServer` these limits need (`serverOptions` of @hono/node-server's `serve`). */
export interface NodeServerOptions {
  headersTimeout: number;
  requestTimeout: number;
  keepAliveTimeout: number;
  maxHeaderSize: number;
  /** How often node:http checks the timeouts, in ms (its default, 30 s, would let a 10 s timeout last 40 s). */
  connectionsCheckingInterval: number;
  /**
   * false: a request without Host is not answered by node:http's bare 400 but reaches the request listener,
   * whose {@link nodeRequestErrorHandler} answers it with a problem (@hono/node-server refuses it).
   */
  requireHostHeader: boolean;
}

/**
 * `createServer` options for the limits (defaults for those not given). With @hono/node-server:
 *
 * ```ts
 * const server = createServer(
 *   nodeServerOptions(),
 *   getRequestListener(app.fetch, { errorHandler: nodeRequestErrorHandler({ logger }) }),
 * );
 * protectNodeServer(server, { logger });
 * server.listen(3000);
 * ```
 *
 * (`serve({ fetch, serverOptions: nodeServerOptions() })` applies the limits too, but answers a request
 * @hono/node-server cannot turn into a Request, e.g. with a malformed Host, with a bare 400.)
 */
export function nodeServerOptions(limits: NodeServerLimits = {}): NodeServerOptions {
  const resolved = resolveLimits(limits);
  return {
    headersTimeout: resolved.headersTimeoutMs,
    requestTimeout: resolved.requestTimeoutMs,
    keepAliveTimeout: resolved.keepAliveTimeoutMs,
    maxHeaderSize: resolved.maxHeaderBytes,
    connectionsCheckingInterval: Math.min(1_000, resolved.headersTimeoutMs),
    requireHostHeader: false,
  };
}

/** The socket node:http passes to a `clientError` listener (a net.Socket), as far as it is used here. */
export interface ClientErrorSocket {
  readonly writable: boolean;
  end(data: string, callback?: () => void): unknown;
  destroy(): unknown;
}

/** The response node:http passes to a `checkExpectation` listener, as far as it is used here. */
export interface ExpectationResponse {
  writeHead(status: number, headers: Record<string, string>): unknown;
  end(body: string): unknown;
}

/** A node:http server, as far as {@link protectNodeServer} uses it. */
export interface ProtectableServer {
  headersTimeout?: number;
  requestTimeout?: number;
  keepAliveTimeout?: number;
  maxConnections: number;
  on(event: 'clientError', listener: (error: Error, socket: ClientErrorSocket) => void): unknown;
  on(event: 'checkExpectation', listener: (request: unknown, response: ExpectationResponse) => void): unknown;
}

export interface ProtectNodeServerOptions extends NodeServerLimits {
  /** Client errors are logged at debug level, one line each, never with a stack. Default: not logged. */
  logger?: Logger;
}

/**
 * Applies the limits to a node:http server (the timeouts again, in case it was created without
 * {@link nodeServerOptions}, and the connection cap) and answers what node:http refuses before any handler
 * runs as problem+json instead of its bare text: a malformed request `400`, headers or URL too large `431`,
 * a request not received in time `408`, an `Expect` other than `100-continue` `417`. A client that went away
 * (reset, closed mid-request) gets nothing and is no error: nothing is logged above debug level.
 */
export function protectNodeServer(server: ProtectableServer, options: ProtectNodeServerOptions = {}): void {
  const limits = resolveLimits(options);
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.maxConnections = limits.maxConnections;
  const logger = options.logger;
  server.on('clientError', (error, socket) => {
    const code = String((error as { code?: unknown }).code ?? error.name);
    // Node's own rule: answer only when no response of this connection has begun.
    const inFlight = (socket as { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
    const answered = socket.writable && code !== 'ECONNRESET' && code !== 'EPIPE' && !inFlight?.headersSent;
    logger?.debug({ code, answered }, 'client error');
    if (!answered) {
      socket.destroy();
      return;
    }
    const problem = CLIENT_ERRORS[code] ?? BAD_REQUEST;
    const body = problemBody(problem);
    const head = [
      `HTTP/1.1 ${problem.status} ${problem.title}`,
      `Content-Type: ${PROBLEM_CONTENT_TYPE}`,
      `Content-Length: ${new TextEncoder().encode(body).byteLength}`,
      'Cache-Control: no-store',
      'Connection: close',
    ];
    socket.end(`${head.join('\r\n')}\r\n\r\n${body}`, () => socket.destroy());
  });
  server.on('checkExpectation', (_request, response) => {
    const body = problemBody(EXPECTATION_FAILED);
    response.writeHead(417, {
      'Content-Type': PROBLEM_CONTENT_TYPE,
      'Content-Length': String(new TextEncoder().encode(body).byteLength),
      'Cache-Control': 'no-store',
    });
    response.end(body);
  });
}

export interface NodeRequestErrorOptions {
  /** Where an error that is not the request's fault is logged (with its stack). Default: console. */
  logger?: Logger;
}

/**
 * The `errorHandler` of @hono/node-server's `getRequestListener`: a request it cannot turn into a Request (no
 * or a malformed Host, a backslash in the path, a bad absolute URL: its `RequestError`) is answered `400` with
 * a problem instead of a bare 400; anything else (the app failed outside its own error handling) is logged and
 * answered with the generic `500` problem.
 */
export function nodeRequestErrorHandler(options: NodeRequestErrorOptions = {}): (error: unknown) => Response {
  const logger = options.logger ?? consoleLogger;
  return (error) => {
    if (error instanceof Error && error.name === 'RequestError')
      return problemResponse(toProblem(BAD_REQUEST));
    logger.error(
      { error: error instanceof Error ? (error.stack ?? error.message) : String(error) },
      'unhandled error',
    );
    return problemResponse(toProblem(INTERNAL));
  };
}

interface Problem {
  status: number;
  title: string;
  code: string;
  detail: string;
}

function toProblem(problem: Problem) {
  return { type: problemType(problem.code), ...problem };
}

function problemBody(problem: Problem): string {
  return JSON.stringify(toProblem(problem));
}

const BAD_REQUEST: Problem = {
  status: 400,
  title: 'Bad Request',
  code: 'bad_request',
  detail: 'The request is not valid HTTP/1.1, or its target or Host header cannot be read.',
};

const INTERNAL: Problem = {
  status: 500,
  title: 'Internal server error',
  code: 'internal',
  detail: 'The server could not handle the request. The error was logged.',
};

const EXPECTATION_FAILED: Problem = {
  status: 417,
  title: 'Expectation Failed',
  code: 'expectation_failed',
  detail: 'The server supports no expectation but 100-continue.',
};

/** node:http client error codes and their answers; any other is {@link BAD_REQUEST}. */
const CLIENT_ERRORS: Record<string, Problem> = {
  HPE_HEADER_OVERFLOW: {
    status: 431,
    title: 'Request Header Fields Too Large',
    code: 'header_fields_too_large',
    detail: 'The request line and headers are larger than the server accepts.',
  },
  ERR_HTTP_REQUEST_TIMEOUT: {
    status: 408,
    title: 'Request Timeout',
    code: 'request_timeout',
    detail: 'The request was not received in time; the connection is closed.',
  },
  HPE_CHUNK_EXTENSIONS_OVERFLOW: {
    status: 413,
    title: 'Content Too Large',
    code: 'payload_too_large',
    detail: 'The chunk extensions of the request body are too large.',
  },
};

function resolveLimits(limits: NodeServerLimits): Required<NodeServerLimits> {
  const resolved = { ...NODE_SERVER_LIMITS };
  for (const name of Object.keys(NODE_SERVER_LIMITS) as (keyof NodeServerLimits)[]) {
    const value = limits[name];
    if (value === undefined) continue;
    if (!Number.isInteger(value) || value < 1)
      throw new TypeError(`${name} must be a whole number of at least 1.`);
    resolved[name] = value;
  }
  if (resolved.headersTimeoutMs > resolved.requestTimeoutMs) {
    throw new TypeError('headersTimeoutMs must not be longer than requestTimeoutMs.');
  }
  return resolved;
}
