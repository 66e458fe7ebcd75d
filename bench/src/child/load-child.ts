import autocannon from 'autocannon';
import { serveRpc } from '../rpc.js';
import type { HttpTarget } from '../types.js';

/** The HTTP load generator, in a process of its own so that its CPU is not the server's: autocannon. */
export interface LoadRequest {
  target: HttpTarget;
  connections: number;
  seconds: number;
}

export interface LoadResult {
  requests: number;
  requestsPerSecond: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** Answers other than 2xx, and connection errors / timeouts: both should be 0. */
  non2xx: number;
  errors: number;
}

const api = {
  async load(request: LoadRequest): Promise<LoadResult> {
    const result = await autocannon({
      url: request.target.url,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: request.target.body,
      connections: request.connections,
      duration: request.seconds,
    });
    return {
      requests: result.requests.total,
      requestsPerSecond: result.requests.total / (result.duration || request.seconds),
      latencyP50Ms: result.latency.p50,
      latencyP99Ms: result.latency.p99,
      non2xx: result.non2xx,
      errors: result.errors + result.timeouts,
    };
  },
};

export type LoadApi = typeof api;

serveRpc(api);
