// Conditional polling end to end: the client sends the last ETag it saw (If-None-Match) and reads 304 as
// "unchanged", against the real stack (@jobs/http-hono + runtime + memory blocks) over a socket.
import { describe, expect, it, vi } from 'vitest';
import { createJobsClient } from './client.js';
import { task, until, useJobsServer } from './test-support.js';
import type { Job } from './wire.js';

// The client may ask the server to hold a request for 30 s: a request held when it should not be runs into
// this timeout, without any timing assertion.
vi.setConfig({ testTimeout: 20_000 });

const server = useJobsServer();

let tags = 0;
const newTag = () => `conditional-${++tags}`;

function jobRequests(id: string) {
  return server().requests.filter(
    (request) => request.method === 'GET' && request.path === `/jobs/task/${id}`,
  );
}

/** The job as the repository has it now (not through HTTP). */
async function stored(id: string) {
  return server().runtime.service.get('task', id, { owner: null });
}

describe('wait', () => {
  it('reports a change made between two long-polls at once, from the ETag of the state it saw last', async () => {
    const tag = newTag();
    let id = '';
    let longPolls = 0;
    // Before each long-poll leaves, the job moves on to its next state and the test makes sure the server
    // has it: a long-poll that waited for a change after its arrival would be held (30 s) and time out.
    const fetchBetweenPolls: typeof fetch = async (input, init) => {
      const headers = new Headers(init?.headers);
      if (headers.has('prefer')) {
        longPolls++;
        const before = await stored(id);
        if (before.status === 'running') {
          server().gates.release(tag);
          await until(async () => (await stored(id)).updatedAt.getTime() !== before.updatedAt.getTime());
        }
      }
      return fetch(input, init);
    };
    const tasks = createJobsClient({ baseUrl: server().baseUrl, fetch: fetchBetweenPolls }).endpoint(task);
    const job = await tasks.submit({ tag, steps: 2 });
    id = job.id;
    expect(job.etag).toMatch(/^".+"$/);
    await until(async () => (await stored(id)).status === 'running');

    const seen: Job[] = [];
    const final = await tasks.wait(job, { onProgress: (current) => seen.push(current) });
    expect(final.status).toBe('succeeded');
    expect(longPolls).toBeGreaterThanOrEqual(2);
    // Every state the client saw is another one, each with its own tag.
    const etags = seen.map((current) => current.etag);
    expect(new Set(etags).size).toBe(seen.length);
    expect(seen[0]?.status).toBe('running');
    expect(seen.some((current) => current.progress?.fraction === 0.5)).toBe(true);
    expect(seen.at(-1)).toBe(final);
    expect(final.etag).toMatch(/^".+"$/);

    // Each long-poll named the state the answer before it carried.
    const gets = jobRequests(id);
    for (let i = 1; i < gets.length; i++) {
      expect(gets[i]?.prefer).toBe('wait=30');
      expect(gets[i]?.ifNoneMatch).toBe(gets[i - 1]?.etag);
    }
    expect(gets.every((request) => request.status !== 304)).toBe(true);
  });

  it('keeps the job it has on 304 (the wait ended without a change) and goes on', async () => {
    const tag = newTag();
    const tasks = createJobsClient({ baseUrl: server().baseUrl, maxWaitSeconds: 1 }).endpoint(task);
    const job = await tasks.submit({ tag, steps: 1 });
    await until(async () => (await stored(job.id)).status === 'running');
    const seen: Job[] = [];
    const waiting = tasks.wait(job.id, { onProgress: (current) => seen.push(current) });
    // Hold the job until a long-poll came back 304, then let it finish.
    await until(() => jobRequests(job.id).some((request) => request.status === 304));
    const unchanged = jobRequests(job.id).find((request) => request.status === 304)!;
    expect(unchanged.prefer).toBe('wait=1');
    expect(unchanged.etag).toBe(unchanged.ifNoneMatch);
    expect(seen.map((current) => current.status)).toEqual(['running']);
    server().gates.release(tag);
    const final = await waiting;
    expect(final.status).toBe('succeeded');
    // A 304 reports nothing: every state reported once.
    expect(new Set(seen.map((current) => current.etag)).size).toBe(seen.length);
    expect(seen.at(-1)).toBe(final);
    expect(seen[0]?.etag).toBe(unchanged.etag);
  });

  it('sends If-None-Match in poll mode too, without Prefer', async () => {
    const tag = newTag();
    const tasks = createJobsClient({ baseUrl: server().baseUrl, pollIntervalMs: 100 }).endpoint(task);
    const job = await tasks.submit({ tag, steps: 1 });
    await until(async () => (await stored(job.id)).status === 'running');
    const waiting = tasks.wait(job.id, { mode: 'poll' });
    await until(() => jobRequests(job.id).some((request) => request.status === 304));
    server().gates.release(tag);
    expect((await waiting).status).toBe('succeeded');
    const gets = jobRequests(job.id);
    expect(gets.every((request) => request.prefer === null)).toBe(true);
    expect(gets[0]?.ifNoneMatch).toBeNull();
    for (let i = 1; i < gets.length; i++) expect(gets[i]?.ifNoneMatch).toBe(gets[i - 1]?.etag);
  });

  it('run long-polls from the state the POST answered', async () => {
    const tag = newTag();
    const seen: Job[] = [];
    const tasks = createJobsClient({ baseUrl: server().baseUrl }).endpoint(task);
    const running = tasks.run({ tag, steps: 1 }, { onProgress: (job) => seen.push(job) });
    await until(() => seen.length > 0);
    const created = seen[0]!;
    expect(created.etag).toMatch(/^".+"$/);
    // The first long-poll names the state of the 202.
    await until(() => jobRequests(created.id).length > 0);
    expect(jobRequests(created.id)[0]?.ifNoneMatch).toBe(created.etag);
    await until(async () => (await stored(created.id)).status === 'running');
    server().gates.release(tag);
    expect(await running).toEqual({ tag, steps: 1 });
  });
});

describe('get', () => {
  it('with a job that has an ETag asks whether it changed: the same job on 304, the new state otherwise', async () => {
    const tag = newTag();
    const tasks = createJobsClient({ baseUrl: server().baseUrl }).endpoint(task);
    const job = await tasks.submit({ tag, steps: 2 });
    await until(async () => (await stored(job.id)).status === 'running');
    const running = await tasks.get(job.id);
    expect(running.status).toBe('running');
    expect(running.etag).toMatch(/^".+"$/);

    // Unchanged: a 304, answered with the object passed in.
    expect(await tasks.get(running)).toBe(running);
    expect(await tasks.get(running, { wait: 1 })).toBe(running);
    const [plain, held] = jobRequests(job.id).slice(-2);
    expect(plain).toMatchObject({ ifNoneMatch: running.etag, status: 304, prefer: null });
    expect(held).toMatchObject({ ifNoneMatch: running.etag, status: 304, prefer: 'wait=1' });

    // Changed before the request: answered at once (a 30 s hold would run into the test timeout).
    server().gates.release(tag);
    await until(async () => (await stored(job.id)).progress?.fraction === 0.5);
    const progressed = await tasks.get(running, { wait: 30 });
    expect(progressed).not.toBe(running);
    expect(progressed.progress?.fraction).toBe(0.5);
    expect(progressed.etag).not.toBe(running.etag);

    // Changed during the request: answered with the change.
    const reads = jobRequests(job.id).length;
    const pending = tasks.get(progressed, { wait: 30 });
    await until(() => jobRequests(job.id).length > reads);
    server().gates.release(tag);
    const next = await pending;
    expect(next.etag).not.toBe(progressed.etag);
    expect(next.updatedAt.getTime()).toBeGreaterThanOrEqual(progressed.updatedAt.getTime());
    expect((await tasks.wait(next)).status).toBe('succeeded');
  });

  it('without an ETag (an id, or a job from a list) asks unconditionally', async () => {
    const tag = newTag();
    const tasks = createJobsClient({ baseUrl: server().baseUrl }).endpoint(task);
    const job = await tasks.submit({ tag, steps: 1 });
    const listed = (await tasks.list()).jobs.find((candidate) => candidate.id === job.id)!;
    expect(listed.etag).toBeUndefined();
    const got = await tasks.get(listed);
    expect(got).not.toBe(listed);
    expect(jobRequests(job.id).at(-1)?.ifNoneMatch).toBeNull();
    server().gates.release(tag);
    expect((await tasks.wait(got)).status).toBe('succeeded');
  });
});
