import { newJobId } from '@jobs/core';
import { expect } from 'vitest';
import { makeNewJob, uniqueName } from '../helpers.js';
import { expectInvalidItem, headerOf, LONG, type SubSuite, subSuite, unwrap } from './fixture.js';

/** `create` and `get`: a new job's fields, the header projection, duplicate ids and idempotency keys. */
export const describeCreateContract: SubSuite = subSuite('create and get', ({ test }) => {
  test('stores a queued job: attempt 0, runAt = createdAt = now, no dispatch, lease, result or ETA', async (f) => {
    const input = { text: 'hello', nested: { list: [1, 2, 3] } };
    const newJob = makeNewJob(f.endpoint, {
      input,
      owner: 'owner-1',
      idempotencyKey: 'key-1',
      inputHash: 'hash-1',
      maxAttempts: 5,
    });
    const [result] = await f.repo.create([newJob]);
    const { job, created } = unwrap(result);
    expect(created).toBe(true);
    expect(job).toEqual({
      id: newJob.id,
      endpoint: f.endpoint,
      status: 'queued',
      createdAt: expect.any(Date),
      updatedAt: expect.any(Date),
      startedAt: null,
      finishedAt: null,
      expiresAt: null,
      attempt: 0,
      maxAttempts: 5,
      progress: null,
      estimatedCompletionAt: null,
      error: null,
      cancelRequested: false,
      owner: 'owner-1',
      idempotencyKey: 'key-1',
      inputHash: 'hash-1',
      runAt: expect.any(Date),
      priority: 0,
      dispatchedAt: null,
      leaseToken: null,
      leaseExpiresAt: null,
      traceContext: null,
    });
    f.expectNow(job.createdAt);
    f.expectDuration(job.createdAt, job.runAt, 0);
    f.expectDuration(job.createdAt, job.updatedAt, 0);
    expect(await f.repo.get(newJob.id)).toEqual({ ...job, input, output: null });
  });

  test('stores the trace context as given and hands it back: get, the header, and the dispatch item', async (f) => {
    const traceContext = {
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      tracestate: 'vendor=value,other=1',
    };
    const [result] = await f.repo.create([makeNewJob(f.endpoint, { traceContext })]);
    const { job } = unwrap(result);
    expect(job.traceContext).toEqual(traceContext);
    expect((await f.mustGet(job.id)).traceContext).toEqual(traceContext);
    expect((await f.header(job.id))?.traceContext).toEqual(traceContext);
    const onlyParent = await f.create({ traceContext: { traceparent: traceContext.traceparent } });
    expect(onlyParent.traceContext).toEqual({ traceparent: traceContext.traceparent });
    const dispatched = await f.dispatch();
    expect(dispatched.items).toEqual(
      expect.arrayContaining([
        { id: job.id, endpoint: f.endpoint, traceContext },
        { id: onlyParent.id, endpoint: f.endpoint, traceContext: { traceparent: traceContext.traceparent } },
      ]),
    );
    // Without one: null.
    const none = await f.create();
    expect(none.traceContext).toBeNull();
  });

  test('refuses a trace context without traceparent, with other keys or values too long, and stores nothing', async (f) => {
    for (const traceContext of [
      { tracestate: 'a=b' },
      { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', baggage: 'k=v' },
      { traceparent: 'x'.repeat(129) },
      { traceparent: '' },
      { traceparent: 42 },
    ]) {
      const newJob = makeNewJob(f.endpoint, { traceContext: traceContext as never });
      expectInvalidItem((await f.repo.create([newJob]))[0]);
      expect(await f.repo.get(newJob.id)).toBeNull();
    }
  });

  test("get with 'header' returns the job without input and output; both are null for an unknown id", async (f) => {
    const job = await f.create({ input: { big: 'payload' } });
    const full = await f.mustGet(job.id);
    expect(full.input).toEqual({ big: 'payload' });
    expect(await f.repo.get(job.id, 'header')).toEqual(headerOf(full));
    expect(await f.repo.get(job.id, 'header')).toEqual(job);
    const unknown = newJobId();
    expect(await f.repo.get(unknown)).toBeNull();
    expect(await f.repo.get(unknown, 'header')).toBeNull();
  });

  test('an id already stored refuses its item with InvalidInputError and changes nothing', async (f) => {
    const job = await f.create({ input: { first: true } });
    const before = await f.mustGet(job.id);
    const [again] = await f.repo.create([
      makeNewJob(f.endpoint, { id: job.id, input: { first: false }, owner: 'someone' }),
    ]);
    expectInvalidItem(again);
    expect(await f.repo.get(job.id)).toEqual(before);
  });

  test('the same (owner, endpoint, key) returns the original job with created false and stores nothing', async (f) => {
    const original = await f.create({
      owner: 'alice',
      idempotencyKey: 'k1',
      input: { n: 1 },
      inputHash: 'h1',
    });
    const second = makeNewJob(f.endpoint, {
      owner: 'alice',
      idempotencyKey: 'k1',
      input: { n: 2 },
      inputHash: 'h2',
    });
    const result = unwrap((await f.repo.create([second]))[0]);
    expect(result.created).toBe(false);
    expect(result.job).toEqual(original);
    expect(await f.repo.get(second.id)).toBeNull();
    expect((await f.mustGet(original.id)).input).toEqual({ n: 1 });
  });

  test('returns the original in whatever state it is now', async (f) => {
    const keyed = await f.create({ idempotencyKey: 'state-key' });
    await f.claim(keyed.id);
    const result = unwrap(
      (await f.repo.create([makeNewJob(f.endpoint, { idempotencyKey: 'state-key' })]))[0],
    );
    expect(result.created).toBe(false);
    expect(result.job).toEqual(await f.header(keyed.id));
    expect(result.job).toMatchObject({ id: keyed.id, status: 'running', attempt: 1 });
  });

  test('a live final job keeps its key', async (f) => {
    const job = await f.create({ idempotencyKey: 'kept' });
    const claimed = await f.claim(job.id);
    await f.settle(job.id, claimed!.leaseToken!, { status: 'succeeded', output: 1, retentionMs: LONG });
    const result = unwrap((await f.repo.create([makeNewJob(f.endpoint, { idempotencyKey: 'kept' })]))[0]);
    expect(result).toMatchObject({ created: false, job: { id: job.id, status: 'succeeded' } });
  });

  test('a different owner, endpoint or key creates a new job; a null owner counts as one owner', async (f) => {
    const original = await f.create({ owner: 'alice', idempotencyKey: 'k1' });
    const results = await f.repo.create([
      makeNewJob(f.endpoint, { owner: 'bob', idempotencyKey: 'k1' }),
      makeNewJob(f.newEndpoint(), { owner: 'alice', idempotencyKey: 'k1' }),
      makeNewJob(f.endpoint, { owner: 'alice', idempotencyKey: 'k2' }),
      makeNewJob(f.endpoint, { owner: null, idempotencyKey: 'k1' }),
    ]);
    const jobs = results.map(unwrap);
    for (const result of jobs) expect(result.created).toBe(true);
    expect(new Set([original.id, ...jobs.map((r) => r.job.id)]).size).toBe(5);

    const anonymous = jobs[3]!.job;
    const again = unwrap(
      (await f.repo.create([makeNewJob(f.endpoint, { owner: null, idempotencyKey: 'k1' })]))[0],
    );
    expect(again).toMatchObject({ created: false, job: { id: anonymous.id } });
  });

  test('jobs without a key never collide', async (f) => {
    const a = await f.create({ owner: 'alice' });
    const b = await f.create({ owner: 'alice' });
    expect(a.id).not.toBe(b.id);
  });

  test('of 20 concurrent creates with the same key exactly one creates, and all return its job', async (f) => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        f.repo.create([makeNewJob(f.endpoint, { owner: 'racer', idempotencyKey: 'same', input: { i } })]),
      ),
    );
    const values = results.map(([result]) => unwrap(result));
    const created = values.filter((r) => r.created);
    expect(created).toHaveLength(1);
    const winner = created[0]!.job.id;
    for (const value of values) expect(value.job.id).toBe(winner);
    const page = await f.repo.list({ endpoint: f.endpoint, owner: 'racer', limit: 100 });
    expect(page.jobs.map((j) => j.id)).toEqual([winner]);
  });

  test('endpoints and owners are stored as given (long and unusual names included)', async (f) => {
    const endpoint = `${uniqueName('repo')}_with-underscore`;
    const owner = `tenant:${'x'.repeat(200)}/é 漢字 🚀`;
    const job = await f.createIn(endpoint, { owner, idempotencyKey: `key ${'y'.repeat(200)}` });
    expect(await f.header(job.id)).toMatchObject({
      endpoint,
      owner,
      idempotencyKey: `key ${'y'.repeat(200)}`,
    });
  });
});
