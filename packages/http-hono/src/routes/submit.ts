import { type Endpoint, isFinalStatus, NotFoundError } from '@jobs/core';
import type { Context } from 'hono';
import { readJsonBody } from '../body.js';
import type { AppContext, JobState } from '../context.js';
import { parseIdempotencyKey, parseUniqueKey, UNIQUE_KEY_HEADER, UNIQUE_MATCH_HEADER } from '../headers.js';
import { jobETag, jobLinks, toRepresentation } from '../representation.js';
import { parseScheduleHeaders } from '../schedule.js';

/**
 * `POST /{endpoint}`: validates and stores a job (delayed or prioritized by the `Job-*` headers); `202`, or with
 * `Prefer: wait=N` maybe `303`/`200`.
 */
export async function submit(ctx: AppContext, c: Context, endpoint: Endpoint): Promise<Response> {
  const owner = await ctx.ownerOf(c);
  const idempotencyKey = parseIdempotencyKey(c.req.header('idempotency-key'));
  // Job-Run-At, Job-Delay, Job-Priority: scheduling stays out of the input.
  const schedule = parseScheduleHeaders((name) => c.req.header(name));
  const uniqueKey = parseUniqueKey(c.req.header(UNIQUE_KEY_HEADER));
  const input = await readJsonBody(c.req.raw, ctx.maxBodyBytes, ctx.maxJsonDepth);
  const submitted = await ctx.service.submit(endpoint.name, input, {
    owner,
    idempotencyKey,
    ...schedule,
    ...(uniqueKey === undefined ? {} : { uniqueKey }),
  });
  const { job } = submitted;
  const base = ctx.baseOf(c, 1);
  const wait = ctx.preferredWait(c);
  let current: JobState = job;
  if (wait !== null && wait > 0 && !isFinalStatus(job.status)) {
    try {
      current = await ctx.waiting(c, (signal) =>
        ctx.service.wait(endpoint.name, job.id, { owner, timeoutMs: wait * 1000, until: 'final', signal }),
      );
    } catch (error) {
      // Deleted meanwhile: the job was still created; answer as without waiting.
      if (!(error instanceof NotFoundError)) throw error;
    }
  }
  const links = jobLinks(base, current);
  c.header('Content-Location', links.self);
  c.header('Operation-Location', links.self);
  c.header('ETag', jobETag(current));
  c.header('Cache-Control', 'no-store');
  if (!submitted.created) {
    // An existing job answers: the original of an Idempotency-Key replay, or the live job holding the unique key.
    if (submitted.reason === 'idempotent') c.header('Idempotent-Replayed', 'true');
    else c.header(UNIQUE_MATCH_HEADER, 'existing');
  }
  if (wait !== null && current.status === 'succeeded' && links.output) {
    c.header('Location', links.output);
    return c.json(toRepresentation(base, current, ctx), 303);
  }
  c.header('Location', links.self);
  // A job that already failed or was canceled (during the wait, or on a replay) is no longer "accepted
  // for processing": 200 with the final state, so clients do not poll it.
  if (current.status === 'failed' || current.status === 'canceled') {
    return c.json(toRepresentation(base, current, ctx), 200);
  }
  if (!isFinalStatus(current.status)) c.header('Retry-After', String(ctx.service.retryAfterSeconds(current)));
  return c.json(toRepresentation(base, current, ctx), 202);
}
