import type { Endpoint } from '@jobs/core';
import type { Context } from 'hono';
import type { AppContext } from '../context.js';
import { jobETag, toRepresentation } from '../representation.js';

/**
 * `POST /{endpoint}/{id}/retry`: a failed or canceled job is queued again under the same id (`202`, like a
 * submit, `Location` the job); any other state answers `409` (`not_retryable`), a job whose unique key another
 * live job holds `409` (`unique_conflict`, with that job's id), an unknown job `404`.
 */
export async function retryJob(ctx: AppContext, c: Context, endpoint: Endpoint): Promise<Response> {
  const owner = await ctx.ownerOf(c);
  const job = await ctx.service.retry(endpoint.name, c.req.param('id') ?? '', { owner });
  const representation = toRepresentation(ctx.baseOf(c, 3), job, ctx);
  c.header('Location', representation.links.self);
  c.header('Content-Location', representation.links.self);
  c.header('Operation-Location', representation.links.self);
  c.header('ETag', jobETag(job));
  c.header('Cache-Control', 'no-store');
  c.header('Retry-After', String(ctx.service.retryAfterSeconds(job)));
  return c.json(representation, 202);
}
