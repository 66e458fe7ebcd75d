import { defineEndpoint, implement, type Logger } from '@jobs/core';
import { expect, it } from 'vitest';
import { z } from 'zod';
import { deferred } from '../helpers.js';
import { HOST, type RuntimeFixture, recordingLogger } from './fixture.js';
import { partitionable } from './partition.js';

/** Put in a job's input and output: it must appear in no log line. */
export const LOG_SECRET = 'log-secret-3c9e1f';

/** One log line as a test reads it, whatever the logger wrote. */
export interface LoggedLine {
  message: string;
  fields: Record<string, unknown>;
}

/**
 * A job that fails once, then is taken over from a host cut off from the repository, then succeeds elsewhere:
 * the runs log a worker failure, failed renewals and a discarded result. Both runtimes write to `logger`.
 */
export async function runLoggedTakeover(
  t: RuntimeFixture,
  logger: Logger,
): Promise<{ jobId: string; endpoint: string }> {
  const e = defineEndpoint({
    name: t.endpointName(),
    input: z.object({ value: z.number(), secret: z.string() }),
    output: z.object({ echoed: z.string() }),
    maxAttempts: 4,
    retry: () => 0,
  });
  const { repository: cutOff, cut, heal } = partitionable(t.repository);
  const deadStarted = deferred();
  const deadRelease = deferred<{ echoed: string }>();
  const dying = t.runtime(
    [
      implement(e, {
        concurrency: 1,
        run: (_input, ctx) => {
          if (ctx.attempt === 1) throw new Error('the first attempt fails');
          cut();
          deadStarted.resolve();
          return deadRelease.promise;
        },
      }),
    ],
    { repository: cutOff, logger, host: { ...HOST, leaseMs: 300, heartbeatIntervalMs: 50 }, sweeper: false },
  );
  await dying.start();
  const { job } = await dying.service.submit(e.name, { value: 1, secret: LOG_SECRET });
  await deadStarted.promise;

  const survivorGo = deferred();
  const survivor = t.runtime(
    [
      implement(e, {
        run: async ({ secret }) => {
          await survivorGo.promise;
          return { echoed: secret };
        },
      }),
    ],
    { logger },
  );
  await survivor.start();
  await t.waitUntil(
    async () => (await t.backend.repository.get(job.id))?.attempt === 3,
    'the job to be taken over',
  );
  heal();
  deadRelease.resolve({ echoed: LOG_SECRET });
  await t.waitUntil(() => dying.host!.activeJobs === 0, 'the revived run to end');
  survivorGo.resolve();
  expect(await t.waitForFinal(job.id)).toMatchObject({ status: 'succeeded', attempt: 3 });
  return { jobId: job.id, endpoint: e.name };
}

/**
 * Every line that names the job carries its id and endpoint (`jobId`/`endpoint`, or `jobIds`/`endpoints` for a
 * line about several jobs); no line holds the secret of its input or output; the failure and the takeover
 * were logged.
 */
export function expectJobLines(lines: readonly LoggedLine[], job: { jobId: string; endpoint: string }): void {
  for (const line of lines) {
    const text = JSON.stringify(line);
    expect(text).not.toContain(LOG_SECRET);
    if (!text.includes(job.jobId)) continue;
    const { jobId, endpoint, jobIds, endpoints } = line.fields;
    if (jobId !== undefined) expect({ jobId, endpoint }, line.message).toEqual(job);
    else {
      expect(jobIds, line.message).toContain(job.jobId);
      expect(endpoints, line.message).toContain(job.endpoint);
    }
  }
  const about = lines.filter((line) => line.fields.jobId === job.jobId).map((line) => line.message);
  expect(about).toContain('worker failed');
  expect(about.some((message) => /lease lost|heartbeat failed/.test(message))).toBe(true);
}

/** What components log about jobs. */
export function loggingTests(fixture: () => RuntimeFixture, timeout: number): void {
  it(
    'every line about a job carries its id and endpoint, and none holds its input or output',
    async () => {
      const t = fixture();
      const logger = recordingLogger();
      const job = await runLoggedTakeover(t, logger);
      expectJobLines(logger.entries, job);
    },
    timeout,
  );
}
