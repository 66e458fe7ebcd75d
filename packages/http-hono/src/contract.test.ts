import { createJobsRuntime, implement, JOB_ID_PATTERN } from '@jobs/core';
import { createMemoryQueue, createMemoryRepository } from '@jobs/memory';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJobsApp } from './app.js';
import type { JobListRepresentation, JobRepresentation } from './representation.js';
import {
  get,
  json,
  ping,
  pollJob,
  postJson,
  startTestServer,
  type TestServer,
  until,
} from './test-support.js';

const JOB_KEYS = [
  'id',
  'endpoint',
  'status',
  'createdAt',
  'updatedAt',
  'startedAt',
  'finishedAt',
  'expiresAt',
  'estimatedCompletionAt',
  'runAt',
  'priority',
  'attempt',
  'maxAttempts',
  'progress',
  'error',
  'cancelRequested',
  'links',
];
/** A succeeded job also has `resourceLocation`, the output URL (for clients that do not follow the 303). */
const SUCCEEDED_JOB_KEYS = [...JOB_KEYS.slice(0, -1), 'resourceLocation', 'links'];

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.close();
});

function expectProblem(response: Response, status: number) {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toBe('application/problem+json');
}

async function submitTask(tag: string, extra: Record<string, unknown> = {}) {
  const response = await postJson(server.url('/task'), { tag, ...extra });
  expect(response.status).toBe(202);
  return json<JobRepresentation>(response);
}

describe('POST /{endpoint}', () => {
  it('answers 202 with the job, Location, Content-Location and Retry-After', async () => {
    const response = await postJson(server.url('/ping'), { message: 'hello' });
    expect(response.status).toBe(202);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const job = await json<JobRepresentation>(response);
    expect(Object.keys(job)).toEqual(JOB_KEYS);
    expect(job.id).toMatch(JOB_ID_PATTERN);
    expect(job.endpoint).toBe('ping');
    expect(['queued', 'running', 'succeeded']).toContain(job.status);
    expect(new Date(job.createdAt).toISOString()).toBe(job.createdAt);
    expect(job.maxAttempts).toBe(3);
    expect(job.cancelRequested).toBe(false);
    expect(job).not.toHaveProperty('input');
    const self = `/jobs/ping/${job.id}`;
    expect(response.headers.get('location')).toBe(self);
    expect(response.headers.get('content-location')).toBe(self);
    expect(job.links.self).toBe(self);
    expect(job.links.events).toBe(`${self}/events`);
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(response.headers.get('vary')).toContain('Prefer');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('preference-applied')).toBeNull();
    expect(response.headers.get('idempotent-replayed')).toBeNull();
  });

  it('with Prefer: wait=N answers 303 to the output once the job succeeded in time', async () => {
    const response = await postJson(server.url('/ping'), { message: 'wait for me' }, { Prefer: 'wait=30' });
    expect(response.status).toBe(303);
    const job = await json<JobRepresentation>(response);
    expect(job.status).toBe('succeeded');
    expect(response.headers.get('location')).toBe(`/jobs/ping/${job.id}/output`);
    expect(response.headers.get('content-location')).toBe(`/jobs/ping/${job.id}`);
    expect(job.links.output).toBe(`/jobs/ping/${job.id}/output`);
    expect(response.headers.get('preference-applied')).toBe('wait=30');
    expect(response.headers.get('vary')).toContain('Prefer');
    const output = await get(`${server.origin}${response.headers.get('location')}`);
    expect(output.status).toBe(200);
    expect(await output.json()).toEqual({ pong: 'wait for me' });
  });

  it('caps the wait at maxWaitSeconds and says so in Preference-Applied', async () => {
    const response = await postJson(
      server.url('/ping'),
      { message: 'x' },
      { Prefer: 'respond-async, wait=100000' },
    );
    expect(response.status).toBe(303);
    expect(response.headers.get('preference-applied')).toBe('wait=60');
  });

  it('with Prefer: wait=N answers the usual 202 when the job is not final in time', async () => {
    const response = await postJson(
      server.url('/task'),
      { tag: 'slow-post', steps: 1 },
      { Prefer: 'wait=1' },
    );
    expect(response.status).toBe(202);
    expect(response.headers.get('preference-applied')).toBe('wait=1');
    const job = await json<JobRepresentation>(response);
    expect(['queued', 'running']).toContain(job.status);
    expect(response.headers.get('location')).toBe(`/jobs/task/${job.id}`);
    expect(response.headers.get('retry-after')).not.toBeNull();
    server.gates.release('slow-post');
    await pollJob(server, job.links.self, (j) => j.status === 'succeeded');
  });

  it('waits on POST until the job reaches a final state, not just any change', async () => {
    const pending = postJson(server.url('/task'), { tag: 'post-wait', steps: 2 }, { Prefer: 'wait=30' });
    const running = await findJob('task', (j) => j.status === 'running');
    server.gates.release('post-wait');
    await pollJob(server, running.links.self, (j) => (j.progress?.fraction ?? 0) >= 0.5);
    server.gates.release('post-wait');
    const response = await pending;
    expect(response.status).toBe(303);
    const job = await json<JobRepresentation>(response);
    expect(job.id).toBe(running.id);
    expect(job.status).toBe('succeeded');
  }, 20_000);
});

/** The newest job of an endpoint that satisfies `predicate`, polling the list. */
async function findJob(endpoint: string, predicate: (job: JobRepresentation) => boolean) {
  for (;;) {
    const page = await json<JobListRepresentation>(await get(server.url(`/${endpoint}?limit=100`)));
    const found = page.jobs.find(predicate);
    if (found) return found;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('GET /{endpoint}/{id}', () => {
  it('answers 200 with Retry-After and no-store while running, 303 with the job when succeeded', async () => {
    const created = await submitTask('get-running', { steps: 1 });
    const running = await pollJob(server, created.links.self, (j) => j.status === 'running');
    expect(running.startedAt).not.toBeNull();
    expect(running.attempt).toBe(1);
    expect(running.estimatedCompletionAt).not.toBeNull();
    expect(running.links.output).toBeUndefined();
    const response = await get(server.url(`/task/${created.id}`));
    expect(response.status).toBe(200);
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('vary')).toContain('Prefer');

    server.gates.release('get-running');
    await pollJob(server, created.links.self, (j) => j.status === 'succeeded');
    const done = await get(server.url(`/task/${created.id}`));
    expect(done.status).toBe(303);
    expect(done.headers.get('location')).toBe(`/jobs/task/${created.id}/output`);
    expect(done.headers.get('retry-after')).toBeNull();
    expect(done.headers.get('cache-control')).toBe('no-store');
    const job = await json<JobRepresentation>(done);
    expect(Object.keys(job)).toEqual(SUCCEEDED_JOB_KEYS);
    expect(job.resourceLocation).toBe(`/jobs/task/${created.id}/output`);
    expect(job.status).toBe('succeeded');
    expect(job.finishedAt).not.toBeNull();
    expect(job.expiresAt).not.toBeNull();
    expect(job.progress).toEqual({ fraction: 1, message: 'step 1 of 1' });
    expect(job.links).toEqual({
      self: `/jobs/task/${created.id}`,
      events: `/jobs/task/${created.id}/events`,
      output: `/jobs/task/${created.id}/output`,
    });
  });

  it('following the 303 reaches the output', async () => {
    const created = await json<JobRepresentation>(await postJson(server.url('/ping'), { message: 'follow' }));
    await pollJob(server, created.links.self, (j) => j.status === 'succeeded');
    const followed = await fetch(server.url(`/ping/${created.id}`));
    expect(followed.status).toBe(200);
    expect(followed.redirected).toBe(true);
    expect(await followed.json()).toEqual({ pong: 'follow' });
  });

  it('POST with Prefer: wait answers 200 with the error when the job fails during the wait', async () => {
    const response = await postJson(
      server.url('/task'),
      { tag: 'fails-while-waited', fail: true },
      { Prefer: 'wait=30' },
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('preference-applied')).toBe('wait=30');
    expect(response.headers.get('retry-after')).toBeNull();
    expect(response.headers.get('location')).toMatch(/\/task\/[0-9a-f-]{36}$/);
    const job = await json<JobRepresentation>(response);
    expect(job).toMatchObject({ status: 'failed', error: { code: 'job_failed' } });
  });

  it('answers 200 with the error when the job failed; the output is "not available"', async () => {
    const created = await submitTask('fails', { fail: true });
    await pollJob(server, created.links.self, (j) => j.status === 'failed');
    const response = await get(server.url(`/task/${created.id}`));
    expect(response.status).toBe(200);
    expect(response.headers.get('retry-after')).toBeNull();
    const job = await json<JobRepresentation>(response);
    expect(job.error).toMatchObject({ code: 'job_failed', detail: 'The task was told to fail.' });
    expect(job.links.output).toBeUndefined();
    const output = await get(server.url(`/task/${created.id}/output`));
    expectProblem(output, 404);
    expect(await output.json()).toMatchObject({
      type: 'urn:jobs:problem:output-not-available',
      code: 'output_not_available',
      status: 404,
    });
  });

  it('long-polls with Prefer: wait=N and answers as soon as the job changes', async () => {
    const created = await submitTask('long-poll', { steps: 2 });
    const running = await pollJob(server, created.links.self, (j) => j.status === 'running');
    const reads = server.getCalls(created.id);
    const pending = get(server.url(`/task/${created.id}`), { Prefer: 'wait=30' });
    // Change the job only once the long-poll has read it, so that the change is the one it waits for.
    await until(() => server.getCalls(created.id) > reads);
    server.gates.release('long-poll');
    const response = await pending;
    expect(response.headers.get('preference-applied')).toBe('wait=30');
    expect(response.headers.get('vary')).toContain('Prefer');
    const job = await json<JobRepresentation>(response);
    expect(job.updatedAt > running.updatedAt).toBe(true);
    expect(job.progress?.fraction).toBe(0.5);
    expect(response.status).toBe(200);
    server.gates.release('long-poll');
    const final = await get(server.url(`/task/${created.id}`), { Prefer: 'wait=30' });
    expect([200, 303]).toContain(final.status);
    const finished = await pollJob(server, created.links.self, (j) => j.status === 'succeeded');
    expect(finished.progress?.fraction).toBe(1);
  }, 20_000);

  it('answers at once with Prefer: wait when the job is already final', async () => {
    const created = await json<JobRepresentation>(
      await postJson(server.url('/ping'), { message: 'final' }, { Prefer: 'wait=30' }),
    );
    const response = await get(server.url(`/ping/${created.id}`), { Prefer: 'wait=30' });
    expect(response.status).toBe(303);
    expect(response.headers.get('preference-applied')).toBe('wait=30');
  });

  it("answers 404 for unknown, malformed and other endpoints' ids", async () => {
    const created = await json<JobRepresentation>(await postJson(server.url('/ping'), { message: 'mine' }));
    for (const path of [
      '/ping/6f1c1a52-8d0e-4a59-9a5e-1f0b8f6c2c11',
      '/ping/not-a-job-id',
      '/ping/6F1C1A52-8D0E-4A59-9A5E-1F0B8F6C2C11',
      `/task/${created.id}`,
      `/task/${created.id}/output`,
      `/task/${created.id}/events`,
      `/nope/${created.id}`,
    ]) {
      const response = await get(server.url(path));
      expectProblem(response, 404);
      const problem = await response.json();
      expect(problem).toMatchObject({
        status: 404,
        code: 'not_found',
        type: 'urn:jobs:problem:not-found',
      });
    }
  });
});

describe('GET /{endpoint}/{id}/output', () => {
  it('answers 404 "not ready" while the job runs and 200 with the output once it succeeded', async () => {
    const created = await submitTask('output', { steps: 1 });
    const early = await get(server.url(`/task/${created.id}/output`));
    expectProblem(early, 404);
    expect(await early.json()).toMatchObject({
      type: 'urn:jobs:problem:output-not-ready',
      code: 'output_not_ready',
      title: 'Output not ready',
    });
    server.gates.release('output');
    await pollJob(server, created.links.self, (j) => j.status === 'succeeded');
    const response = await get(server.url(`/task/${created.id}/output`));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toEqual({ tag: 'output', steps: 1 });
  });
});

describe('DELETE /{endpoint}/{id}', () => {
  it('cancels a queued job (200), then removes it (204), then 404', async () => {
    // Fill the task endpoint's two slots so the third job stays queued.
    const blockers = [
      await submitTask('blocker-1', { steps: 1 }),
      await submitTask('blocker-2', { steps: 1 }),
    ];
    for (const blocker of blockers) await pollJob(server, blocker.links.self, (j) => j.status === 'running');
    const queued = await submitTask('queued-cancel', { steps: 1 });
    expect(queued.status).toBe('queued');
    const canceled = await fetch(server.url(`/task/${queued.id}`), { method: 'DELETE' });
    expect(canceled.status).toBe(200);
    const job = await json<JobRepresentation>(canceled);
    expect(job.status).toBe('canceled');
    expect(job.error).toMatchObject({ code: 'canceled' });
    expect(job.expiresAt).not.toBeNull();

    const got = await get(server.url(`/task/${queued.id}`));
    expect(got.status).toBe(200);
    expect((await json<JobRepresentation>(got)).status).toBe('canceled');
    const output = await get(server.url(`/task/${queued.id}/output`));
    expectProblem(output, 404);
    expect((await output.json()).code).toBe('output_not_available');

    const removed = await fetch(server.url(`/task/${queued.id}`), { method: 'DELETE' });
    expect(removed.status).toBe(204);
    expect(await removed.text()).toBe('');
    const again = await fetch(server.url(`/task/${queued.id}`), { method: 'DELETE' });
    expectProblem(again, 404);
    expectProblem(await get(server.url(`/task/${queued.id}`)), 404);

    server.gates.release('blocker-1');
    server.gates.release('blocker-2');
    for (const blocker of blockers)
      await pollJob(server, blocker.links.self, (j) => j.status === 'succeeded');
  });

  it('requests cancellation of a running job (202), which reaches the worker', async () => {
    const created = await submitTask('running-cancel', { steps: 1 });
    await pollJob(server, created.links.self, (j) => j.status === 'running');
    const response = await fetch(server.url(`/task/${created.id}`), { method: 'DELETE' });
    expect(response.status).toBe(202);
    expect(response.headers.get('retry-after')).not.toBeNull();
    const job = await json<JobRepresentation>(response);
    expect(job.cancelRequested).toBe(true);
    expect(job.status).toBe('running');
    const again = await fetch(server.url(`/task/${created.id}`), { method: 'DELETE' });
    expect([202, 204]).toContain(again.status);
    if (again.status === 202) {
      const canceled = await pollJob(server, created.links.self, (j) => j.status === 'canceled');
      expect(canceled.error).toMatchObject({ code: 'canceled' });
      expect((await fetch(server.url(`/task/${created.id}`), { method: 'DELETE' })).status).toBe(204);
    }
    expectProblem(await get(server.url(`/task/${created.id}`)), 404);
  });

  it('removes a succeeded job: its output is gone too', async () => {
    const response = await postJson(server.url('/ping'), { message: 'bye' }, { Prefer: 'wait=30' });
    expect(response.status).toBe(303);
    const job = await json<JobRepresentation>(response);
    expect((await fetch(server.url(`/ping/${job.id}`), { method: 'DELETE' })).status).toBe(204);
    expectProblem(await get(server.url(`/ping/${job.id}/output`)), 404);
  });
});

describe('GET /{endpoint} (list)', () => {
  it('lists newest first with cursor pagination, Link rel=next and a status filter', async () => {
    const listServer = await startTestServer();
    try {
      const ids: string[] = [];
      for (const message of ['a', 'b', 'c']) {
        const response = await postJson(listServer.url('/ping'), { message }, { Prefer: 'wait=30' });
        ids.push((await json<JobRepresentation>(response)).id);
      }
      const failed = await json<JobRepresentation>(
        await postJson(listServer.url('/task'), { tag: 'x', fail: true }),
      );
      await pollJob(listServer, failed.links.self, (j) => j.status === 'failed');

      const first = await get(listServer.url('/ping?limit=2'));
      expect(first.status).toBe(200);
      expect(first.headers.get('cache-control')).toBe('no-store');
      const page1 = await json<JobListRepresentation>(first);
      expect(page1.jobs.map((j) => j.id)).toEqual([ids[2], ids[1]]);
      expect(Object.keys(page1.jobs[0]!)).toEqual(SUCCEEDED_JOB_KEYS);
      expect(page1.nextCursor).toEqual(expect.any(String));
      const link = first.headers.get('link');
      expect(link).toBe(`</jobs/ping?limit=2&cursor=${encodeURIComponent(page1.nextCursor!)}>; rel="next"`);
      const nextPath = /<([^>]+)>/.exec(link!)![1]!;
      const second = await get(`${listServer.origin}${nextPath}`);
      const page2 = await json<JobListRepresentation>(second);
      expect(page2.jobs.map((j) => j.id)).toEqual([ids[0]]);
      expect(page2.nextCursor).toBeNull();
      expect(second.headers.get('link')).toBeNull();

      const succeeded = await json<JobListRepresentation>(
        await get(listServer.url('/ping?status=succeeded')),
      );
      expect(succeeded.jobs).toHaveLength(3);
      const none = await json<JobListRepresentation>(await get(listServer.url('/ping?status=failed')));
      expect(none.jobs).toEqual([]);
      const tasks = await json<JobListRepresentation>(await get(listServer.url('/task?status=failed')));
      expect(tasks.jobs.map((j) => j.id)).toEqual([failed.id]);

      for (const query of [
        'status=done',
        'limit=0',
        'limit=101',
        'limit=abc',
        'limit=-1',
        'cursor=garbage',
      ]) {
        const bad = await get(listServer.url(`/ping?${query}`));
        expectProblem(bad, 422);
        const problem = await bad.json();
        expect(problem.code).toBe('invalid_input');
        expect(problem.issues).toEqual(expect.any(Array));
      }
    } finally {
      await listServer.close();
    }
  });
});

describe('two endpoints side by side', () => {
  it("keeps each endpoint's jobs apart", async () => {
    const sideServer = await startTestServer();
    try {
      const p = await json<JobRepresentation>(
        await postJson(sideServer.url('/ping'), { message: 'p' }, { Prefer: 'wait=30' }),
      );
      const t = await json<JobRepresentation>(
        await postJson(sideServer.url('/task'), { tag: 't' }, { Prefer: 'wait=30' }),
      );
      expect(p.endpoint).toBe('ping');
      expect(t.endpoint).toBe('task');
      const pings = await json<JobListRepresentation>(await get(sideServer.url('/ping')));
      const tasks = await json<JobListRepresentation>(await get(sideServer.url('/task')));
      expect(pings.jobs.map((j) => j.id)).toEqual([p.id]);
      expect(tasks.jobs.map((j) => j.id)).toEqual([t.id]);
      expect(await (await get(sideServer.url(`/ping/${p.id}/output`))).json()).toEqual({ pong: 'p' });
      expect(await (await get(sideServer.url(`/task/${t.id}/output`))).json()).toEqual({
        tag: 't',
        steps: 0,
      });
      expect((await get(sideServer.url(`/ping/${t.id}`))).status).toBe(404);
      expect((await fetch(sideServer.url(`/ping/${t.id}`), { method: 'DELETE' })).status).toBe(404);
      expect((await get(sideServer.url(`/task/${t.id}`))).status).toBe(303);
    } finally {
      await sideServer.close();
    }
  });
});

describe('methods and paths', () => {
  it('answers 405 with Allow for a method a resource does not support', async () => {
    const created = await json<JobRepresentation>(await postJson(server.url('/ping'), { message: 'm' }));
    const cases: Array<[string, string, string]> = [
      ['PUT', '/ping', 'GET, HEAD, POST, OPTIONS'],
      ['DELETE', '/ping', 'GET, HEAD, POST, OPTIONS'],
      ['POST', `/ping/${created.id}`, 'GET, HEAD, DELETE, OPTIONS'],
      ['PATCH', `/ping/${created.id}`, 'GET, HEAD, DELETE, OPTIONS'],
      ['DELETE', `/ping/${created.id}/output`, 'GET, HEAD, OPTIONS'],
      ['POST', `/ping/${created.id}/events`, 'GET, OPTIONS'],
      ['POST', '/openapi.json', 'GET, HEAD, OPTIONS'],
    ];
    for (const [method, path, allow] of cases) {
      const response = await fetch(server.url(path), { method, redirect: 'manual' });
      expectProblem(response, 405);
      expect(response.headers.get('allow')).toBe(allow);
      expect(await response.json()).toMatchObject({ code: 'method_not_allowed', status: 405 });
    }
    const options = await fetch(server.url('/ping'), { method: 'OPTIONS' });
    expect(options.status).toBe(204);
    expect(options.headers.get('allow')).toBe('GET, HEAD, POST, OPTIONS');
  });

  it('answers HEAD like GET without a body', async () => {
    const created = await json<JobRepresentation>(
      await postJson(server.url('/ping'), { message: 'head' }, { Prefer: 'wait=30' }),
    );
    const head = await fetch(server.url(`/ping/${created.id}`), { method: 'HEAD', redirect: 'manual' });
    expect(head.status).toBe(303);
    expect(head.headers.get('location')).toBe(`/jobs/ping/${created.id}/output`);
    expect(await head.text()).toBe('');
    const list = await fetch(server.url('/ping'), { method: 'HEAD' });
    expect(list.status).toBe(200);
  });

  it('answers a problem 404 for unknown endpoints and paths under the mount', async () => {
    for (const [method, path] of [
      ['GET', '/nope'],
      ['POST', '/nope'],
      ['GET', '/ping/x/y/z'],
      ['GET', '/'],
    ] as const) {
      const response = await fetch(server.url(path), {
        method,
        headers: { 'Content-Type': 'application/json' },
        ...(method === 'POST' ? { body: '{}' } : {}),
      });
      expectProblem(response, 404);
      expect((await response.json()).code).toBe('not_found');
    }
  });
});

describe('mounting', () => {
  it('derives links from the mount path, or from basePath when set', async () => {
    const nested = await startTestServer({ mount: '/api/v1/jobs' });
    const proxied = await startTestServer({ app: { basePath: '/public/jobs' } });
    try {
      const response = await postJson(nested.url('/ping'), { message: 'nested' }, { Prefer: 'wait=30' });
      const job = await json<JobRepresentation>(response);
      expect(response.headers.get('location')).toBe(`/api/v1/jobs/ping/${job.id}/output`);
      expect(job.links.self).toBe(`/api/v1/jobs/ping/${job.id}`);
      const list = await json<JobListRepresentation>(await get(nested.url('/ping')));
      expect(list.jobs[0]!.links.self).toBe(`/api/v1/jobs/ping/${job.id}`);

      const other = await postJson(proxied.url('/ping'), { message: 'proxied' });
      const otherJob = await json<JobRepresentation>(other);
      expect(other.headers.get('location')).toBe(`/public/jobs/ping/${otherJob.id}`);
    } finally {
      await nested.close();
      await proxied.close();
    }
  });
});

describe('CORS', () => {
  it('answers preflights and exposes the contract headers', async () => {
    const corsServer = await startTestServer({ app: { cors: true } });
    try {
      const preflight = await fetch(corsServer.url('/ping'), {
        method: 'OPTIONS',
        headers: {
          Origin: 'https://app.example',
          'Access-Control-Request-Method': 'POST',
          'Access-Control-Request-Headers': 'content-type, prefer, idempotency-key',
        },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
      expect(preflight.headers.get('access-control-allow-methods')).toContain('POST');
      expect(preflight.headers.get('access-control-allow-methods')).toContain('DELETE');
      const allowed = preflight.headers.get('access-control-allow-headers')!.toLowerCase();
      for (const header of ['content-type', 'prefer', 'idempotency-key', 'last-event-id']) {
        expect(allowed).toContain(header);
      }

      const response = await postJson(
        corsServer.url('/ping'),
        { message: 'cors' },
        { Origin: 'https://app.example' },
      );
      expect(response.status).toBe(202);
      expect(response.headers.get('access-control-allow-origin')).toBe('*');
      const exposed = response.headers.get('access-control-expose-headers')!;
      for (const header of ['Location', 'Content-Location', 'Retry-After', 'Preference-Applied', 'Link']) {
        expect(exposed).toContain(header);
      }
      const problem = await get(corsServer.url('/ping/not-an-id'), { Origin: 'https://app.example' });
      expect(problem.status).toBe(404);
      expect(problem.headers.get('access-control-allow-origin')).toBe('*');
    } finally {
      await corsServer.close();
    }
  });

  it('restricts origins and allows credentials and extra headers when configured', async () => {
    const corsServer = await startTestServer({
      app: {
        cors: { origin: ['https://app.example'], credentials: true, allowHeaders: ['X-Tenant'], maxAge: 60 },
      },
    });
    try {
      const preflight = await fetch(corsServer.url('/ping'), {
        method: 'OPTIONS',
        headers: { Origin: 'https://app.example', 'Access-Control-Request-Method': 'POST' },
      });
      expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example');
      expect(preflight.headers.get('access-control-allow-credentials')).toBe('true');
      expect(preflight.headers.get('access-control-allow-headers')).toContain('X-Tenant');
      expect(preflight.headers.get('access-control-max-age')).toBe('60');
      const response = await postJson(
        corsServer.url('/ping'),
        { message: 'c' },
        { Origin: 'https://app.example' },
      );
      expect(response.headers.get('access-control-allow-origin')).toBe('https://app.example');
      expect(response.headers.get('vary')).toContain('Origin');
      expect(response.headers.get('vary')).toContain('Prefer');
      const stranger = await postJson(
        corsServer.url('/ping'),
        { message: 'c' },
        { Origin: 'https://evil.example' },
      );
      expect(stranger.headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      await corsServer.close();
    }
  });
});

describe('runtime independence', () => {
  it('works as a plain fetch handler, without a Node.js server', async () => {
    const runtime = createJobsRuntime({
      repository: createMemoryRepository(),
      queue: createMemoryQueue(),
      workers: [implement(ping, (input) => ({ pong: input.message.toUpperCase() }))],
    });
    await runtime.start();
    try {
      const app = new Hono().route('/api/jobs', createJobsApp({ service: runtime.service }));
      const created = await app.fetch(
        new Request('http://worker.example/api/jobs/ping', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Prefer: 'wait=30' },
          body: '{"message":"edge"}',
        }),
      );
      expect(created.status).toBe(303);
      const location = created.headers.get('location')!;
      expect(location).toMatch(/^\/api\/jobs\/ping\/[0-9a-f-]{36}\/output$/);
      const output = await app.fetch(new Request(`http://worker.example${location}`));
      expect(await output.json()).toEqual({ pong: 'EDGE' });
    } finally {
      await runtime.stop();
    }
  });
});
