import type { Endpoint } from '@jobs/core';
import type { Context } from 'hono';
import type { AppContext } from '../context.js';
import { jobETag, toRepresentation } from '../representation.js';

/** `DELETE /{endpoint}/{id}`: queued → canceled (`200`); running → cancel requested (`202`); final → removed (`204`). */
export async function deleteJob(ctx: AppContext, c: Context, endpoint: Endpoint): Promise<Response> {
  const owner = await ctx.ownerOf(c);
  const { outcome, job } = await ctx.service.delete(endpoint.name, c.req.param('id') ?? '', { owner });
  c.header('Cache-Control', 'no-store');
  if (outcome === 'removed') return c.body(null, 204);
  const representation = toRepresentation(ctx.baseOf(c, 2), job, ctx);
  c.header('ETag', jobETag(job));
  c.header('Operation-Location', representation.links.self);
  if (outcome === 'canceled') return c.json(representation, 200);
  c.header('Retry-After', String(ctx.service.retryAfterSeconds(job)));
  return c.json(representation, 202);
}
