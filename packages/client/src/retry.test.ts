// End to end: retry() of a failed job against the real stack over a socket, and the CLI's retry command.
import { describe, expect, it } from 'vitest';
import { createJobsClient } from './client.js';
import { JobsHttpError } from './errors.js';
import { task, useJobsServer } from './test-support.js';

const server = useJobsServer();
const client = () =>
  createJobsClient({ baseUrl: server().baseUrl, retries: 2, maxRetryDelayMs: 10 }).endpoint(task);

describe('retry', () => {
  it('queues a failed job again under the same URL; it runs again', async () => {
    const tasks = client();
    const job = await tasks.submit({ tag: 'client-retry', fail: true });
    expect(await tasks.wait(job)).toMatchObject({ status: 'failed', attempt: 1 });
    const retried = await tasks.retry(job);
    expect(retried).toMatchObject({ id: job.id, status: 'queued', attempt: 1, maxAttempts: 2, error: null });
    expect(retried.links.self).toBe(job.links.self);
    expect(await tasks.wait(job)).toMatchObject({ status: 'failed', attempt: 2 });
    // Exactly one POST per call: a retry is never repeated by the transport.
    expect(server().requests.filter((r) => r.path.endsWith(`${job.id}/retry`))).toHaveLength(1);
  });

  it('is refused with not_retryable (409) for a job that did not fail or get canceled', async () => {
    const tasks = client();
    const job = await tasks.submit({ tag: 'client-retry-ok' }, { wait: 10 });
    expect(job.status).toBe('succeeded');
    const refused = await tasks.retry(job.id).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(JobsHttpError);
    expect(refused).toMatchObject({ status: 409, code: 'not_retryable' });
  });
});
