// POST /{endpoint}/batch over HTTP: each item stored or refused on its own, in one repository round trip.
import type { JobRepository, NewJob } from '@jobs/core';
import { createMemoryRepository } from '@jobs/memory';
import { afterEach, describe, expect, it } from 'vitest';
import type { JobListRepresentation, JobRepresentation } from './representation.js';
import type { BatchItemResult } from './routes/batch.js';
import { get, json, pollJob, postJson, startTestServer, type TestServer, until } from './test-support.js';

let server: TestServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

/** A memory repository that records the size of every `create` call. */
function countingCreates(): { repository: JobRepository; creates: number[] } {
  const creates: number[] = [];
  const inner = createMemoryRepository();
  const repository = new Proxy(inner, {
    get(target, property, receiver) {
      if (property === 'create') {
        return (jobs: readonly NewJob[]) => {
          creates.push(jobs.length);
          return target.create(jobs);
        };
      }
      const value = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { repository, creates };
}

type Results = {
  results: Array<BatchItemResult & { job?: JobRepresentation; replayed?: boolean; problem?: any }>;
};

async function listIds(s: TestServer, endpoint: string, headers: Record<string, string> = {}) {
  return (await json<JobListRepresentation>(await get(s.url(`/${endpoint}`), headers))).jobs.map((j) => j.id);
}

describe('POST /{endpoint}/batch', () => {
  it('stores the valid items and refuses the others, each on its own, in one create call, in item order', async () => {
    const { repository, creates } = countingCreates();
    server = await startTestServer({ repository });
    const s = server;
    const response = await postJson(s.url('/ping/batch'), {
      jobs: [
        { input: { message: 'a' } },
        { input: { message: 1 } }, // schema-invalid
        42, // not an object
        { input: { message: 'b' }, delay: 5 }, // unknown field
        { input: { message: 'c' }, runAt: '2999-01-01T00:00:00Z', delaySeconds: 1 },
        { input: { message: 'd' }, priority: 1001 },
        { input: { message: 'e' }, runAt: 'tomorrow', idempotencyKey: '' },
        { input: { message: 'f' }, delaySeconds: 3600.25, priority: 9 },
        { input: { message: 'g' }, runAt: '2999-01-01T01:00:00+01:00', priority: -3, idempotencyKey: 'g-1' },
        { idempotencyKey: 'no-input' },
        { input: { message: 'u\u0000' } }, // a string no store can hold
      ],
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const { results } = await json<Results>(response);
    expect(results.map((result) => result.status)).toEqual([
      202, 422, 422, 422, 422, 422, 422, 202, 202, 422, 422,
    ]);
    const paths = (index: number) =>
      results[index]!.problem.issues.map((issue: { path: unknown[] }) => issue.path.join('.'));
    expect(paths(1)).toEqual(['message']); // as POST /ping answers it: relative to the input
    expect(paths(2)).toEqual(['']);
    expect(paths(3)).toEqual(['delay']);
    expect(paths(4)).toEqual(['runAt']);
    expect(paths(5)).toEqual(['priority']);
    expect(paths(6)).toEqual(['idempotencyKey', 'runAt']);
    expect(paths(9)).toEqual(['input']);
    for (const index of [1, 2, 3, 4, 5, 6, 9, 10]) {
      expect(results[index]!.problem).toMatchObject({
        type: 'urn:jobs:problem:invalid-input',
        status: 422,
        code: 'invalid_input',
      });
    }
    expect(results[3]!.problem.detail).toContain('delay');

    const [a, f, g] = [results[0]!, results[7]!, results[8]!];
    expect(a).toMatchObject({ replayed: false, job: { endpoint: 'ping', priority: 0 } });
    expect(f).toMatchObject({ replayed: false, job: { status: 'queued', priority: 9 } });
    expect(Date.parse(f.job!.runAt) - Date.parse(f.job!.createdAt)).toBe(3_600_250);
    expect(g.job).toMatchObject({ status: 'queued', priority: -3, runAt: '2999-01-01T00:00:00.000Z' });
    expect(a.job!.links.self).toBe(`/jobs/ping/${a.job!.id}`);

    // One repository call for the whole batch: the items the front end refused never reached it.
    expect(creates).toEqual([4]);
    expect((await listIds(s, 'ping')).sort()).toEqual([a.job!.id, f.job!.id, g.job!.id].sort());
    // GET shows what the batch answered; the job without a delay runs.
    const got = await json<JobRepresentation>(await get(`${s.origin}${g.job!.links.self}`));
    expect(got).toMatchObject({ status: 'queued', priority: -3, runAt: g.job!.runAt });
    expect((await pollJob(s, a.job!.links.self, (job) => job.status === 'succeeded')).priority).toBe(0);
  });

  it('replays within a batch and across retries: per-item keys make a retried batch safe', async () => {
    server = await startTestServer();
    const s = server;
    const batch = {
      jobs: [
        { input: { message: 'one' }, idempotencyKey: 'k1' },
        { input: { message: 'one' }, idempotencyKey: 'k1' }, // the same key and input: the same job
        { input: { message: 'two' }, idempotencyKey: 'k1' }, // the same key, another input
        { input: { message: 'three' }, idempotencyKey: 'k3', priority: 5 },
      ],
    };
    const first = (await json<Results>(await postJson(s.url('/ping/batch'), batch))).results;
    expect(first.map((result) => [result.status, 'replayed' in result ? result.replayed : null])).toEqual([
      [202, false],
      [202, true],
      [422, null],
      [202, false],
    ]);
    expect(first[1]!.job!.id).toBe(first[0]!.job!.id);
    expect(first[2]!.problem).toMatchObject({ code: 'idempotency_key_reused', status: 422 });

    const retried = (await json<Results>(await postJson(s.url('/ping/batch'), batch))).results;
    expect(retried.map((result) => result.status)).toEqual([202, 202, 422, 202]);
    expect(retried.filter((result) => result.job).every((result) => result.replayed)).toBe(true);
    expect(retried[3]!.job!.id).toBe(first[3]!.job!.id);
    expect((await listIds(s, 'ping')).sort()).toEqual([first[0]!.job!.id, first[3]!.job!.id].sort());

    // A single submit with the key replays the batch's job, and the other way round.
    const single = await postJson(s.url('/ping'), { message: 'three' }, { 'Idempotency-Key': '"k3"' });
    expect(single.headers.get('idempotent-replayed')).toBe('true');
    expect((await json<JobRepresentation>(single)).id).toBe(first[3]!.job!.id);
  });

  it('answers a replayed job that failed with 200, as a single submit does', async () => {
    server = await startTestServer();
    const s = server;
    const failed = await json<JobRepresentation>(
      await postJson(
        s.url('/task'),
        { tag: 'f', fail: true },
        { 'Idempotency-Key': '"fail-1"', Prefer: 'wait=10' },
      ),
    );
    expect(failed.status).toBe('failed');
    const { results } = await json<Results>(
      await postJson(s.url('/task/batch'), {
        jobs: [{ input: { tag: 'f', fail: true }, idempotencyKey: 'fail-1' }],
      }),
    );
    expect(results).toEqual([
      {
        status: 200,
        job: expect.objectContaining({ id: failed.id, status: 'failed' }),
        replayed: true,
        uniqueMatch: false,
      },
    ]);
  });

  it('refuses a malformed request as a whole (nothing stored); an empty batch answers no results', async () => {
    server = await startTestServer({ app: { maxBodyBytes: 64 * 1024 } });
    const s = server;
    const envelopes: Array<[unknown, string]> = [
      [[{ input: { message: 'a' } }], ''],
      [{ input: { message: 'a' } }, 'input'],
      [{}, 'jobs'],
      [{ jobs: { input: { message: 'a' } } }, 'jobs'],
      [{ jobs: [{ input: { message: 'a' } }], extra: true }, 'extra'],
      [{ jobs: Array.from({ length: 1001 }, () => 1) }, 'jobs'],
      ['jobs', ''],
      [null, ''],
    ];
    for (const [body, path] of envelopes) {
      const response = await postJson(s.url('/ping/batch'), body);
      expect(response.status, JSON.stringify(body).slice(0, 50)).toBe(422);
      expect(response.headers.get('content-type')).toBe('application/problem+json');
      const problem = await response.json();
      expect(problem).toMatchObject({
        code: 'invalid_input',
        detail: expect.stringMatching(/^The batch is malformed/),
      });
      expect(problem.issues[0].path.join('.')).toBe(path);
    }
    const text = (body: string, headers: Record<string, string> = {}) =>
      fetch(s.url('/ping/batch'), {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...headers },
        body,
      });
    expect((await text('{"jobs": [')).status).toBe(400);
    expect((await text('{"jobs": []}', { 'Content-Type': 'text/plain' })).status).toBe(415);
    const large = { jobs: Array.from({ length: 1000 }, () => ({ input: { message: 'x'.repeat(100) } })) };
    const tooLarge = await postJson(s.url('/ping/batch'), large);
    expect(tooLarge.status).toBe(413);
    expect(await tooLarge.json()).toMatchObject({ code: 'payload_too_large', limit: 64 * 1024 });
    // Headers of a single submit are per item in a batch: refused rather than ignored.
    for (const header of ['Idempotency-Key', 'Job-Run-At', 'Job-Delay', 'Job-Priority']) {
      const response = await postJson(
        s.url('/ping/batch'),
        { jobs: [{ input: { message: 'h' } }] },
        { [header]: '"1"' },
      );
      expect(response.status, header).toBe(422);
      expect((await response.json()).issues[0].path).toEqual([header]);
    }
    expect(await listIds(s, 'ping')).toEqual([]);

    const empty = await postJson(s.url('/ping/batch'), { jobs: [] });
    expect(empty.status).toBe(200);
    expect(await empty.json()).toEqual({ results: [] });
  });

  it('takes 1000 jobs; 404 for an unknown endpoint, 405 for another method', async () => {
    server = await startTestServer();
    const s = server;
    const jobs = Array.from({ length: 1000 }, (_, i) => ({
      input: { message: `m${i}` },
      delaySeconds: 3600,
    }));
    const { results } = await json<Results>(await postJson(s.url('/ping/batch'), { jobs }));
    expect(results).toHaveLength(1000);
    expect(results.every((result) => result.status === 202)).toBe(true);
    expect(new Set(results.map((result) => result.job!.id)).size).toBe(1000);

    const unknown = await postJson(s.url('/nope/batch'), { jobs: [] });
    expect(unknown.status).toBe(404);
    expect((await unknown.json()).code).toBe('not_found');
    const other = await get(s.url('/ping/batch'));
    expect(other.status).toBe(405);
    expect(other.headers.get('allow')).toBe('POST, OPTIONS');
    const options = await fetch(s.url('/ping/batch'), { method: 'OPTIONS' });
    expect(options.status).toBe(204);
  });

  it('stores the jobs under the caller’s owner, never waits (no waiter slot), and rebases item problem types', async () => {
    server = await startTestServer({
      app: {
        owner: (c) => c.req.header('x-tenant'),
        maxWaitersPerClient: 1,
        problemTypeBase: 'https://docs.example/problems/',
      },
    });
    const s = server;
    const alice = { 'X-Tenant': 'alice' };
    // Alice holds her one waiting request.
    const running = await json<JobRepresentation>(
      await postJson(s.url('/task'), { tag: 'hold', steps: 1 }, alice),
    );
    const before = s.getCalls(running.id);
    const held = new AbortController();
    const poll = fetch(`${s.origin}${running.links.self}`, {
      headers: { ...alice, Prefer: 'wait=30' },
      signal: held.signal,
    }).catch(() => null);
    await until(() => s.getCalls(running.id) > before);

    const response = await postJson(
      s.url('/ping/batch'),
      { jobs: [{ input: { message: 'mine' } }, { input: {} }] },
      { ...alice, Prefer: 'wait=30' },
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('preference-applied')).toBeNull();
    const { results } = await json<Results>(response);
    expect(results[1]!.problem.type).toBe('https://docs.example/problems/invalid-input');
    const id = results[0]!.job!.id;
    expect(await listIds(s, 'ping', alice)).toEqual([id]);
    expect(await listIds(s, 'ping', { 'X-Tenant': 'bob' })).toEqual([]);
    expect((await get(s.url(`/ping/${id}`), { 'X-Tenant': 'bob' })).status).toBe(404);
    held.abort();
    await poll;
    s.gates.release('hold');
  });
});
