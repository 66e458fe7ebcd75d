// Type-checked (never run) with tsc under moduleResolution node16 and bundler, against the installed tarballs.
// The @ts-expect-error lines prove that the types are real: were anything `any`, they would be unused errors.
import { createJobsClient, type Job } from '@jobs/client';
import {
  createJobsRuntime,
  defineEndpoint,
  type EndpointOutput,
  implement,
  type JobRecordHeader,
  type JobRepository,
  NotFoundError,
} from '@jobs/core';
import { createDashboard } from '@jobs/dashboard';
import { createJobsApp } from '@jobs/http-hono';
import { createMemoryQueue, createMemoryRepository } from '@jobs/memory';
import { Hono } from 'hono';
import { z } from 'zod';

export const resize = defineEndpoint({
  name: 'resize',
  input: z.object({ url: z.string(), width: z.number().int().positive() }),
  output: z.object({ location: z.string() }),
  timeoutMs: 60_000,
});

export const resizeWorker = implement(resize, async ({ url, width }, { signal, progress, attempt }) => {
  signal.throwIfAborted();
  progress(0.5, `attempt ${attempt}`);
  return { location: `${url}?w=${width.toFixed(0)}` };
});

// @ts-expect-error the output must match the endpoint's output schema
implement(resize, async () => ({ location: 42 }));

const repository: JobRepository = createMemoryRepository();
const runtime = createJobsRuntime({ repository, queue: createMemoryQueue(), workers: [resizeWorker] });
export const app = new Hono().route('/jobs', createJobsApp({ service: runtime.service }));
app.route('/dashboard', createDashboard({ service: runtime.service, authorize: () => ({ owner: 'acme' }) }));
// @ts-expect-error the dashboard needs an authorization hook
createDashboard({ service: runtime.service });

export async function submitAndWait(): Promise<{ job: JobRecordHeader; output: unknown }> {
  const { job } = await runtime.service.submit('resize', { url: '/a.png', width: 3 }, { priority: 5 });
  // wait answers the job's header (its state without input and output); the output is read on its own.
  const done = await runtime.service.wait('resize', job.id, { timeoutMs: 1_000 });
  if (done.status === 'succeeded')
    return { job: done, output: await runtime.service.output('resize', job.id) };
  throw new NotFoundError('not done');
}

export async function viaClient(): Promise<EndpointOutput<typeof resize>> {
  const endpoint = createJobsClient({ baseUrl: 'http://127.0.0.1:3000/jobs' }).endpoint(resize);
  // @ts-expect-error width must be a number
  await endpoint.submit({ url: '/a.png', width: 'wide' });
  const job: Job = await endpoint.submit({ url: '/a.png', width: 320 });
  await endpoint.wait(job);
  const output = await endpoint.output(job);
  const location: string = output.location;
  return { location };
}
