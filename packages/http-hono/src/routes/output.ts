import type { Endpoint } from '@jobs/core';
import type { Context } from 'hono';
import type { AppContext } from '../context.js';

/** `GET /{endpoint}/{id}/output`: the output of a succeeded job (the service answers 404 otherwise). */
export async function getOutput(ctx: AppContext, c: Context, endpoint: Endpoint): Promise<Response> {
  const owner = await ctx.ownerOf(c);
  const output = await ctx.service.output(endpoint.name, c.req.param('id') ?? '', { owner });
  c.header('Cache-Control', 'no-store');
  return c.json(output ?? null);
}
