import { type Endpoint, isFinalStatus } from '@jobs/core';
import type { Context } from 'hono';
import type { AppContext } from '../context.js';
import { eventId, streamJobEvents } from '../events.js';

/**
 * `GET /{endpoint}/{id}/events`: the job's changes as Server-Sent Events (`404` before the stream starts when
 * the job is not visible; `204` to a reconnect whose `Last-Event-ID` is already the final event).
 */
export async function events(ctx: AppContext, c: Context, endpoint: Endpoint): Promise<Response> {
  const owner = await ctx.ownerOf(c);
  const id = c.req.param('id') ?? '';
  const job = await ctx.service.get(endpoint.name, id, { owner });
  const lastEventId = c.req.header('last-event-id');
  if (lastEventId !== undefined && isFinalStatus(job.status) && lastEventId.trim() === eventId(job)) {
    // A reconnecting EventSource already has the final event; 204 tells it to stop reconnecting.
    return c.body(null, 204);
  }
  return streamJobEvents(c, {
    service: ctx.service,
    endpoint: endpoint.name,
    id,
    owner,
    basePath: ctx.baseOf(c, 3),
    heartbeatMs: ctx.heartbeatMs,
    logger: ctx.logger,
    shutdown: ctx.shutdown,
    problemTypeBase: ctx.problemTypeBase,
  });
}
