// Error mapping and retries, against small hand-written servers over a real socket.
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { createJobsClient } from './client.js';
import { JobsHttpError, JobsNetworkError, JobsProtocolError } from './errors.js';
import { type Served, serveFetch } from './test-support.js';

const ID = '0b7c3f8e-1d2a-4c5b-9e6f-7a8b9c0d1e2f';

function jobJson(status = 'queued') {
  const now = new Date().toISOString();
  return {
    id: ID,
    endpoint: 'ping',
    status,
    createdAt: now,
    updatedAt: now,
    startedAt: null,
    finishedAt: null,
    expiresAt: null,
    estimatedCompletionAt: null,
    attempt: 0,
    maxAttempts: 3,
    progress: null,
    error: null,
    cancelRequested: false,
    links: { self: `/jobs/ping/${ID}`, events: `/jobs/ping/${ID}/events` },
  };
}

function problem(status: number, code: string, extra: Record<string, unknown> = {}) {
  return new Response(
    JSON.stringify({
      type: `urn:jobs:problem:${code.replaceAll('_', '-')}`,
      title: code,
      status,
      code,
      ...extra,
    }),
    { status, headers: { 'content-type': 'application/problem+json' } },
  );
}

let served: Served | undefined;
afterEach(async () => {
  await served?.close();
  served = undefined;
});

async function serveApp(app: Hono) {
  served = await serveFetch(app.fetch);
  return served.origin;
}

describe('retries of transient failures', () => {
  it('retries a GET answered 503 with Retry-After: 0, then returns the 200', async () => {
    let calls = 0;
    const app = new Hono().get('/jobs/ping/:id', (c) => {
      calls++;
      if (calls === 1) {
        const response = problem(503, 'unavailable');
        response.headers.set('retry-after', '0');
        return response;
      }
      return c.json(jobJson('running'));
    });
    const client = createJobsClient({ baseUrl: `${await serveApp(app)}/jobs` });
    const job = await client.endpoint('ping').get(ID);
    expect(job.status).toBe('running');
    expect(job.createdAt).toBeInstanceOf(Date);
    expect(job.links.self).toBe(`${served!.origin}/jobs/ping/${ID}`);
    expect(calls).toBe(2);
  });

  it('gives up after `retries` retries with the last problem', async () => {
    let calls = 0;
    const app = new Hono().get('/jobs/ping/:id', () => {
      calls++;
      const response = problem(503, 'unavailable', { detail: 'database down' });
      response.headers.set('retry-after', '0');
      return response;
    });
    const client = createJobsClient({ baseUrl: `${await serveApp(app)}/jobs`, retries: 3 });
    const error = await client
      .endpoint('ping')
      .get(ID)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JobsHttpError);
    expect(error).toMatchObject({
      status: 503,
      retryAfterSeconds: 0,
      code: 'unavailable',
      problem: { detail: 'database down' },
    });
    expect(calls).toBe(4);
  });

  it('does not retry a POST without an Idempotency-Key', async () => {
    let calls = 0;
    const app = new Hono().post('/jobs/ping', () => {
      calls++;
      const response = problem(503, 'unavailable');
      response.headers.set('retry-after', '0');
      return response;
    });
    const client = createJobsClient({ baseUrl: `${await serveApp(app)}/jobs` });
    await expect(client.endpoint('ping').submit({ message: 'x' })).rejects.toMatchObject({ status: 503 });
    expect(calls).toBe(1);
  });

  it('retries a POST with an Idempotency-Key (503 and 409 in progress), sending the key as a structured string', async () => {
    const keys: Array<string | undefined> = [];
    const app = new Hono().post('/jobs/ping', (c) => {
      keys.push(c.req.header('idempotency-key'));
      if (keys.length === 1) {
        const response = problem(503, 'unavailable');
        response.headers.set('retry-after', '0');
        return response;
      }
      if (keys.length === 2) return problem(409, 'idempotency_in_progress', { retryAfter: 0 });
      return c.json(jobJson(), 202);
    });
    const client = createJobsClient({ baseUrl: `${await serveApp(app)}/jobs` });
    const job = await client
      .endpoint('ping')
      .submit({ message: 'x' }, { idempotencyKey: 'a "quoted" \\ key' });
    expect(job.status).toBe('queued');
    expect(keys).toEqual(Array(3).fill('"a \\"quoted\\" \\\\ key"'));
  });

  it('generates one key for all attempts with idempotencyKey: true', async () => {
    const keys: Array<string | undefined> = [];
    const app = new Hono().post('/jobs/ping', (c) => {
      keys.push(c.req.header('idempotency-key'));
      if (keys.length === 1) return problem(502, 'bad_gateway');
      return c.json(jobJson(), 202);
    });
    const client = createJobsClient({ baseUrl: `${await serveApp(app)}/jobs`, maxRetryDelayMs: 0 });
    await client.endpoint('ping').submit({ message: 'x' }, { idempotencyKey: true });
    expect(keys).toHaveLength(2);
    expect(keys[0]).toMatch(/^"[0-9a-f]{32}"$/);
    expect(keys[1]).toBe(keys[0]);
  });

  it('does not retry when Retry-After asks for longer than maxRetryDelayMs', async () => {
    let calls = 0;
    const app = new Hono().get('/jobs/ping/:id', () => {
      calls++;
      const response = problem(503, 'unavailable');
      response.headers.set('retry-after', '120');
      return response;
    });
    const client = createJobsClient({ baseUrl: `${await serveApp(app)}/jobs`, maxRetryDelayMs: 5_000 });
    await expect(client.endpoint('ping').get(ID)).rejects.toMatchObject({
      status: 503,
      retryAfterSeconds: 120,
    });
    expect(calls).toBe(1);
  });

  it('does not retry a client error', async () => {
    let calls = 0;
    const app = new Hono().get('/jobs/ping/:id', () => {
      calls++;
      return problem(404, 'not_found');
    });
    const client = createJobsClient({ baseUrl: `${await serveApp(app)}/jobs` });
    await expect(client.endpoint('ping').get(ID)).rejects.toMatchObject({ status: 404, code: 'not_found' });
    expect(calls).toBe(1);
  });

  it('wraps network errors with their cause, after retrying idempotent requests', async () => {
    served = await serveFetch(() => new Response('unused'));
    const origin = served.origin;
    await served.close();
    served = undefined;
    let attempts = 0;
    const client = createJobsClient({
      baseUrl: `${origin}/jobs`,
      retries: 2,
      maxRetryDelayMs: 0,
      fetch: (input, init) => {
        attempts++;
        return fetch(input, init);
      },
    });
    const error = await client
      .endpoint('ping')
      .get(ID)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JobsNetworkError);
    expect((error as JobsNetworkError).cause).toBeInstanceOf(Error);
    expect((error as JobsNetworkError).message).toContain('ECONNREFUSED');
    expect(attempts).toBe(3);

    attempts = 0;
    await expect(client.endpoint('ping').submit({})).rejects.toBeInstanceOf(JobsNetworkError);
    expect(attempts).toBe(1);
  });

  it('times a request out after requestTimeoutMs, as a network error', async () => {
    let calls = 0;
    const app = new Hono().get('/jobs/ping/:id', async (c) => {
      calls++;
      if (calls === 1) await new Promise((resolve) => setTimeout(resolve, 5_000));
      return c.json(jobJson('running'));
    });
    const base = `${await serveApp(app)}/jobs`;
    const noRetry = createJobsClient({ baseUrl: base, requestTimeoutMs: 100, retries: 0 });
    const error = await noRetry
      .endpoint('ping')
      .get(ID)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JobsNetworkError);
    expect((error as JobsNetworkError).timedOut).toBe(true);
    // The next attempt of a retrying client gets through.
    calls = 0;
    const retrying = createJobsClient({
      baseUrl: base,
      requestTimeoutMs: 100,
      retries: 1,
      maxRetryDelayMs: 0,
    });
    expect((await retrying.endpoint('ping').get(ID)).status).toBe('running');
    expect(calls).toBe(2);
  });

  it('rethrows the caller’s abort reason, without retrying', async () => {
    let calls = 0;
    const app = new Hono().get('/jobs/ping/:id', async (c) => {
      calls++;
      await new Promise((resolve) => setTimeout(resolve, 5_000));
      return c.json(jobJson());
    });
    const client = createJobsClient({ baseUrl: `${await serveApp(app)}/jobs` });
    const controller = new AbortController();
    const reason = new Error('stop');
    const pending = client.endpoint('ping').get(ID, { signal: controller.signal });
    setTimeout(() => controller.abort(reason), 50);
    await expect(pending).rejects.toBe(reason);
    expect(calls).toBe(1);
  });
});

describe('error mapping', () => {
  it('keeps the problem+json fields, issues included', async () => {
    const app = new Hono().post('/jobs/ping', () =>
      problem(422, 'invalid_input', {
        detail: 'The input does not match the ping schema.',
        issues: [{ path: ['message'], message: 'Required', code: 'invalid_type' }],
      }),
    );
    const client = createJobsClient({ baseUrl: `${await serveApp(app)}/jobs` });
    const error = (await client
      .endpoint('ping')
      .submit({})
      .catch((e: unknown) => e)) as JobsHttpError;
    expect(error).toBeInstanceOf(JobsHttpError);
    expect(error.status).toBe(422);
    expect(error.retryAfterSeconds).toBeNull();
    expect(error.problem).toEqual({
      type: 'urn:jobs:problem:invalid-input',
      title: 'invalid_input',
      status: 422,
      code: 'invalid_input',
      detail: 'The input does not match the ping schema.',
      issues: [{ path: ['message'], message: 'Required', code: 'invalid_type' }],
    });
    expect(error.message).toContain('The input does not match the ping schema.');
  });

  it('builds a problem from the status when the body is not problem+json', async () => {
    const app = new Hono().get('/jobs/ping/:id', (c) => c.html('<h1>Bad gateway</h1>', 502));
    const client = createJobsClient({ baseUrl: `${await serveApp(app)}/jobs`, retries: 0 });
    await expect(client.endpoint('ping').get(ID)).rejects.toMatchObject({
      status: 502,
      problem: { type: 'about:blank', code: 'http_502', status: 502, detail: '<h1>Bad gateway</h1>' },
    });
  });

  it('reads an HTTP-date Retry-After', async () => {
    const app = new Hono().get('/jobs/ping/:id', () => {
      const response = problem(429, 'too_many_requests');
      response.headers.set('retry-after', new Date(Date.now() + 3_600_000).toUTCString());
      return response;
    });
    const client = createJobsClient({ baseUrl: `${await serveApp(app)}/jobs` });
    const error = (await client
      .endpoint('ping')
      .get(ID)
      .catch((e: unknown) => e)) as JobsHttpError;
    expect(error.status).toBe(429);
    expect(error.retryAfterSeconds).toBeGreaterThan(3_500);
    expect(error.retryAfterSeconds).toBeLessThanOrEqual(3_600);
  });

  it('reports a success answer that is not a job as a protocol error', async () => {
    const app = new Hono()
      .get('/jobs/ping/:id', (c) => c.text('hello'))
      .get('/jobs/other/:id', (c) => c.json({ id: ID, status: 'sleeping' }));
    const client = createJobsClient({ baseUrl: `${await serveApp(app)}/jobs` });
    await expect(client.endpoint('ping').get(ID)).rejects.toBeInstanceOf(JobsProtocolError);
    await expect(client.endpoint('other').get(ID)).rejects.toThrow(/unknown job status "sleeping"/);
  });

  it('sends the headers option, calling a function before every request', async () => {
    const seen: Array<string | undefined> = [];
    const app = new Hono().get('/jobs/ping/:id', (c) => {
      seen.push(c.req.header('authorization'));
      return c.json(jobJson());
    });
    let token = 0;
    const client = createJobsClient({
      baseUrl: `${await serveApp(app)}/jobs/`,
      headers: async () => ({ authorization: `Bearer ${++token}` }),
    });
    await client.endpoint('ping').get(ID);
    await client.endpoint('ping').get(ID);
    expect(seen).toEqual(['Bearer 1', 'Bearer 2']);
  });
});

describe('redirects', () => {
  it('treats a POST redirected elsewhere than an output (308) as the normal answer', async () => {
    const app = new Hono()
      .post('/old/ping', (c) => c.redirect('/jobs/ping', 308))
      .post('/jobs/ping', async (c) => c.json({ ...jobJson(), echo: await c.req.json() }, 202));
    const client = createJobsClient({ baseUrl: `${await serveApp(app)}/old` });
    const job = await client.endpoint('ping').submit({ message: 'moved' });
    expect(job).toMatchObject({ id: ID, status: 'queued' });
    expect(job.links.self).toBe(`${served!.origin}/jobs/ping/${ID}`);
  });
});
