// End to end: the client against the real stack (@jobs/http-hono + runtime + memory blocks) over a socket.
import { describe, expect, expectTypeOf, it, vi } from 'vitest';
import { z } from 'zod';
import { createJobsClient } from './client.js';
import {
  JobCanceledError,
  JobFailedClientError,
  JobsHttpError,
  JobWaitTimeoutError,
  OutputValidationError,
} from './errors.js';
import { ping, task, until, useJobsServer } from './test-support.js';
import type { JobEvent } from './types.js';
import type { Job } from './wire.js';

// Some cases wait for a Retry-After of a second or two, or for a cancel to reach the worker.
vi.setConfig({ testTimeout: 20_000 });

const server = useJobsServer();

const client = () => createJobsClient({ baseUrl: server().baseUrl });
let tags = 0;
const newTag = () => `t${++tags}`;

function requestsTo(path: string) {
  return server().requests.filter((request) => request.path === path);
}

describe('submit, wait, output', () => {
  it('submits (202), long-polls until the job is final and reads the typed output', async () => {
    const tasks = client().endpoint(task);
    const tag = newTag();
    const job = await tasks.submit({ tag, steps: 1 });
    expect(job).toMatchObject({
      endpoint: 'task',
      status: 'queued',
      attempt: 0,
      maxAttempts: 1,
      error: null,
    });
    expect(job.createdAt).toBeInstanceOf(Date);
    expect(job.links).toEqual({
      self: `${server().baseUrl}/task/${job.id}`,
      events: `${server().baseUrl}/task/${job.id}/events`,
    });

    const seen: Job[] = [];
    const waiting = tasks.wait(job.id, { onProgress: (current) => seen.push(current) });
    await until(async () => (await tasks.get(job)).status === 'running');
    server().gates.release(tag);
    const final = await waiting;
    expect(final.status).toBe('succeeded');
    expect(final.finishedAt).toBeInstanceOf(Date);
    expect(final.links.output).toBe(`${server().baseUrl}/task/${job.id}/output`);
    expect(seen[0]?.id).toBe(job.id);
    expect(seen.at(-1)).toEqual(final);
    // The first GET reads the current state, the later ones long-poll.
    const gets = requestsTo(`/jobs/task/${job.id}`).filter((request) => request.method === 'GET');
    const waits = gets.filter((request) => request.prefer === 'wait=30');
    expect(waits.length).toBeGreaterThan(0);

    const output = await tasks.output(final);
    expectTypeOf(output).toEqualTypeOf<{ tag: string; steps: number }>();
    expect(output).toEqual({ tag, steps: 1 });
  });

  it('submit with wait answers the finished job when the server redirects to the output', async () => {
    const job = await client().endpoint(ping).submit({ message: 'hi' }, { wait: 10 });
    expect(job.status).toBe('succeeded');
    expect(requestsTo('/jobs/ping').at(-1)?.prefer).toBe('wait=10');
  });

  it('run = submit + wait + output, typed', async () => {
    const pings = client().endpoint(ping);
    const output = await pings.run({ message: 'hello' });
    expectTypeOf(output).toEqualTypeOf<{ pong: string }>();
    expect(output).toEqual({ pong: 'hello' });
  });

  it('run reports the states it sees, the final one last', async () => {
    const tasks = client().endpoint(task);
    const tag = newTag();
    const seen: Job[] = [];
    const running = tasks.run({ tag, steps: 3 }, { onProgress: (job) => seen.push(job) });
    await until(() => seen.length > 0);
    // With onProgress, the POST does not wait: the first report is the job as created.
    expect(seen[0]?.status).toBe('queued');
    await until(async () => (await tasks.get(seen[0]!)).status === 'running');
    server().gates.release(tag, 3);
    expect(await running).toEqual({ tag, steps: 3 });
    expect(seen.at(-1)?.status).toBe('succeeded');
    const fractions = seen.map((job) => job.progress?.fraction ?? 0);
    expect([...fractions].sort((a, b) => a - b)).toEqual(fractions);
    expect(requestsTo('/jobs/task').at(-1)?.prefer).toBeNull();
  });

  it('polls with Retry-After in poll mode, without Prefer', async () => {
    const tasks = client().endpoint(task);
    const tag = newTag();
    const job = await tasks.submit({ tag, steps: 1 });
    const path = `/jobs/task/${job.id}`;
    const waiting = tasks.wait(job, { mode: 'poll' });
    await until(() => requestsTo(path).length >= 1);
    server().gates.release(tag);
    expect((await waiting).status).toBe('succeeded');
    expect(requestsTo(path).every((request) => request.prefer === null)).toBe(true);
  });

  it('gives up waiting after timeoutMs with the last state', async () => {
    const tasks = client().endpoint(task);
    const tag = newTag();
    const job = await tasks.submit({ tag, steps: 1 });
    const error = await tasks.wait(job, { timeoutMs: 1_500 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JobWaitTimeoutError);
    expect((error as JobWaitTimeoutError).job.id).toBe(job.id);
    expect(['queued', 'running']).toContain((error as JobWaitTimeoutError).job.status);
    server().gates.release(tag);
    expect((await tasks.wait(job)).status).toBe('succeeded');
  });

  it('rejects an output that does not match the client’s output schema', async () => {
    const pings = client().endpoint(ping);
    const job = await pings.submit({ message: 'text' }, { wait: 10 });
    const strict = client().endpoint({ name: 'ping', output: z.object({ pong: z.number() }) });
    const error = await strict.output(job).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OutputValidationError);
    expect((error as OutputValidationError).issues[0]?.path).toEqual(['pong']);
    expect((error as OutputValidationError).output).toEqual({ pong: 'text' });
    // An endpoint given by name only does not validate.
    expect(await client().endpoint('ping').output(job)).toEqual({ pong: 'text' });
  });

  it('answers "not ready" for the output of an unfinished job', async () => {
    const tasks = client().endpoint(task);
    const tag = newTag();
    const job = await tasks.submit({ tag, steps: 1 });
    await expect(tasks.output(job)).rejects.toMatchObject({ status: 404, code: 'output_not_ready' });
    server().gates.release(tag);
    await tasks.wait(job);
  });

  it('maps schema-invalid input to a 422 with the issues', async () => {
    const error = (await client()
      .endpoint('ping')
      .submit({ message: 42 })
      .catch((e: unknown) => e)) as JobsHttpError;
    expect(error).toBeInstanceOf(JobsHttpError);
    expect(error.status).toBe(422);
    expect(error.code).toBe('invalid_input');
    expect(error.problem.issues?.[0]?.path).toEqual(['message']);
  });
});

describe('failure and cancel', () => {
  it('run throws JobFailedClientError with the job’s problem', async () => {
    const tag = newTag();
    const error = await client()
      .endpoint(task)
      .run({ tag, fail: true })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JobFailedClientError);
    const failed = error as JobFailedClientError;
    expect(failed.job.status).toBe('failed');
    expect(failed.problem).toMatchObject({ code: 'job_failed', detail: 'The task was told to fail.' });
    await expect(client().endpoint(task).output(failed.job)).rejects.toMatchObject({
      status: 404,
      code: 'output_not_available',
    });
  });

  it('cancels a running job (cancel_requested), run throws JobCanceledError, then DELETE removes it', async () => {
    const tasks = client().endpoint(task);
    const tag = newTag();
    let id = '';
    const running = tasks.run(
      { tag, steps: 1 },
      {
        onProgress: (job) => {
          id = job.id;
        },
      },
    );
    const settled = running.catch((e: unknown) => e);
    await until(async () => id !== '' && (await tasks.get(id)).status === 'running');
    expect(await tasks.cancel(id)).toBe('cancel_requested');
    const error = await settled;
    expect(error).toBeInstanceOf(JobCanceledError);
    expect((error as JobCanceledError).job.status).toBe('canceled');
    expect((error as JobCanceledError).problem.code).toBe('canceled');
    expect(await tasks.delete(id)).toBe('removed');
    await expect(tasks.get(id)).rejects.toMatchObject({ status: 404, code: 'not_found' });
  });

  it('cancels a queued job at once (canceled)', async () => {
    const tasks = client().endpoint(task);
    const blocker = newTag();
    // The worker host runs 4 task jobs at once; the fifth stays queued.
    const blockers = await Promise.all([1, 2, 3, 4].map(() => tasks.submit({ tag: blocker, steps: 1 })));
    await until(async () => (await tasks.list({ status: 'running' })).jobs.length === 4);
    const queued = await tasks.submit({ tag: newTag(), steps: 1 });
    expect((await tasks.get(queued)).status).toBe('queued');
    expect(await tasks.cancel(queued)).toBe('canceled');
    expect((await tasks.get(queued)).status).toBe('canceled');
    server().gates.release(blocker, 4);
    for (const job of blockers) expect((await tasks.wait(job)).status).toBe('succeeded');
  });

  it('cancelOnAbort cancels the job when the caller gives up', async () => {
    const tasks = client().endpoint(task);
    const controller = new AbortController();
    let id = '';
    const running = tasks.run(
      { tag: newTag(), steps: 1 },
      {
        signal: controller.signal,
        cancelOnAbort: true,
        onProgress: (job) => {
          id = job.id;
        },
      },
    );
    const settled = running.catch((e: unknown) => e);
    await until(() => id !== '');
    const reason = new Error('user gave up');
    controller.abort(reason);
    expect(await settled).toBe(reason);
    expect((await tasks.wait(id)).status).toBe('canceled');
  });

  it('deleteAfter removes the job once its output is read', async () => {
    const pings = client().endpoint(ping);
    expect(await pings.run({ message: 'once' }, { deleteAfter: true })).toEqual({ pong: 'once' });
    const deleted = requestsTo('/jobs/ping').length;
    expect(deleted).toBeGreaterThan(0);
    const lastDelete = server()
      .requests.filter((request) => request.method === 'DELETE')
      .at(-1);
    expect(lastDelete?.path).toMatch(/^\/jobs\/ping\/[0-9a-f-]{36}$/);
    await expect(pings.get(lastDelete!.path.split('/').at(-1)!)).rejects.toMatchObject({ status: 404 });
  });
});

describe('idempotency', () => {
  it('returns the original job for the same key and input, 422 for another input', async () => {
    const pings = client().endpoint(ping);
    const key = `key-${newTag()}`;
    const first = await pings.submit({ message: 'a' }, { idempotencyKey: key });
    const again = await pings.submit({ message: 'a' }, { idempotencyKey: key });
    expect(again.id).toBe(first.id);
    expect(requestsTo('/jobs/ping').at(-1)?.idempotencyKey).toBe(`"${key}"`);
    await expect(pings.submit({ message: 'b' }, { idempotencyKey: key })).rejects.toMatchObject({
      status: 422,
      code: 'idempotency_key_reused',
    });
    // run with the same key reads the original job's output.
    expect(await pings.run({ message: 'a' }, { idempotencyKey: key })).toEqual({ pong: 'a' });
  });
});

describe('events', () => {
  it('iterates the SSE stream until the final state', async () => {
    const tasks = client().endpoint(task);
    const tag = newTag();
    const job = await tasks.submit({ tag, steps: 2 });
    const events: JobEvent[] = [];
    for await (const event of tasks.events(job)) {
      events.push(event);
      if (event.job.status === 'running') server().gates.release(tag);
    }
    expect(events[0]?.type).toBe('status');
    expect(events.at(-1)?.job.status).toBe('succeeded');
    expect(events.at(-1)?.type).toBe('status');
    expect(events.every((event) => event.id !== null && event.job.id === job.id)).toBe(true);
    const fractions = events
      .filter((event) => event.type === 'progress')
      .map((event) => event.job.progress?.fraction);
    expect(fractions).toContain(0.5);
    // Ids increase with every change.
    const ids = events.map((event) => Number(event.id));
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
  });

  it('stops when the consumer breaks out, and fails with 404 for an unknown job', async () => {
    const tasks = client().endpoint(task);
    const tag = newTag();
    const job = await tasks.submit({ tag, steps: 1 });
    for await (const event of tasks.events(job)) {
      expect(event.job.id).toBe(job.id);
      break;
    }
    server().gates.release(tag);
    expect((await tasks.wait(job)).status).toBe('succeeded');
    const unknown = tasks.events('00000000-0000-4000-8000-000000000000');
    await expect(unknown.next()).rejects.toMatchObject({ status: 404, code: 'not_found' });
  });

  it('ends with the final job when resuming after the final event (204)', async () => {
    const pings = client().endpoint(ping);
    const job = await pings.submit({ message: 'x' }, { wait: 10 });
    const [first] = await collect(pings.events(job));
    expect(first?.job.status).toBe('succeeded');
    const resumed = await collect(pings.events(job, { lastEventId: first!.id! }));
    expect(resumed).toHaveLength(1);
    // The same state, read with a GET this time, which also tells its ETag.
    expect(resumed[0]?.job).toEqual({ ...first?.job, etag: expect.stringMatching(/^".+"$/) });
  });
});

describe('list', () => {
  it('pages with a cursor, iterates every page and filters by status', async () => {
    const pings = client().endpoint(ping);
    const before = new Set((await collect(pings.listAll())).map((job) => job.id));
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await pings.submit({ message: `list ${i}` }, { wait: 10 })).id);

    const first = await pings.list({ limit: 2 });
    expect(first.jobs.map((job) => job.id)).toEqual([ids[4], ids[3]]);
    expect(first.nextCursor).toEqual(expect.any(String));
    const second = await pings.list({ limit: 2, cursor: first.nextCursor! });
    expect(second.jobs.map((job) => job.id)).toEqual([ids[2], ids[1]]);

    const pages = await collect(pings.listPages({ limit: 2 }));
    expect(pages.length).toBeGreaterThanOrEqual(3);
    expect(pages.at(-1)?.nextCursor).toBeNull();
    const all = (await collect(pings.listAll({ limit: 2 }))).map((job) => job.id);
    expect(all.filter((id) => !before.has(id))).toEqual([...ids].reverse());

    const succeeded = await collect(pings.listAll({ status: 'succeeded', limit: 100 }));
    expect(succeeded.every((job) => job.status === 'succeeded')).toBe(true);
    expect(await pings.list({ status: 'running' })).toEqual({ jobs: [], nextCursor: null });
  });
});

describe('other transports', () => {
  it('works where redirects are opaque (browsers): follows the POST and reads the job from its events', async () => {
    // What a browser's fetch does: `redirect: 'manual'` hides a 3xx behind an opaque response.
    const browserFetch: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (init?.redirect !== 'manual' || response.status < 300 || response.status >= 400) return response;
      await response.body?.cancel();
      return {
        type: 'opaqueredirect',
        status: 0,
        ok: false,
        redirected: false,
        url: '',
        statusText: '',
        headers: new Headers(),
        body: null,
      } as unknown as Response;
    };
    const pings = createJobsClient({ baseUrl: server().baseUrl, fetch: browserFetch }).endpoint(ping);
    expect(await pings.run({ message: 'browser' })).toEqual({ pong: 'browser' });
    const job = await pings.submit({ message: 'b' }, { wait: 10 });
    expect(job.status).toBe('succeeded');
    expect((await pings.get(job)).links.output).toBe(`${server().baseUrl}/ping/${job.id}/output`);
    expect((await pings.wait(job)).status).toBe('succeeded');
  });

  it('works with an in-process app as fetch (no socket, redirects not followed, no response URL)', async () => {
    const inProcess: typeof fetch = async (input, init) => server().app.fetch(new Request(input, init));
    const pings = createJobsClient({ baseUrl: server().baseUrl, fetch: inProcess }).endpoint(ping);
    expect(await pings.run({ message: 'in process' })).toEqual({ pong: 'in process' });
    const job = await pings.submit({ message: 'm' }, { wait: 10 });
    expect(job.status).toBe('succeeded');
    expect(job.links.output).toBe(`${server().baseUrl}/ping/${job.id}/output`);
    expect((await pings.get(job)).id).toBe(job.id);
    const events = await collect(pings.events(job));
    expect(events.map((event) => event.job.status)).toEqual(['succeeded']);
  });
});

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}
