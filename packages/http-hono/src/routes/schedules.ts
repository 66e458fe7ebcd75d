import type { Endpoint, ScheduleInfo } from '@jobs/core';
import type { Context } from 'hono';
import type { AppContext } from '../context.js';

/** A recurring schedule as the API shows it: its dates as ISO strings, never its input (which may be private). */
export interface ScheduleRepresentation {
  name: string;
  endpoint: string;
  cron: string | null;
  timeZone: string | null;
  everyMs: number | null;
  missed: ScheduleInfo['missed'];
  priority: number;
  lastOccurrenceAt: string | null;
  nextOccurrenceAt: string | null;
}

export interface ScheduleListRepresentation {
  schedules: ScheduleRepresentation[];
}

/** `GET /{endpoint}/schedules`: the endpoint's recurring schedules, their last handled and next occurrences. */
export async function listSchedules(ctx: AppContext, c: Context, endpoint: Endpoint): Promise<Response> {
  // Asked as on every route, so that the hook may refuse the caller; schedules belong to no owner.
  const owner = await ctx.ownerOf(c);
  const schedules = await ctx.service.listSchedules(endpoint.name, { owner });
  c.header('Cache-Control', 'no-store');
  const body: ScheduleListRepresentation = { schedules: schedules.map(toScheduleRepresentation) };
  return c.json(body);
}

export function toScheduleRepresentation(schedule: ScheduleInfo): ScheduleRepresentation {
  return {
    name: schedule.name,
    endpoint: schedule.endpoint,
    cron: schedule.cron,
    timeZone: schedule.timeZone,
    everyMs: schedule.everyMs,
    missed: schedule.missed,
    priority: schedule.priority,
    lastOccurrenceAt: schedule.lastOccurrenceAt?.toISOString() ?? null,
    nextOccurrenceAt: schedule.nextOccurrenceAt?.toISOString() ?? null,
  };
}
