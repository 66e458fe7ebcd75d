// The options of `jobs-client submit` that schedule the job: --run-at, --delay and --priority.

/** When the job may start, and its priority, as `submit` takes them. */
export interface Schedule {
  runAt?: Date;
  delayMs?: number;
  priority?: number;
}

/** RFC 3339 date-time with Z or an offset. */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;

/** The schedule the options ask for; `fail` throws the usage error. The server checks the ranges. */
export function parseSchedule(
  values: { 'run-at'?: string | undefined; delay?: string | undefined; priority?: string | undefined },
  fail: (message: string) => never,
): Schedule {
  const runAt = values['run-at']?.trim();
  const delay = values.delay?.trim();
  const priority = values.priority?.trim();
  if (runAt !== undefined && delay !== undefined) fail('--run-at and --delay exclude each other');
  const schedule: Schedule = {};
  if (runAt !== undefined) {
    const date = new Date(DATE_TIME.test(runAt) ? runAt : Number.NaN);
    if (Number.isNaN(date.getTime()))
      fail('--run-at expects an RFC 3339 date-time, e.g. 2026-01-05T10:00:00Z');
    schedule.runAt = date;
  }
  if (delay !== undefined) {
    const seconds = /^\d+(\.\d+)?$/.test(delay) ? Number(delay) : Number.NaN;
    if (!Number.isFinite(seconds)) fail('--delay expects a number of seconds, e.g. 90 or 0.25');
    schedule.delayMs = Math.round(seconds * 1000);
  }
  if (priority !== undefined) {
    if (!/^-?\d{1,15}$/.test(priority)) fail('--priority expects an integer from -1000 to 1000');
    schedule.priority = Number(priority) + 0; // -0 is 0
  }
  return schedule;
}
