import { defineEndpoint, type EndpointLimits, JobFailedError } from '@jobs/core';
import { expect, it } from 'vitest';
import { deferred, delay } from '../helpers.js';
import { type Input, input, output, type RuntimeFixture, type TestEndpoint } from './fixture.js';

/** Jobs running at once, per key and in all, as the workers of every runtime of a test see them. */
class Occupancy {
  readonly #running = new Map<string, number>();
  #total = 0;
  maxTotal = 0;
  readonly maxPerKey = new Map<string, number>();

  async run<T>(key: string, body: () => Promise<T>): Promise<T> {
    const now = (this.#running.get(key) ?? 0) + 1;
    this.#running.set(key, now);
    this.#total++;
    this.maxTotal = Math.max(this.maxTotal, this.#total);
    this.maxPerKey.set(key, Math.max(this.maxPerKey.get(key) ?? 0, now));
    try {
      return await body();
    } finally {
      this.#running.set(key, this.#running.get(key)! - 1);
      this.#total--;
    }
  }
}

const tenantOf = (value: Input) => `tenant-${value.value % 3}`;

/** Flow limits end to end: caps that hold across runtimes sharing a repository, rates, fair turns under a flood. */
export function limitsTests(fixture: () => RuntimeFixture, timeout: number): void {
  function limitedEndpoint(t: RuntimeFixture, limits: EndpointLimits<Input>): TestEndpoint {
    return defineEndpoint({ name: t.endpointName(), input, output, maxAttempts: 3, concurrency: 4, limits });
  }

  it(
    'per-key and global concurrency hold across two runtimes sharing the repository; over the limit, jobs wait queued',
    async () => {
      const t = fixture();
      const e = limitedEndpoint(t, { key: tenantOf, concurrencyPerKey: 1, concurrency: 2 });
      const occupancy = new Occupancy();
      const worker = t.worker(e, (value) =>
        occupancy.run(tenantOf(value), async () => {
          await delay(30);
          return { doubled: value.value * 2 };
        }),
      );
      const first = t.runtime([worker]);
      const second = t.runtime([worker]);
      await Promise.all([first.start(), second.start()]);
      const submitted = await first.service.submitMany(
        e.name,
        Array.from({ length: 12 }, (_, value) => ({ input: { value } })),
      );
      const ids = submitted.flatMap((result) => (result.ok ? [result.job.id] : []));
      expect(ids).toHaveLength(12);
      for (const id of ids) expect((await t.waitForFinal(id)).status).toBe('succeeded');
      expect(occupancy.maxTotal).toBeLessThanOrEqual(2);
      for (const max of occupancy.maxPerKey.values()) expect(max).toBe(1);
      // Both runtimes' hosts had room for 4 each: the caps, not the hosts, held the jobs back.
      expect(occupancy.maxTotal).toBe(2);
    },
    timeout,
  );

  it(
    'unique jobs: one queued or running job per key answers later submits, and still keeps to the limits',
    async () => {
      const t = fixture();
      const e = defineEndpoint({
        name: t.endpointName(),
        input,
        output,
        unique: { key: (value: Input) => `k-${value.value % 2}` },
        limits: { concurrency: 1 },
      });
      const gate = deferred();
      const occupancy = new Occupancy();
      const rt = t.runtime([
        t.worker(e, (value) =>
          occupancy.run('all', async () => {
            await gate.promise;
            return { doubled: value.value * 2 };
          }),
        ),
      ]);
      await rt.start();
      const first = await rt.service.submit(e.name, { value: 0 });
      expect(first.created).toBe(true);
      expect(await rt.service.submit(e.name, { value: 2 })).toMatchObject({
        job: { id: first.job.id },
        created: false,
        reason: 'unique',
      });
      const other = await rt.service.submit(e.name, { value: 1 });
      expect(other.created).toBe(true);
      // The submit's own key replaces the endpoint's; items of a batch share the rule.
      const batch = await rt.service.submitMany(e.name, [
        { input: { value: 4 } },
        { input: { value: 5 }, uniqueKey: 'custom' },
        { input: { value: 7 }, uniqueKey: 'custom' },
      ]);
      expect(batch.map((result) => result.ok && result.created)).toEqual([false, true, false]);
      expect(batch[0]).toMatchObject({ ok: true, job: { id: first.job.id } });
      const custom = batch[1]!.ok ? batch[1]!.job.id : '';
      expect(batch[2]).toMatchObject({ ok: true, reason: 'unique', job: { id: custom } });
      await expect(rt.service.submit(e.name, { value: 9 }, { uniqueKey: '' })).rejects.toMatchObject({
        code: 'invalid_input',
      });

      // Under the concurrency limit of 1, the oldest runs and the others wait queued.
      await t.waitForStatus(first.job.id, ['running']);
      for (const id of [other.job.id, custom]) {
        expect((await rt.service.getHeader(e.name, id)).status).toBe('queued');
      }
      gate.resolve();
      for (const id of [first.job.id, other.job.id, custom]) {
        expect((await t.waitForFinal(id)).status).toBe('succeeded');
      }
      expect(occupancy.maxTotal).toBe(1);
      // Final: the key is free again.
      expect((await rt.service.submit(e.name, { value: 0 })).created).toBe(true);
    },
    timeout,
  );

  it(
    'a failed job of an endpoint with limits, retried after other jobs of its key went through, runs again',
    async () => {
      const t = fixture();
      const e = defineEndpoint({
        name: t.endpointName(),
        input,
        output,
        maxAttempts: 1,
        limits: { key: tenantOf, concurrencyPerKey: 1 },
      });
      let fail = true;
      const rt = t.runtime([
        t.worker(e, (value) => {
          if (fail && value.value === 0) throw new JobFailedError('fails until fixed', { retryable: false });
          return { doubled: value.value * 2 };
        }),
      ]);
      await rt.start();
      const { job } = await rt.service.submit(e.name, { value: 0 });
      expect((await t.waitForFinal(job.id)).status).toBe('failed');
      // Another job of the same key is dispatched after the failure.
      const other = await rt.service.submit(e.name, { value: 3 });
      expect((await t.waitForFinal(other.job.id)).status).toBe('succeeded');
      fail = false;
      expect(await rt.service.retry(e.name, job.id)).toMatchObject({ status: 'queued' });
      expect(await t.waitForFinal(job.id)).toMatchObject({ status: 'succeeded', attempt: 2 });
    },
    timeout,
  );

  it(
    'a rate limit spaces the hand-outs across runtimes: the jobs wait queued, none fails',
    async () => {
      const t = fixture();
      const intervalMs = 400;
      const e = limitedEndpoint(t, { rate: { limit: 2, intervalMs } });
      const started: number[] = [];
      const worker = t.worker(e, (value) => {
        started.push(Date.now());
        return { doubled: value.value * 2 };
      });
      const first = t.runtime([worker]);
      const second = t.runtime([worker]);
      await Promise.all([first.start(), second.start()]);
      const submittedAt = Date.now();
      const submitted = await second.service.submitMany(
        e.name,
        Array.from({ length: 6 }, (_, value) => ({ input: { value } })),
      );
      const ids = submitted.flatMap((result) => (result.ok ? [result.job.id] : []));
      for (const id of ids) expect((await t.waitForFinal(id)).status).toBe('succeeded');
      expect(started).toHaveLength(6);
      // Six hand-outs at two per interval: the last one at least two intervals after the first (a lower bound
      // the limit guarantees, not a timing).
      // (5 ms for the rounding of a database clock to milliseconds).
      expect(Math.max(...started) - submittedAt).toBeGreaterThanOrEqual(2 * intervalMs - 5);
    },
    timeout,
  );

  it(
    'fair turns: a key with a few jobs is served beside a key flooding the endpoint with 1,000',
    async () => {
      const t = fixture();
      const perKey = 2;
      const e = limitedEndpoint(t, {
        key: (value) => (value.value < 0 ? 'small' : 'flood'),
        concurrencyPerKey: perKey,
      });
      const starts: Array<{ key: string; at: number }> = [];
      const rt = t.runtime([
        t.worker(e, async (value) => {
          starts.push({ key: value.value < 0 ? 'small' : 'flood', at: Date.now() });
          await delay(2);
          return { doubled: value.value * 2 };
        }),
      ]);
      await rt.start();
      const flood = await rt.service.submitMany(
        e.name,
        Array.from({ length: 1_000 }, (_, value) => ({ input: { value } })),
      );
      expect(flood.every((result) => result.ok)).toBe(true);
      await t.waitUntil(() => starts.length >= 10, 'the flood to start');
      const before = starts.length;
      const submittedAt = Date.now();
      const small = [];
      for (let i = 1; i <= 5; i++) small.push((await rt.service.submit(e.name, { value: -i })).job.id);
      const finished = await Promise.all(small.map((id) => t.waitForFinal(id)));
      for (const job of finished) expect(job.status).toBe('succeeded');
      const after = starts.slice(before);
      const lastSmall = after.map((start) => start.key).lastIndexOf('small');
      const floodBetween = after.slice(0, lastSmall).filter((start) => start.key === 'flood').length;
      // The small key takes every other turn: at most the flood's jobs in flight when it arrived (perKey) and
      // one turn of the flood per small job pass it, not the 990 still waiting.
      expect(floodBetween).toBeLessThanOrEqual(perKey + 5 * perKey);
      const waits = finished.map((job) => job.startedAt!.getTime() - submittedAt).sort((a, b) => a - b);
      const left = (await t.repository.list({ endpoint: e.name, owner: null, status: 'queued', limit: 1 }))
        .jobs;
      // Reported for the README: how long the small key's jobs waited, and that the flood was still there.
      console.info(
        `fairness: small key's jobs waited ${waits.join(', ')} ms (median ${waits[2]} ms) behind a flood of 1,000; ` +
          `${after.length} starts meanwhile, ${floodBetween} of the flood; flood still queued: ${left.length > 0}`,
      );
      expect(left.length).toBe(1);
    },
    timeout,
  );
}
