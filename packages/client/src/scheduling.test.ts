// End to end: delayed and prioritized submits, and submitMany, against the real stack over a socket.
import { describe, expect, expectTypeOf, it } from 'vitest';
import { createJobsClient } from './client.js';
import { JobsHttpError, JobsNetworkError } from './errors.js';
import { delaySeconds } from './submit.js';
import { PING_SCHEDULE, ping, task, useJobsServer } from './test-support.js';
import type { SubmitManyItem, SubmitManyResult } from './types.js';

const server = useJobsServer();
const client = (options: { fetch?: typeof fetch } = {}) =>
  createJobsClient({ baseUrl: server().baseUrl, retries: 2, maxRetryDelayMs: 10, ...options });

function requestsTo(path: string) {
  return server().requests.filter((request) => request.path === path);
}

describe('submit with uniqueKey', () => {
  it('sends Job-Unique-Key: a second submit gets the live job; a batch item says uniqueMatch', async () => {
    const pings = client().endpoint(ping);
    const first = await pings.submit({ message: 'u1' }, { delayMs: 60_000, uniqueKey: 'client-unique' });
    expect(requestsTo('/jobs/ping').at(-1)!.headers['job-unique-key']).toBe('client-unique');
    const again = await pings.submit({ message: 'u2' }, { uniqueKey: 'client-unique' });
    expect(again.id).toBe(first.id);
    const results = await pings.submitMany([
      { input: { message: 'u3' }, uniqueKey: 'client-unique' },
      { input: { message: 'u4' }, uniqueKey: 'client-unique-2', delayMs: 60_000 },
    ]);
    expect(results).toMatchObject([
      { ok: true, replayed: false, uniqueMatch: true, job: { id: first.id } },
      { ok: true, replayed: false, uniqueMatch: false },
    ]);
    await expect(pings.submit({ message: 'x' }, { uniqueKey: '' })).rejects.toThrow(TypeError);
    await expect(pings.submit({ message: 'x' }, { uniqueKey: 'caf\u00e9' })).rejects.toThrow(/uniqueKey/);
    await pings.cancel(first);
    if (results[1]?.ok) await pings.cancel(results[1].job);
  });
});

describe('submit with runAt, delayMs and priority', () => {
  it('sends Job-Delay in seconds and Job-Priority; the job shows its runAt and priority', async () => {
    const pings = client().endpoint(ping);
    const job = await pings.submit({ message: 'later' }, { delayMs: 1_500, priority: 7 });
    const sent = requestsTo('/jobs/ping').at(-1)!.headers;
    expect(sent['job-delay']).toBe('1.5');
    expect(sent['job-priority']).toBe('7');
    expect(sent).not.toHaveProperty('job-run-at');
    expect(job).toMatchObject({ status: 'queued', priority: 7 });
    expect(job.runAt.getTime() - job.createdAt.getTime()).toBe(1_500);
    const got = await pings.get(job.id);
    expect(got).toMatchObject({ status: 'queued', priority: 7, runAt: job.runAt });
    expect(await pings.cancel(job)).toBe('canceled');
  });

  it('sends Job-Run-At; a plain submit gets runAt = createdAt and the default priority', async () => {
    const tasks = client().endpoint(task);
    const runAt = new Date(Date.now() + 3_600_000);
    const job = await tasks.submit({ tag: 'at' }, { runAt, priority: -1000 });
    expect(requestsTo('/jobs/task').at(-1)!.headers['job-run-at']).toBe(runAt.toISOString());
    expect(job.runAt).toEqual(runAt);
    expect(job.priority).toBe(-1000);
    await tasks.cancel(job);

    const plain = await client().endpoint(ping).submit({ message: 'now' }, { wait: 10 });
    expect(plain.status).toBe('succeeded');
    expect(plain.runAt).toEqual(plain.createdAt);
    expect(plain.priority).toBe(0);
    expect(await client().endpoint(ping).run({ message: 'run' }, { priority: 3 })).toEqual({ pong: 'run' });
  });

  it('refuses contradictory or non-numeric options before sending; the server refuses values out of range', async () => {
    const pings = client().endpoint(ping);
    const before = requestsTo('/jobs/ping').length;
    const runAt = new Date();
    await expect(pings.submit({ message: 'x' }, { runAt, delayMs: 5 })).rejects.toThrow(TypeError);
    await expect(pings.submit({ message: 'x' }, { delayMs: -1 })).rejects.toThrow(/delayMs/);
    await expect(pings.submit({ message: 'x' }, { delayMs: Number.NaN })).rejects.toThrow(/delayMs/);
    await expect(pings.submit({ message: 'x' }, { priority: 1.5 })).rejects.toThrow(/priority/);
    await expect(pings.submit({ message: 'x' }, { runAt: new Date('nope') })).rejects.toThrow(/runAt/);
    expect(requestsTo('/jobs/ping').length).toBe(before);

    const refused = await pings.submit({ message: 'x' }, { priority: 5_000 }).catch((error) => error);
    expect(refused).toBeInstanceOf(JobsHttpError);
    expect(refused).toMatchObject({ status: 422, code: 'invalid_input' });
    expect(refused.problem.issues).toEqual([expect.objectContaining({ path: ['Job-Priority'] })]);
    const early = await pings.submit({ message: 'x' }, { runAt: new Date(-1) }).catch((error) => error);
    expect(early).toMatchObject({ status: 422, problem: { issues: [{ path: ['Job-Run-At'] }] } });
  });

  it('writes delays to the millisecond without trailing zeros', () => {
    expect(delaySeconds(0)).toBe('0');
    expect(delaySeconds(90_000)).toBe('90');
    expect(delaySeconds(250)).toBe('0.25');
    expect(delaySeconds(1_001)).toBe('1.001');
    expect(delaySeconds(1_000.4)).toBe('1');
    expect(delaySeconds(59_999.6)).toBe('60');
  });
});

describe('submitMany', () => {
  it('answers each item on its own, in order: the job, or a typed error from its problem', async () => {
    const pings = client().endpoint(ping);
    const items: SubmitManyItem<{ message: string }>[] = [
      { input: { message: 'a' } },
      { input: { message: 1 as unknown as string } },
      { input: { message: 'b' }, delayMs: 60_000, priority: 4, idempotencyKey: 'many-b' },
      { input: { message: 'c' }, priority: 1_001 },
      { input: { message: 'b' }, idempotencyKey: 'many-b' },
      { input: { message: 'd' }, runAt: new Date('2999-01-01T00:00:00Z') },
    ];
    const results = await pings.submitMany(items);
    expectTypeOf(pings.submitMany)
      .parameter(0)
      .toEqualTypeOf<readonly SubmitManyItem<{ message: string }>[]>();
    expectTypeOf(results).toEqualTypeOf<SubmitManyResult[]>();
    expect(results.map((result) => result.ok)).toEqual([true, false, true, false, true, true]);
    const [a, invalid, b, range, replay, d] = results;
    if (!a?.ok || !b?.ok || !replay?.ok || !d?.ok || invalid?.ok !== false || range?.ok !== false) {
      throw new Error('unexpected results');
    }
    expect(a.job.links.self).toBe(`${server().baseUrl}/ping/${a.job.id}`);
    expect(a.replayed).toBe(false);
    expect(b.job).toMatchObject({ status: 'queued', priority: 4 });
    expect(b.job.runAt.getTime() - b.job.createdAt.getTime()).toBe(60_000);
    expect(replay).toMatchObject({ replayed: true, job: { id: b.job.id } });
    expect(d.job.runAt).toEqual(new Date('2999-01-01T00:00:00Z'));
    expect(invalid.error).toBeInstanceOf(JobsHttpError);
    expect(invalid.error).toMatchObject({ status: 422, code: 'invalid_input', method: 'POST' });
    expect(invalid.error.problem.issues).toEqual([expect.objectContaining({ path: ['message'] })]);
    expect(range.error.problem.issues).toEqual([expect.objectContaining({ path: ['priority'] })]);
    const batch = requestsTo('/jobs/ping/batch').at(-1)!;
    expect(batch.method).toBe('POST');
    expect(await pings.get(b.job)).toMatchObject({ priority: 4, runAt: b.job.runAt });
    await Promise.all([b, d].map((result) => pings.cancel(result.job)));
  });

  it('retries a batch whose items all have keys (replaying what was stored), never one without', async () => {
    // A connection that breaks once the server has answered the first batch.
    let breakNext = true;
    const flaky: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (breakNext && String(input).endsWith('/batch')) {
        breakNext = false;
        await response.body?.cancel();
        throw new TypeError('fetch failed');
      }
      return response;
    };
    const pings = client({ fetch: flaky }).endpoint(ping);
    const before = requestsTo('/jobs/ping/batch').length;
    const keyed = await pings.submitMany([
      { input: { message: 'r1' }, idempotencyKey: true },
      { input: { message: 'r2' }, idempotencyKey: 'retry-2' },
    ]);
    expect(requestsTo('/jobs/ping/batch').length).toBe(before + 2);
    expect(keyed.map((result) => result.ok && result.replayed)).toEqual([true, true]);

    breakNext = true;
    const unkeyed = pings.submitMany([
      { input: { message: 'r3' }, idempotencyKey: 'retry-3' },
      { input: { message: 'r4' } },
    ]);
    await expect(unkeyed).rejects.toBeInstanceOf(JobsNetworkError);
    expect(requestsTo('/jobs/ping/batch').length).toBe(before + 3);
  });

  it('sends nothing for no items; refuses bad options before sending', async () => {
    const pings = client().endpoint(ping);
    const before = requestsTo('/jobs/ping/batch').length;
    expect(await pings.submitMany([])).toEqual([]);
    await expect(
      pings.submitMany([{ input: { message: 'x' }, delayMs: 1, runAt: new Date() }]),
    ).rejects.toThrow(TypeError);
    await expect(pings.submitMany([{ input: { message: 'x' }, idempotencyKey: 'clé' }])).rejects.toThrow(
      TypeError,
    );
    expect(requestsTo('/jobs/ping/batch').length).toBe(before);
    // A malformed batch as a whole is an error of the call.
    const tooMany = Array.from({ length: 1001 }, (_, i) => ({ input: { message: `m${i}` } }));
    await expect(pings.submitMany(tooMany)).rejects.toMatchObject({ status: 422, code: 'invalid_input' });
  });
});

describe('schedules', () => {
  it('lists the endpoint’s recurring schedules with their dates as Date objects', async () => {
    await server().runtime.service.repository.advanceSchedule(
      PING_SCHEDULE.name,
      new Date('2026-01-05T10:00:00Z'),
    );
    const schedules = await client().endpoint(ping).schedules();
    expect(schedules).toEqual([
      {
        name: 'ping.hourly',
        endpoint: 'ping',
        cron: '30 * * * *',
        timeZone: 'Asia/Kolkata',
        everyMs: null,
        missed: 'skip',
        priority: 3,
        lastOccurrenceAt: new Date('2026-01-05T10:00:00Z'),
        nextOccurrenceAt: expect.any(Date),
      },
    ]);
    // 30 past the hour in India (UTC+05:30) is on the hour in UTC.
    expect(schedules[0]!.nextOccurrenceAt!.getUTCMinutes()).toBe(0);
    expect(schedules[0]!.nextOccurrenceAt!.getTime()).toBeGreaterThan(Date.now());
    expect(await client().endpoint(task).schedules()).toEqual([]);
    await expect(client().endpoint('nope').schedules()).rejects.toMatchObject({
      status: 404,
      code: 'not_found',
    });
  });
});
