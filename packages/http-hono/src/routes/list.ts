import { type Endpoint, InvalidInputError, JOB_STATUSES, type JobStatus } from '@jobs/core';
import type { Context } from 'hono';
import type { AppContext } from '../context.js';
import { type JobListRepresentation, toRepresentation } from '../representation.js';

/** `GET /{endpoint}?status=&limit=&cursor=`: one page of the caller's jobs, newest first, `Link` to the next. */
export async function list(ctx: AppContext, c: Context, endpoint: Endpoint): Promise<Response> {
  const owner = await ctx.ownerOf(c);
  const status = c.req.query('status');
  const limitText = c.req.query('limit');
  const cursor = c.req.query('cursor');
  if (status !== undefined && !(JOB_STATUSES as readonly string[]).includes(status)) {
    throw new InvalidInputError(`Unknown status ${JSON.stringify(status)}.`, [
      { path: ['status'], message: `Expected one of ${JOB_STATUSES.join(', ')}` },
    ]);
  }
  if (limitText !== undefined && !/^\d{1,4}$/.test(limitText)) {
    throw new InvalidInputError('limit must be an integer from 1 to 100.', [
      { path: ['limit'], message: 'Expected an integer' },
    ]);
  }
  const page = await ctx.service.list(endpoint.name, {
    owner,
    status: status as JobStatus | undefined,
    limit: limitText === undefined ? undefined : Number(limitText),
    cursor: cursor || undefined,
  });
  const base = ctx.baseOf(c, 1);
  if (page.nextCursor) {
    const next = new URLSearchParams();
    if (status !== undefined) next.set('status', status);
    if (limitText !== undefined) next.set('limit', limitText);
    next.set('cursor', page.nextCursor);
    c.header('Link', `<${base}/${endpoint.name}?${next}>; rel="next"`);
  }
  c.header('Cache-Control', 'no-store');
  const body: JobListRepresentation = {
    jobs: page.jobs.map((job) => toRepresentation(base, job, ctx)),
    nextCursor: page.nextCursor,
  };
  return c.json(body);
}
