import { afterEach, describe, expect, it } from 'vitest';
import { createJobsApp } from './app.js';
import type { JobListRepresentation, JobRepresentation } from './representation.js';
import { get, json, postJson, SseReader, startTestServer, type TestServer, until } from './test-support.js';
import { WaiterCounts } from './waiters.js';

let server: TestServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

const alice = { 'X-Tenant': 'alice' };
const bob = { 'X-Tenant': 'bob' };
const tenant = {
  owner: (c: { req: { header(name: string): string | undefined } }) => c.req.header('x-tenant'),
};

async function expectTooManyWaiters(response: Response) {
  expect(response.status).toBe(429);
  expect(response.headers.get('content-type')).toBe('application/problem+json');
  expect(response.headers.get('retry-after')).toBe('5');
  expect(await response.json()).toMatchObject({ status: 429, code: 'too_many_waiters', limit: 2 });
}

/** Starts `count` long-polls on the job and resolves once the server holds them all (each has read the job). */
async function holdLongPolls(
  s: TestServer,
  job: JobRepresentation,
  count: number,
  headers: Record<string, string>,
) {
  const controller = new AbortController();
  const before = s.getCalls(job.id);
  const polls = Array.from({ length: count }, () =>
    fetch(`${s.origin}${job.links.self}`, {
      headers: { ...headers, Prefer: 'wait=30' },
      redirect: 'manual',
      signal: controller.signal,
    }).catch((error: unknown) => error),
  );
  await until(() => s.getCalls(job.id) >= before + count);
  return { polls, abort: () => controller.abort() };
}

/** A server with a cap of 2, a job of alice's that runs until `tag` is released, and two long-polls of hers on it. */
async function aliceAtHerCap(tag: string) {
  server = await startTestServer({ app: { ...tenant, maxWaitersPerClient: 2 } });
  const s = server;
  const job = await json<JobRepresentation>(await postJson(s.url('/task'), { tag, steps: 1 }, alice));
  return { s, job, held: await holdLongPolls(s, job, 2, alice) };
}

describe('maxWaitersPerClient', () => {
  it('answers 429 with Retry-After past the cap, before doing anything, and frees a slot when a wait ends', async () => {
    const { s, job, held } = await aliceAtHerCap('cap');

    await expectTooManyWaiters(await get(`${s.origin}${job.links.self}`, { ...alice, Prefer: 'wait=30' }));
    await expectTooManyWaiters(await get(`${s.origin}${job.links.events}`, alice));
    // A POST that would wait is refused before the job is stored.
    await expectTooManyWaiters(
      await postJson(s.url('/task'), { tag: 'refused' }, { ...alice, Prefer: 'wait=5' }),
    );
    const listed = await json<JobListRepresentation>(await get(s.url('/task'), alice));
    expect(listed.jobs.map((j) => j.id)).toEqual([job.id]);

    // Requests that do not wait are not counted, nor are another owner's.
    expect((await get(`${s.origin}${job.links.self}`, alice)).status).toBe(200);
    expect((await postJson(s.url('/ping'), { message: 'no wait' }, alice)).status).toBe(202);
    const other = await json<JobRepresentation>(
      await postJson(s.url('/ping'), { message: 'bob' }, { ...bob, Prefer: 'wait=5' }),
    );
    expect(other.status).toBe('succeeded');

    // The job finishes: both long-polls are answered and their slots are free again.
    s.gates.release('cap');
    const answers = (await Promise.all(held.polls)) as Response[];
    expect(answers.map((answer) => answer.status)).toEqual([303, 303]);
    expect((await get(`${s.origin}${job.links.self}`, { ...alice, Prefer: 'wait=1' })).status).toBe(303);
  });

  it('frees the slot of a long-poll whose client went away and of an event stream that ended', async () => {
    const { s, job, held } = await aliceAtHerCap('gone');
    await expectTooManyWaiters(await get(`${s.origin}${job.links.events}`, alice));
    held.abort();
    await Promise.all(held.polls);

    // Both slots come back once the server noticed: two event streams are taken, a third is refused.
    const streams: SseReader[] = [];
    while (streams.length < 2) {
      const response = await get(`${s.origin}${job.links.events}`, alice);
      if (response.status === 429) continue;
      expect(response.status).toBe(200);
      const reader = new SseReader(response.body!);
      expect((await reader.next())?.event).toBe('status');
      streams.push(reader);
    }
    await expectTooManyWaiters(await get(`${s.origin}${job.links.events}`, alice));
    // A stream the client closes gives its slot back.
    await streams[0]!.cancel();
    let response = await get(`${s.origin}${job.links.events}`, alice);
    while (response.status === 429) response = await get(`${s.origin}${job.links.events}`, alice);
    expect(response.status).toBe(200);
    // A stream that ends (the job is final) gives its slot back too.
    const last = new SseReader(response.body!);
    s.gates.release('gone');
    while ((await last.next()) !== null) {}
    while ((await streams[1]!.next()) !== null) {}
    expect((await get(`${s.origin}${job.links.self}`, { ...alice, Prefer: 'wait=1' })).status).toBe(303);
    expect((await get(`${s.origin}${job.links.self}`, { ...alice, Prefer: 'wait=1' })).status).toBe(303);
  });

  it('counts by clientKey when given; a request without a key, or with the cap off, is not counted', async () => {
    server = await startTestServer({
      app: { maxWaitersPerClient: 2, clientKey: (c) => c.req.header('x-client') },
    });
    const s = server;
    const job = await json<JobRepresentation>(await postJson(s.url('/task'), { tag: 'keyed', steps: 1 }));
    const keyed = await holdLongPolls(s, job, 2, { 'X-Client': 'c1' });
    await expectTooManyWaiters(await get(`${s.origin}${job.links.events}`, { 'X-Client': 'c1' }));
    const unkeyed = await holdLongPolls(s, job, 3, {});
    const another = await holdLongPolls(s, job, 2, { 'X-Client': 'c2' });
    s.gates.release('keyed');
    for (const held of [keyed, unkeyed, another]) {
      const answers = (await Promise.all(held.polls)) as Response[];
      expect(answers.every((answer) => answer.status === 303)).toBe(true);
    }

    await server.close();
    server = await startTestServer({ app: { ...tenant, maxWaitersPerClient: Number.POSITIVE_INFINITY } });
    const off = server;
    const open = await json<JobRepresentation>(
      await postJson(off.url('/task'), { tag: 'off', steps: 1 }, alice),
    );
    const many = await holdLongPolls(off, open, 5, alice);
    off.gates.release('off');
    expect(((await Promise.all(many.polls)) as Response[]).map((answer) => answer.status)).toEqual(
      Array(5).fill(303),
    );
  });

  it('checks the options', () => {
    const service = {} as never;
    for (const value of [0, -1, 1.5, Number.NaN]) {
      expect(() => createJobsApp({ service, maxWaitersPerClient: value })).toThrow(/maxWaitersPerClient/);
      expect(() => createJobsApp({ service, maxJsonDepth: value })).toThrow(/maxJsonDepth/);
    }
  });
});

describe('WaiterCounts', () => {
  it('gives each key up to max slots, each released once however often its release is called', () => {
    const counts = new WaiterCounts(2);
    const first = counts.acquire('a')!;
    const second = counts.acquire('a')!;
    expect(counts.acquire('a')).toBeNull();
    expect(counts.acquire('b')).not.toBeNull();
    first();
    first();
    const third = counts.acquire('a');
    expect(third).not.toBeNull();
    expect(counts.acquire('a')).toBeNull();
    second();
    third!();
    expect(counts.clients).toBe(1);
  });
});
