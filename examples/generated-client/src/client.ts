// A client program written against the generated types (./schema.generated.ts) with openapi-fetch: submit a
// thumbnail job, wait for it with long-polls that do not follow the 303, read the output, delete the job.
import createClient from 'openapi-fetch';
import type { components, paths } from './schema.generated.js';

export type Job = components['schemas']['Job'];
export type ThumbnailInput = components['schemas']['ThumbnailInput'];
export type ThumbnailOutput = components['schemas']['ThumbnailOutput'];

/**
 * Makes a thumbnail through the API at `baseUrl` (e.g. `http://127.0.0.1:3000/jobs`); `onJob` sees the job
 * each time it is read.
 */
export async function makeThumbnail(
  baseUrl: string,
  input: ThumbnailInput,
  onJob: (job: Job) => void = () => {},
): Promise<ThumbnailOutput> {
  const client = createClient<paths>({ baseUrl });
  const submitted = await client.POST('/thumbnail', { body: input });
  if (!submitted.data) throw new Error(`submit: ${submitted.response.status} ${submitted.error?.detail}`);
  let job: Job = submitted.data;
  onJob(job);
  for (;;) {
    if (job.status === 'failed' || job.status === 'canceled') {
      throw new Error(`The job ${job.status}: ${job.error?.message}`);
    }
    // `redirect: 'manual'`: a succeeded job answers 303 to its output, and fetch would otherwise follow it and
    // hand back the output where the types promise a job. (Node's fetch shows the 303; a browser's shows an
    // opaque redirect, status 0, which means the same: succeeded.)
    const polled = await client.GET('/thumbnail/{id}', {
      params: { path: { id: job.id }, header: { Prefer: 'wait=30' } },
      redirect: 'manual',
    });
    if (polled.response.status === 303 || polled.response.type === 'opaqueredirect') break;
    if (!polled.data) throw new Error(`poll: ${polled.response.status}`);
    job = polled.data;
    onJob(job);
  }
  const output = await client.GET('/thumbnail/{id}/output', { params: { path: { id: job.id } } });
  if (!output.data) throw new Error(`output: ${output.response.status} ${output.error?.detail}`);
  await client.DELETE('/thumbnail/{id}', { params: { path: { id: job.id } } });
  return output.data;
}
