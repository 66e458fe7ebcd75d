// Conditional requests and conditional long-polling (ETag / If-None-Match) over a real socket.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobRepresentation } from './representation.js';
import { get, json, pollJob, postJson, startTestServer, type TestServer, until } from './test-support.js';

// A long-poll that is wrongly held runs into the test timeout: the server may hold a request for 60 s.
const TIMEOUT = 20_000;
const ETAG = /^"\d+-[0-9a-z]+"$/;

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.close();
});

async function submitTask(tag: string, steps: number): Promise<JobRepresentation> {
  const response = await postJson(server.url('/task'), { tag, steps });
  expect(response.status).toBe(202);
  return json<JobRepresentation>(response);
}

/** GETs the job once it is running; answers its representation and ETag. */
async function runningJob(tag: string, steps: number) {
  const created = await submitTask(tag, steps);
  await pollJob(server, created.links.self, (job) => job.status === 'running');
  const response = await get(server.url(`/task/${created.id}`));
  expect(response.status).toBe(200);
  const job = await json<JobRepresentation>(response);
  expect(job.status).toBe('running');
  return { job, etag: response.headers.get('etag')! };
}

/** Starts a conditional long-poll and resolves once the server has read the job for it. */
async function startLongPoll(
  id: string,
  etag: string,
  wait: number,
): Promise<{ response: Promise<Response> }> {
  const reads = server.getCalls(id);
  const response = get(server.url(`/task/${id}`), { 'If-None-Match': etag, Prefer: `wait=${wait}` });
  await until(() => server.getCalls(id) > reads);
  return { response };
}

async function expectNotModified(response: Response, etag: string): Promise<void> {
  expect(response.status).toBe(304);
  expect(response.headers.get('etag')).toBe(etag);
  expect(response.headers.get('cache-control')).toBe('no-store');
  expect(response.headers.get('vary')).toContain('Prefer');
  expect(response.headers.get('location')).toBeNull();
  expect(await response.text()).toBe('');
}

describe('ETag', () => {
  it('is on every job answer (POST 202/303, GET 200/303, DELETE 200/202) and changes with the job', async () => {
    const accepted = await postJson(server.url('/task'), { tag: 'etag-all', steps: 1 });
    expect(accepted.status).toBe(202);
    const acceptedTag = accepted.headers.get('etag');
    expect(acceptedTag).toMatch(ETAG);
    const created = await json<JobRepresentation>(accepted);
    expect(acceptedTag).toContain(`"${Date.parse(created.updatedAt)}-`);

    const { job: running, etag: runningTag } = await runningJob('etag-running', 1);
    expect(runningTag).toMatch(ETAG);
    expect(runningTag).toContain(`"${Date.parse(running.updatedAt)}-`);
    // Unchanged state, same tag.
    expect((await get(server.url(`/task/${running.id}`))).headers.get('etag')).toBe(runningTag);

    const cancel = await fetch(server.url(`/task/${running.id}`), { method: 'DELETE' });
    expect(cancel.status).toBe(202);
    const cancelTag = cancel.headers.get('etag');
    expect(cancelTag).toMatch(ETAG);
    expect(cancelTag).not.toBe(runningTag);
    const afterCancel = await get(server.url(`/task/${running.id}`));
    const afterCancelJob = await json<JobRepresentation>(afterCancel);
    if (afterCancelJob.status === 'running') expect(afterCancel.headers.get('etag')).toBe(cancelTag);

    server.gates.release('etag-all');
    await pollJob(server, created.links.self, (job) => job.status === 'succeeded');
    const done = await get(server.url(`/task/${created.id}`));
    expect(done.status).toBe(303);
    expect(done.headers.get('etag')).toMatch(ETAG);
    expect(done.headers.get('etag')).not.toBe(acceptedTag);

    const finished = await postJson(server.url('/ping'), { message: 'etag' }, { Prefer: 'wait=30' });
    expect(finished.status).toBe(303);
    expect(finished.headers.get('etag')).toMatch(ETAG);
    const finishedJob = await json<JobRepresentation>(finished);
    expect((await get(server.url(`/ping/${finishedJob.id}`))).headers.get('etag')).toBe(
      finished.headers.get('etag'),
    );
  });

  it('is on the 200 of a DELETE that cancels a queued job', async () => {
    // Fill the task endpoint's two slots so that the third job stays queued.
    const blockers = [await runningJob('etag-blocker-1', 1), await runningJob('etag-blocker-2', 1)];
    const queued = await submitTask('etag-queued', 1);
    expect(queued.status).toBe('queued');
    const canceled = await fetch(server.url(`/task/${queued.id}`), { method: 'DELETE' });
    expect(canceled.status).toBe(200);
    const etag = canceled.headers.get('etag');
    expect(etag).toMatch(ETAG);
    expect((await get(server.url(`/task/${queued.id}`))).headers.get('etag')).toBe(etag);
    server.gates.release('etag-blocker-1');
    server.gates.release('etag-blocker-2');
    for (const { job } of blockers) await pollJob(server, job.links.self, (j) => j.status === 'succeeded');
  });
});

describe('If-None-Match without a wait', () => {
  it('answers 304 while the job is in the state the tag names, 200 otherwise', async () => {
    const { job, etag } = await runningJob('inm-plain', 2);
    const url = server.url(`/task/${job.id}`);
    const notModified = await get(url, { 'If-None-Match': etag });
    await expectNotModified(notModified, etag);
    expect(Number(notModified.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);

    // Weak comparison: W/ on either side does not matter; a list matches when one of its tags does.
    await expectNotModified(await get(url, { 'If-None-Match': `W/${etag}` }), etag);
    await expectNotModified(await get(url, { 'If-None-Match': `"other", ${etag}` }), etag);
    // `*` matches any current state of an existing job.
    await expectNotModified(await get(url, { 'If-None-Match': '*' }), etag);
    // HEAD too.
    const head = await fetch(url, { method: 'HEAD', headers: { 'If-None-Match': etag } });
    expect(head.status).toBe(304);
    expect(head.headers.get('etag')).toBe(etag);

    // Another tag, or a header that cannot be read (ignored), gets the job.
    for (const condition of ['"1-abc"', 'no-quotes', `${etag} trailing`]) {
      const response = await get(url, { 'If-None-Match': condition });
      expect(response.status).toBe(200);
      expect(response.headers.get('etag')).toBe(etag);
      expect((await json<JobRepresentation>(response)).id).toBe(job.id);
    }

    server.gates.release('inm-plain', 2);
    await pollJob(server, job.links.self, (j) => j.status === 'succeeded');
    const changed = await get(url, { 'If-None-Match': etag });
    expect(changed.status).toBe(303);
    const newTag = changed.headers.get('etag')!;
    expect(newTag).not.toBe(etag);
    expect((await json<JobRepresentation>(changed)).status).toBe('succeeded');
    const finalNotModified = await get(url, { 'If-None-Match': newTag });
    await expectNotModified(finalNotModified, newTag);
    expect(finalNotModified.headers.get('retry-after')).toBeNull();
  });

  it('answers 404 for an unknown job whatever the condition', async () => {
    const response = await get(server.url('/task/00000000-0000-4000-8000-000000000000'), {
      'If-None-Match': '*',
    });
    expect(response.status).toBe(404);
  });
});

describe('If-None-Match with Prefer: wait=N', () => {
  it(
    'answers at once with the new state when the tag is stale',
    async () => {
      const { job, etag } = await runningJob('stale', 2);
      server.gates.release('stale');
      const progressed = await pollJob(server, job.links.self, (j) => j.progress?.fraction === 0.5);
      // Nothing changes any more until the test says so: a held request would run into the timeout.
      const response = await get(server.url(`/task/${job.id}`), { 'If-None-Match': etag, Prefer: 'wait=60' });
      expect(response.status).toBe(200);
      expect(response.headers.get('preference-applied')).toBe('wait=60');
      const newTag = response.headers.get('etag');
      expect(newTag).toMatch(ETAG);
      expect(newTag).not.toBe(etag);
      const body = await json<JobRepresentation>(response);
      expect(body.updatedAt).toBe(progressed.updatedAt);
      expect(body.progress?.fraction).toBe(0.5);
      server.gates.release('stale');
      await pollJob(server, job.links.self, (j) => j.status === 'succeeded');
    },
    TIMEOUT,
  );

  it(
    'waits while the tag is current and answers the next change (progress, then completion) with its tag',
    async () => {
      const { job, etag } = await runningJob('current', 2);
      const first = await startLongPoll(job.id, etag, 60);
      server.gates.release('current');
      const progressed = await first.response;
      expect(progressed.status).toBe(200);
      expect(progressed.headers.get('preference-applied')).toBe('wait=60');
      const progressTag = progressed.headers.get('etag')!;
      expect(progressTag).toMatch(ETAG);
      expect(progressTag).not.toBe(etag);
      const progressJob = await json<JobRepresentation>(progressed);
      expect(progressJob.progress).toEqual({ fraction: 0.5, message: 'step 1 of 2' });
      expect(progressTag).toContain(`"${Date.parse(progressJob.updatedAt)}-`);

      const second = await startLongPoll(job.id, progressTag, 60);
      server.gates.release('current');
      // The last step's progress report (fraction 1) may come before the completion: follow the tags.
      let completed = await second.response;
      let previousTag = progressTag;
      while (completed.status === 200) {
        const tag = completed.headers.get('etag')!;
        expect(tag).not.toBe(previousTag);
        expect((await json<JobRepresentation>(completed)).progress?.fraction).toBe(1);
        previousTag = tag;
        completed = await get(server.url(`/task/${job.id}`), { 'If-None-Match': tag, Prefer: 'wait=60' });
      }
      expect(completed.status).toBe(303);
      expect(completed.headers.get('location')).toBe(`/jobs/task/${job.id}/output`);
      const completedTag = completed.headers.get('etag')!;
      expect(completedTag).toMatch(ETAG);
      expect(completedTag).not.toBe(previousTag);
      expect((await json<JobRepresentation>(completed)).status).toBe('succeeded');

      // A final job does not change any more: its current tag answers 304 at once.
      const final = await get(server.url(`/task/${job.id}`), {
        'If-None-Match': completedTag,
        Prefer: 'wait=60',
      });
      await expectNotModified(final, completedTag);
    },
    TIMEOUT,
  );

  it(
    'answers a cancel request that arrives during the wait',
    async () => {
      const { job, etag } = await runningJob('cancel-during-wait', 1);
      const pending = await startLongPoll(job.id, etag, 60);
      const cancel = await fetch(server.url(`/task/${job.id}`), { method: 'DELETE' });
      expect(cancel.status).toBe(202);
      const response = await pending.response;
      expect(response.status).toBe(200);
      expect(response.headers.get('etag')).not.toBe(etag);
      const changed = await json<JobRepresentation>(response);
      expect(changed.cancelRequested).toBe(true);
      await pollJob(server, job.links.self, (j) => j.status === 'canceled');
    },
    TIMEOUT,
  );

  it(
    'answers 304 with the same tag when the wait ends without a change',
    async () => {
      const { job, etag } = await runningJob('no-change', 1);
      const response = await get(server.url(`/task/${job.id}`), { 'If-None-Match': etag, Prefer: 'wait=1' });
      await expectNotModified(response, etag);
      expect(response.headers.get('preference-applied')).toBe('wait=1');
      expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      server.gates.release('no-change');
      await pollJob(server, job.links.self, (j) => j.status === 'succeeded');
    },
    TIMEOUT,
  );

  it(
    'ends a held request when the app shuts down',
    async () => {
      const own = await startTestServer();
      let closing: Promise<void> | null = null;
      try {
        const created = await json<JobRepresentation>(
          await postJson(own.url('/task'), { tag: 'shutdown', steps: 1 }),
        );
        await pollJob(own, created.links.self, (job) => job.status === 'running');
        const current = await get(own.url(`/task/${created.id}`));
        const etag = current.headers.get('etag')!;
        const reads = own.getCalls(created.id);
        const pending = get(own.url(`/task/${created.id}`), { 'If-None-Match': etag, Prefer: 'wait=60' });
        await until(() => own.getCalls(created.id) > reads);
        closing = own.close();
        // The held request ends now, not after 60 s (the stopping worker may change the job meanwhile).
        const response = await pending;
        expect([200, 304]).toContain(response.status);
        if (response.status === 304) expect(response.headers.get('etag')).toBe(etag);
        else expect(response.headers.get('etag')).not.toBe(etag);
      } finally {
        await (closing ?? own.close());
      }
    },
    TIMEOUT,
  );
});

describe('CORS', () => {
  it('allows If-None-Match and exposes ETag', async () => {
    const corsServer = await startTestServer({ app: { cors: true } });
    try {
      const preflight = await fetch(corsServer.url('/ping/x'), {
        method: 'OPTIONS',
        headers: {
          Origin: 'https://app.example',
          'Access-Control-Request-Method': 'GET',
          'Access-Control-Request-Headers': 'if-none-match, prefer',
        },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-headers')!.toLowerCase()).toContain('if-none-match');
      const response = await postJson(
        corsServer.url('/ping'),
        { message: 'cors' },
        { Origin: 'https://a.b' },
      );
      expect(response.headers.get('access-control-expose-headers')).toContain('ETag');
    } finally {
      await corsServer.close();
    }
  });
});
