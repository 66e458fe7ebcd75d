import type { NewJob, SettleOutcome } from '@jobs/core';
import { expect } from 'vitest';
import { makeNewJob, problem } from '../helpers.js';
import { expectRefused, LONG, type SubSuite, subSuite, unwrap } from './fixture.js';
import { valueCopyTests } from './values-copies.js';

/** Strings no store can hold: U+0000, a lone high surrogate, a lone low surrogate, a reversed pair. */
export const UNSTORABLE_STRINGS: ReadonlyArray<[string, string]> = [
  ['U+0000', 'nul \u0000 char'],
  ['a lone high surrogate', 'high \uD83D alone'],
  ['a lone low surrogate', 'low \uDE80 alone'],
  ['a reversed pair', 'reversed \uDE80\uD83D'],
];

/**
 * Values: JSON round trips, strings no store can hold (refused everywhere with InvalidInputError, storing nothing:
 * what one repository accepts, all accept), and copies in and out.
 */
export const describeValueContract: SubSuite = subSuite('values', (suite) => {
  const { test } = suite;

  test('round-trips JSON values of every kind as input, output, error and progress', async (f) => {
    const values: unknown[] = [
      null,
      true,
      0,
      -12.5,
      1e21,
      'plain',
      'unicode é 漢字 🚀 "quotes" \\ back \n\t',
      [],
      [1, 'two', { three: 3 }, [null]],
      {},
      { deep: { deeper: { deepest: [{ a: 1 }, { b: false }] } }, empty: '', 'key with 🚀': 'x' },
    ];
    for (const value of values) {
      const label = JSON.stringify(value);
      const { job, token } = await f.claimNew(LONG, { input: value });
      expect(job.input, label).toEqual(value);
      expect((await f.mustGet(job.id)).input, label).toEqual(value);
      await f.settle(job.id, token, { status: 'succeeded', output: value, retentionMs: LONG });
      expect((await f.mustGet(job.id)).output, label).toEqual(value);
    }
    const { job, token } = await f.claimNew();
    const progress = { fraction: 0.25, message: 'émoji 🚀 and 漢字' };
    await f.heartbeat(job.id, token, { progress });
    expect((await f.mustGet(job.id)).progress).toEqual(progress);
    const error = { ...problem('job_failed'), extra: { nested: [1, 'two'], text: '🚀' } };
    await f.settle(job.id, token, { status: 'failed', error, retentionMs: LONG });
    expect((await f.mustGet(job.id)).error).toEqual(error);
  });

  for (const [what, bad] of UNSTORABLE_STRINGS) {
    test(`${what} in input, owner or idempotencyKey refuses the create, storing nothing`, async (f) => {
      const cases: Array<Partial<NewJob>> = [
        { input: { text: bad } },
        { input: { [bad]: 'as a key' } },
        { input: [1, [bad]] },
        { input: bad },
        { owner: bad },
        { idempotencyKey: bad },
      ];
      for (const overrides of cases) {
        const job = makeNewJob(f.endpoint, overrides);
        await expectRefused(() => f.repo.create([job]));
        expect(await f.repo.get(job.id)).toBeNull();
      }
      // An idempotency key already taken does not make an unstorable input acceptable.
      const keyed = await f.create({ idempotencyKey: 'taken' });
      await expectRefused(() =>
        f.repo.create([makeNewJob(f.endpoint, { idempotencyKey: 'taken', input: { text: bad } })]),
      );
      expect(await f.header(keyed.id)).toEqual(keyed);
      const listed = await f.repo.list({ endpoint: f.endpoint, owner: null, limit: 100 });
      expect(listed.jobs.map((job) => job.id)).toEqual([keyed.id]);
    });

    test(`${what} in output, error or progress refuses the settle or heartbeat, changing nothing`, async (f) => {
      const { job, token } = await f.claimNew();
      await f.heartbeat(job.id, token, { progress: { fraction: 0.5 } });
      const before = await f.mustGet(job.id);
      const outcomes: SettleOutcome[] = [
        { status: 'succeeded', output: { text: bad }, retentionMs: LONG },
        { status: 'succeeded', output: 'fine', retentionMs: LONG, progress: { fraction: 1, message: bad } },
        { status: 'failed', error: { ...problem('job_failed'), detail: bad }, retentionMs: LONG },
        { status: 'canceled', error: { ...problem('canceled'), [bad]: 1 }, retentionMs: LONG },
        {
          status: 'queued',
          delayMs: 0,
          error: { ...problem('job_failed'), detail: bad },
          refundAttempt: false,
        },
      ];
      for (const outcome of outcomes) {
        await expectRefused(() => f.repo.settle([{ id: job.id, leaseToken: token, outcome }]));
        expect(await f.repo.get(job.id)).toEqual(before);
      }
      await expectRefused(() =>
        f.repo.heartbeat([
          { id: job.id, leaseToken: token, leaseMs: LONG, progress: { fraction: 0.9, message: bad } },
        ]),
      );
      expect(await f.repo.get(job.id)).toEqual(before);
      // The job is still held by its token, which can record a storable result.
      expect(await f.settle(job.id, token, { status: 'succeeded', output: 'fine', retentionMs: LONG })).toBe(
        true,
      );
    });

    test(`${what} in a cancel error refuses requestCancel, changing nothing`, async (f) => {
      const queued = await f.create();
      const error = { ...problem('canceled'), detail: bad };
      await expect(f.repo.requestCancel(queued.id, { retentionMs: LONG, error })).rejects.toMatchObject({
        name: 'InvalidInputError',
        code: 'invalid_input',
      });
      expect(await f.header(queued.id)).toEqual(queued);
    });
  }

  test('paired surrogates (emoji) and other unusual but valid strings are stored faithfully', async (f) => {
    const text = '🚀\uD83D\uDE80 \u2028\u2029 \uFFFF \u007F \u0001 ';
    const job = unwrap(
      (
        await f.repo.create([makeNewJob(f.endpoint, { input: { text }, owner: text, idempotencyKey: text })])
      )[0],
    );
    expect(job.job).toMatchObject({ owner: text, idempotencyKey: text });
    expect((await f.mustGet(job.job.id)).input).toEqual({ text });
  });

  valueCopyTests(suite);
});
