import net from 'node:net';
import { createJobsRuntime } from '@jobs/core';
import { createMemoryQueue, createMemoryRepository } from '@jobs/memory';
import { Gates, implementTask } from '@jobs/testing';
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { createJobsApp } from './app.js';
import { NODE_SERVER_LIMITS, type NodeServerLimits, nodeServerOptions } from './node-server.js';
import { notFoundResponse } from './not-found.js';
import { type HardenedServer, serveHardened } from './suite-support.js';
import { captureLogger, SseReader, task, until } from './test-support.js';

interface Started extends HardenedServer {
  statuses: number[];
  logs: ReturnType<typeof captureLogger>['entries'];
  gates: Gates;
  stop(): Promise<void>;
}

let started: Started | null = null;
afterEach(async () => {
  await started?.stop();
  started = null;
});

/** The jobs app at /jobs on a hardened node:http server; `statuses` counts answers as a metrics middleware would. */
async function start(limits: NodeServerLimits = {}): Promise<Started> {
  const logger = captureLogger();
  const gates = new Gates();
  const runtime = createJobsRuntime({
    repository: createMemoryRepository(),
    queue: createMemoryQueue(),
    logger,
    workers: [implementTask(task, gates)],
  });
  await runtime.start();
  const shutdown = new AbortController();
  const statuses: number[] = [];
  const app = new Hono();
  app.use('*', async (c, next) => {
    await next();
    statuses.push(c.res.status);
  });
  app.notFound(notFoundResponse);
  app.route(
    '/jobs',
    createJobsApp({ service: runtime.service, logger, signal: shutdown.signal, heartbeatSeconds: 0.1 }),
  );
  const served = await serveHardened(app.fetch, limits, logger);
  started = {
    ...served,
    statuses,
    logs: logger.entries,
    gates,
    async stop() {
      shutdown.abort();
      await runtime.stop({ timeoutMs: 1_000 });
      await served.close();
    },
  };
  return started;
}

/** Connects, writes `bytes` (keeping the connection open), and resolves with all it read once the server closes. */
function exchange(origin: string, bytes: string, then?: (socket: net.Socket) => void): Promise<string> {
  const url = new URL(origin);
  return new Promise((resolve) => {
    const socket = net.connect(Number(url.port), url.hostname, () => {
      socket.write(bytes);
      then?.(socket);
    });
    let data = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      data += chunk;
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve(data));
  });
}

function expectProblemAnswer(raw: string, status: number, code: string) {
  const [head = '', ...rest] = raw.split('\r\n\r\n');
  let body = rest.join('\r\n\r\n');
  if (/transfer-encoding: chunked/i.test(head)) body = body.replace(/(?:^|\r\n)[0-9a-f]+\r\n/gi, '');
  expect(head.split('\r\n')[0]).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
  expect(head.toLowerCase()).toContain('content-type: application/problem+json');
  expect(JSON.parse(body)).toMatchObject({
    status,
    code,
    type: expect.stringContaining(code.replaceAll('_', '-')),
  });
}

describe('protectNodeServer and nodeRequestErrorHandler', () => {
  it('answers requests node:http or @hono/node-server refuse before the app with problems, not bare text', async () => {
    const { origin } = await start();
    const cases: Array<[string, number, string]> = [
      ['GET /jobs/task HTTP/1.1\r\nConnection: close\r\n\r\n', 400, 'bad_request'], // no Host
      ['GET /jobs/task HTTP/1.1\r\nHost: a b\r\nConnection: close\r\n\r\n', 400, 'bad_request'],
      ['GET /jobs\\task HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 400, 'bad_request'],
      [
        'GET /jobs/task HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nConnection: close\r\n\r\n',
        417,
        'expectation_failed',
      ],
      ['GET /jobs/task HTTP/1.1\r\nHost: x\r\nX: a\u0001b\r\n\r\n', 400, 'bad_request'],
      [`GET /jobs/task?${'q'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 431, 'header_fields_too_large'],
      ['GET /elsewhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 404, 'not_found'],
    ];
    for (const [bytes, status, code] of cases) {
      expectProblemAnswer(await exchange(origin, bytes), status, code);
    }
  });

  it('cuts off slow headers and slow bodies with 408, and lets an event stream outlive the request timeout', async () => {
    const { origin, gates } = await start({ headersTimeoutMs: 300, requestTimeoutMs: 600 });
    expectProblemAnswer(
      await exchange(origin, 'GET /jobs/task HTTP/1.1\r\nHost: x\r\n'),
      408,
      'request_timeout',
    );
    const slowBody =
      'POST /jobs/task HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"tag"';
    expectProblemAnswer(await exchange(origin, slowBody), 408, 'request_timeout');

    const created = await fetch(`${origin}/jobs/task`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"tag":"long","steps":1}',
    });
    const job = (await created.json()) as { links: { events: string } };
    const reader = new SseReader((await fetch(`${origin}${job.links.events}`)).body!);
    expect((await reader.next())?.event).toBe('status');
    // Heartbeats (every 0.1 s) keep coming for longer than the request timeout and its checks, then the job ends.
    const events = reader.next(); // reads on, counting the heartbeats, until the next event
    await until(() => reader.comments.length >= 20);
    gates.release('long');
    const after = [await events];
    for (let event = await reader.next(); event !== null; event = await reader.next()) after.push(event);
    expect(JSON.parse(after.at(-1)!.data).status).toBe('succeeded');
  }, 15_000);

  it('takes a client that goes away mid-body for a client error: not logged as an error, not counted as 500', async () => {
    const s = await start();
    const head =
      'POST /jobs/task HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n';
    await exchange(s.origin, `${head}{"tag":"gone",`, (socket) => setTimeout(() => socket.destroy(), 50));
    await until(() => s.statuses.length > 0);
    expect(s.statuses).toEqual([400]);
    expect(s.logs.filter((entry) => entry.level === 'error' || entry.level === 'warn')).toEqual([]);
  });

  it('closes connections past maxConnections, and takes new ones once others closed', async () => {
    const { origin } = await start({ maxConnections: 2 });
    const url = new URL(origin);
    const open = await Promise.all(
      [1, 2].map(
        () =>
          new Promise<net.Socket>((resolve) => {
            const socket = net.connect(Number(url.port), url.hostname, () => resolve(socket));
            socket.on('error', () => {});
          }),
      ),
    );
    expect(await exchange(origin, 'GET /jobs/task HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).toBe(
      '',
    );
    for (const socket of open) socket.destroy();
    let answer = '';
    while (answer === '')
      answer = await exchange(origin, 'GET /jobs/task HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('checks the limits and gives createServer options for them', () => {
    expect(nodeServerOptions()).toEqual({
      headersTimeout: NODE_SERVER_LIMITS.headersTimeoutMs,
      requestTimeout: NODE_SERVER_LIMITS.requestTimeoutMs,
      keepAliveTimeout: NODE_SERVER_LIMITS.keepAliveTimeoutMs,
      maxHeaderSize: NODE_SERVER_LIMITS.maxHeaderBytes,
      connectionsCheckingInterval: 1_000,
      requireHostHeader: false,
    });
    expect(() => nodeServerOptions({ maxConnections: 0 })).toThrow(/maxConnections/);
    expect(() => nodeServerOptions({ requestTimeoutMs: 1.5 })).toThrow(/requestTimeoutMs/);
    expect(() => nodeServerOptions({ headersTimeoutMs: 2_000, requestTimeoutMs: 1_000 })).toThrow(
      /headersTimeoutMs/,
    );
  });
});
