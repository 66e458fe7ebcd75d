import { describe, expect, it } from 'vitest';
import { allContenders } from './contenders/index.js';
import { throughputTable } from './report.js';
import { type BenchOptions, runContender } from './run.js';
import { percentile } from './stats.js';

/**
 * Smoke test: every contender runs the whole bench procedure on a few jobs and records all of them as
 * succeeded. No timing is asserted; the real bench is `pnpm --filter @jobs/bench bench`.
 * Needs PostgreSQL, RabbitMQ and Redis on their standard local ports (fails, never skips, without them).
 */
const options: BenchOptions = {
  servers: {
    databaseUrl: process.env.JOBS_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    amqpUrl: process.env.JOBS_BENCH_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
    redisUrl: process.env.JOBS_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
  },
  jobs: 50,
  latencyJobs: 5,
  concurrency: 8,
  producers: 8,
  poolSize: 10,
  repeats: 1,
  warmupJobs: 10,
  profile: true,
};

describe('bench', () => {
  for (const [id, contender] of allContenders()) {
    it(`${id}: completes every job it submits`, { timeout: 120_000 }, async () => {
      const result = await runContender(contender, options);
      // one round: 10 warm-up + 50 measured + 10 latency warm-up + 5 latency jobs
      expect(result.submitted).toBe(75);
      expect(result.succeeded).toBe(result.submitted);
      expect(result.throughputRuns).toHaveLength(1);
      expect(result.latencyRuns).toHaveLength(1);
      expect(result.latency?.complete.p50).toBeGreaterThan(0);
      expect(throughputTable([result], options)).toContain(`| ${contender.name} |`);
      if (id.startsWith('jobs-')) {
        const operations = result.profile?.entries.map((entry) => entry.operation) ?? [];
        expect(operations).toEqual(expect.arrayContaining(['repository.create', 'repository.settle']));
      }
    });
  }

  it('percentile uses the nearest rank', () => {
    const samples = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile(samples, 0.5)).toBe(50);
    expect(percentile(samples, 0.99)).toBe(99);
    expect(percentile([7], 0.95)).toBe(7);
  });
});
