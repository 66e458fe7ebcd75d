import { type Endpoint, isFinalStatus } from '@jobs/core';
import type { Context } from 'hono';
import type { AppContext, JobState } from '../context.js';
import { type IfNoneMatch, ifNoneMatchMatches, parseIfNoneMatch } from '../headers.js';
import { jobETag, jobLinks, toRepresentation } from '../representation.js';

/**
 * `GET /{endpoint}/{id}`: the job (`303` to the output once it succeeded). `Prefer: wait=N` long-polls;
 * with `If-None-Match` the answer is `304` while the job is still in the state the client has.
 */
export async function getJob(ctx: AppContext, c: Context, endpoint: Endpoint): Promise<Response> {
  const owner = await ctx.ownerOf(c);
  const id = c.req.param('id') ?? '';
  const lookup: Lookup = { endpoint: endpoint.name, id, owner, wait: ctx.preferredWait(c) ?? 0 };
  const condition = parseIfNoneMatch(c.req.header('if-none-match'));
  const job =
    condition === null ? await unconditional(ctx, c, lookup) : await conditional(ctx, c, lookup, condition);
  const base = ctx.baseOf(c, 2);
  const links = jobLinks(base, job);
  const etag = jobETag(job);
  c.header('ETag', etag);
  // The Azure REST API guidelines' status monitor header: clients such as @azure/core-lro poll it by `status`.
  c.header('Operation-Location', links.self);
  c.header('Cache-Control', 'no-store');
  if (!isFinalStatus(job.status)) c.header('Retry-After', String(ctx.service.retryAfterSeconds(job)));
  // RFC 9110 §15.4.5: a 304 carries the validator and caching headers a 200 would have, and no body.
  if (condition !== null && ifNoneMatchMatches(condition, etag)) return c.body(null, 304);
  if (job.status === 'succeeded' && links.output) {
    c.header('Location', links.output);
    return c.json(toRepresentation(base, job, ctx), 303);
  }
  return c.json(toRepresentation(base, job, ctx), 200);
}

/** The job a request names, and the seconds it may wait (`Prefer: wait=N`; 0: none). */
interface Lookup {
  endpoint: string;
  id: string;
  owner: string | null;
  wait: number;
}

/** Without a condition, a long-poll answers the first change after the request arrived. */
function unconditional(
  ctx: AppContext,
  c: Context,
  { endpoint, id, owner, wait }: Lookup,
): Promise<JobState> {
  if (wait <= 0) return ctx.service.get(endpoint, id, { owner });
  return ctx.waiting(c, (signal) =>
    ctx.service.wait(endpoint, id, { owner, timeoutMs: wait * 1000, until: 'change', signal }),
  );
}

/** With a condition, answer as soon as the job's state is not one the client already has (maybe at once). */
async function conditional(
  ctx: AppContext,
  c: Context,
  { endpoint, id, owner, wait }: Lookup,
  condition: IfNoneMatch,
): Promise<JobState> {
  const job = await ctx.service.get(endpoint, id, { owner });
  if (wait <= 0 || condition === '*') return job;
  const deadline = Date.now() + wait * 1000;
  return ctx.waiting(c, async (signal) => {
    let current: JobState = job;
    // A final job changes only by a retry (or disappears): the answer does not wait for that.
    while (ifNoneMatchMatches(condition, jobETag(current)) && !isFinalStatus(current.status)) {
      const remaining = deadline - Date.now();
      if (remaining <= 0 || signal.aborted) break;
      current = await ctx.service.wait(endpoint, id, {
        owner,
        timeoutMs: remaining,
        until: 'change',
        since: current.updatedAt,
        signal,
      });
    }
    return current;
  });
}
