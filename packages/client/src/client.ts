import type { Endpoint, EndpointInput, EndpointOutput } from '@jobs/core';
import type { Settings } from './context.js';
import { HttpEndpointClient } from './endpoint-client.js';
import type { HeadersOption } from './transport.js';
import type { EndpointClient, EndpointRef } from './types.js';

export interface JobsClientOptions {
  /** Where the jobs app is mounted, e.g. `https://api.example.com/jobs`. Relative URLs work where `fetch` accepts them (browsers). */
  baseUrl: string | URL;
  /** The fetch to use; default `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** Headers sent with every request, or a function called before every request (e.g. to refresh a token). */
  headers?: HeadersOption;
  /** Longest `Prefer: wait=N` one request asks for while long-polling. Default 30. */
  maxWaitSeconds?: number;
  /** Retries of a transient failure (network error, timeout, 429/502/503/504) of an idempotent request. Default 2. */
  retries?: number;
  /** Time limit of one request, added to the wait a long-poll asks for. Default 30 000. */
  requestTimeoutMs?: number;
  /** A transient failure is retried only when the server's `Retry-After` asks for at most this long. Default 30 000. */
  maxRetryDelayMs?: number;
  /** Poll interval when the server sends no `Retry-After` while polling. Default 1 000. */
  pollIntervalMs?: number;
}

export interface JobsClient {
  readonly baseUrl: string;
  endpoint<E extends Endpoint>(endpoint: E): EndpointClient<EndpointInput<E>, EndpointOutput<E>>;
  endpoint(endpoint: string | EndpointRef): EndpointClient<unknown, unknown>;
}

// The client of one endpoint is in endpoint-client.ts; its requests in submit.ts, observe.ts (get, wait)
// and events.ts, which share the EndpointContext of context.ts.

/** A client of the jobs app mounted at `baseUrl`; `client.endpoint(e)` is the typed client of one endpoint. */
export function createJobsClient(options: JobsClientOptions): JobsClient {
  const baseUrl = String(options.baseUrl).replace(/\/+$/, '');
  if (!baseUrl) throw new TypeError('createJobsClient: baseUrl is required.');
  const settings: Settings = {
    transport: {
      fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
      headers: options.headers,
      retries: nonNegativeInteger('retries', options.retries ?? 2),
      requestTimeoutMs: nonNegative('requestTimeoutMs', options.requestTimeoutMs ?? 30_000),
      maxRetryDelayMs: nonNegative('maxRetryDelayMs', options.maxRetryDelayMs ?? 30_000),
    },
    maxWaitSeconds: nonNegativeInteger('maxWaitSeconds', options.maxWaitSeconds ?? 30),
    pollIntervalMs: nonNegative('pollIntervalMs', options.pollIntervalMs ?? 1000),
  };
  return {
    baseUrl,
    endpoint(endpoint: string | EndpointRef) {
      const ref = typeof endpoint === 'string' ? { name: endpoint } : endpoint;
      if (!ref || typeof ref.name !== 'string' || ref.name === '') {
        throw new TypeError('client.endpoint() needs an endpoint or an endpoint name.');
      }
      return new HttpEndpointClient(settings, `${baseUrl}/${encodeURIComponent(ref.name)}`, ref);
    },
  } as JobsClient;
}

function nonNegative(option: string, value: number): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    throw new TypeError(`createJobsClient: ${option} must be zero or more, got ${value}.`);
  }
  return value;
}

function nonNegativeInteger(option: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) {
    throw new TypeError(`createJobsClient: ${option} must be a non-negative integer, got ${value}.`);
  }
  return value;
}
