import { Cron } from 'croner';
import { checkPriority, type Endpoint, type EndpointInput } from './endpoint.js';
import { InvalidInputError } from './errors.js';
import { checkNumber } from './options.js';

/**
 * What a process that starts after occurrences were due (everything was down, or no process ran schedules)
 * does with them: `skip` them all (the schedule goes on from the next one), or `run-once`: submit one job for
 * the latest missed occurrence, however many were missed.
 */
export type MissedOccurrences = 'skip' | 'run-once';

export interface ScheduleDefinition<E extends Endpoint = Endpoint> {
  /**
   * Unique among the schedules of every process sharing the repository: the key of its recorded state and of
   * its occurrences' jobs. Letters, digits, `.`, `_`, `-` and `:`, at most 100.
   */
  name: string;
  endpoint: E;
  /**
   * A cron expression: five fields (minute hour day-of-month month day-of-week), or six with seconds first;
   * day-of-month and day-of-week restrict days with OR, as Vixie cron does. Or use `everyMs`.
   */
  cron?: string;
  /** IANA time zone the cron expression is read in (e.g. `Europe/Paris`); default UTC. */
  timeZone?: string;
  /** A fixed interval instead of `cron`: occurrences at every multiple of it since the Unix epoch (UTC). */
  everyMs?: number;
  /** The input of every occurrence's job; checked against the endpoint's input schema when defined. */
  input: EndpointInput<E>;
  /** Priority of the occurrences' jobs; default the endpoint's. */
  priority?: number;
  /** Default `skip`. See MissedOccurrences. */
  missed?: MissedOccurrences;
}

/** A checked schedule. */
export interface Schedule {
  readonly name: string;
  readonly endpoint: string;
  readonly cron: string | null;
  readonly timeZone: string | null;
  readonly everyMs: number | null;
  readonly input: unknown;
  readonly priority: number;
  readonly missed: MissedOccurrences;
  /** The first occurrence strictly after `afterMs`, or null when there is none. */
  nextAfter(afterMs: number): number | null;
  /** The latest occurrence at or before `atMs`, or null when there is none. */
  latestAtOrBefore(atMs: number): number | null;
}

/** A schedule as listed by the service (and over HTTP): not its input, which may be private. */
export interface ScheduleInfo {
  name: string;
  endpoint: string;
  cron: string | null;
  timeZone: string | null;
  everyMs: number | null;
  missed: MissedOccurrences;
  priority: number;
  /** The last occurrence recorded as handled (submitted, or skipped as missed); null before the first. */
  lastOccurrenceAt: Date | null;
  nextOccurrenceAt: Date | null;
}

export const SCHEDULE_NAME_PATTERN = /^[A-Za-z0-9._:-]{1,100}$/;

/** The idempotency key of one occurrence's job: the same in every process, so it is submitted once. */
export function occurrenceKey(name: string, occurrenceMs: number): string {
  return `schedule:${name}:${new Date(occurrenceMs).toISOString()}`;
}

/** Checks a schedule definition; throws a TypeError saying what is wrong. */
export function defineSchedule<E extends Endpoint>(definition: ScheduleDefinition<E>): Schedule {
  const { name, endpoint } = definition;
  if (typeof name !== 'string' || !SCHEDULE_NAME_PATTERN.test(name)) {
    throw new TypeError(
      `schedule name ${JSON.stringify(name)} must be 1 to 100 letters, digits, '.', '_', '-' or ':'.`,
    );
  }
  const where = `schedule ${name}`;
  if (!endpoint || typeof endpoint.name !== 'string') throw new TypeError(`${where}: endpoint is required.`);
  if ((definition.cron === undefined) === (definition.everyMs === undefined)) {
    throw new TypeError(`${where}: give either cron or everyMs.`);
  }
  const missed = definition.missed ?? 'skip';
  if (missed !== 'skip' && missed !== 'run-once') {
    throw new TypeError(`${where}: missed must be 'skip' or 'run-once', got ${JSON.stringify(missed)}.`);
  }
  const priority =
    definition.priority === undefined
      ? endpoint.priority
      : checkPriority(definition.priority, (message) => new TypeError(`${where}: ${message}`));
  const parsed = endpoint.input.safeParse(definition.input);
  if (!parsed.success) {
    throw new TypeError(
      `${where}: input does not match ${endpoint.name}'s input schema: ${parsed.error.message}`,
    );
  }
  const common = { name, endpoint: endpoint.name, input: definition.input, priority, missed };
  if (definition.everyMs !== undefined) {
    if (definition.timeZone !== undefined) throw new TypeError(`${where}: timeZone applies to cron only.`);
    const every = checkNumber(`${where}: everyMs`, definition.everyMs, 'positiveInteger');
    if (every < 1000) throw new TypeError(`${where}: everyMs must be at least 1000.`);
    return {
      ...common,
      cron: null,
      timeZone: null,
      everyMs: every,
      nextAfter: (afterMs) => (Math.floor(afterMs / every) + 1) * every,
      latestAtOrBefore: (atMs) => Math.floor(atMs / every) * every,
    };
  }
  return { ...common, ...cronSchedule(where, definition.cron, definition.timeZone) };
}

function cronSchedule(
  where: string,
  pattern: unknown,
  timeZone: unknown,
): Pick<Schedule, 'cron' | 'timeZone' | 'everyMs' | 'nextAfter' | 'latestAtOrBefore'> {
  if (typeof pattern !== 'string') throw new TypeError(`${where}: cron must be a string.`);
  if (timeZone !== undefined && typeof timeZone !== 'string') {
    throw new TypeError(`${where}: timeZone must be an IANA time zone name.`);
  }
  if (timeZone !== undefined) {
    try {
      new Intl.DateTimeFormat('en', { timeZone });
    } catch {
      throw new TypeError(`${where}: unknown time zone ${JSON.stringify(timeZone)}.`);
    }
  }
  let cron: Cron;
  try {
    cron = new Cron(pattern, { timezone: timeZone ?? 'Etc/UTC', mode: '5-or-6-parts' });
  } catch (error) {
    throw new TypeError(
      `${where}: invalid cron expression ${JSON.stringify(pattern)}: ${(error as Error).message}`,
    );
  }
  if (cron.nextRun(new Date(0)) === null)
    throw new TypeError(`${where}: cron ${JSON.stringify(pattern)} never runs.`);
  return {
    cron: pattern,
    timeZone: timeZone ?? null,
    everyMs: null,
    nextAfter: (afterMs) => cron.nextRun(new Date(afterMs))?.getTime() ?? null,
    // previousRuns looks strictly before its reference.
    latestAtOrBefore: (atMs) => cron.previousRuns(1, new Date(atMs + 1))[0]?.getTime() ?? null,
  };
}

/** The schedule's entry in a listing, given its recorded state and the time now. */
export function scheduleInfo(schedule: Schedule, lastMs: number | null, nowMs: number): ScheduleInfo {
  const next = schedule.nextAfter(Math.max(lastMs ?? nowMs, nowMs));
  return {
    name: schedule.name,
    endpoint: schedule.endpoint,
    cron: schedule.cron,
    timeZone: schedule.timeZone,
    everyMs: schedule.everyMs,
    missed: schedule.missed,
    priority: schedule.priority,
    lastOccurrenceAt: lastMs === null ? null : new Date(lastMs),
    nextOccurrenceAt: next === null ? null : new Date(next),
  };
}

/** A schedule name given to a repository; InvalidInputError when it is not one. */
export function checkScheduleName(value: unknown): string {
  if (typeof value === 'string' && SCHEDULE_NAME_PATTERN.test(value)) return value;
  throw InvalidInputError.field(
    'name',
    `A schedule name is 1 to 100 letters, digits, '.', '_', '-' or ':', got ${JSON.stringify(value)}.`,
  );
}
