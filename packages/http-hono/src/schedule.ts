// When a submitted job may start and its priority: from the `Job-Run-At`, `Job-Delay` and `Job-Priority` headers
// of a single submit, and from the `runAt`, `delaySeconds` and `priority` fields of a batch item. The values are
// checked here, so that a refusal names the header or field the client sent (the service checks them again).
import { InvalidInputError, MAX_PRIORITY, MIN_PRIORITY, type ValidationIssue } from '@jobs/core';

/** The scheduling options of one submit, as `JobService.submit` and `submitMany` take them. */
export interface ScheduleOptions {
  runAt?: Date;
  delayMs?: number;
  priority?: number;
}

export const RUN_AT_HEADER = 'Job-Run-At';
export const DELAY_HEADER = 'Job-Delay';
export const PRIORITY_HEADER = 'Job-Priority';

/** Longest delay: ten digits of seconds (about 317 years), which keeps the start before the year 9999. */
export const MAX_DELAY_SECONDS = 9_999_999_999;

/** The latest time a store holds (as `@jobs/core` checks it). */
const LATEST_TIME = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** RFC 3339 §5.6 `date-time`: full date, `T`, full time with an optional fraction, and `Z` or an offset. */
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;
const EXAMPLE_DATE_TIME = '2026-01-05T10:00:00Z or 2026-01-05T11:00:00+01:00';

const DELAY = /^(\d{1,10})(?:\.(\d{1,3}))?$/;
const PRIORITY = /^-?\d{1,4}$/;

/**
 * An RFC 3339 date-time with `Z` or a numeric offset (`2026-01-05T10:00:00Z`, `…+01:00`; `T` and `Z` in either
 * case, a fraction of any length, truncated to milliseconds) as a Date; a message saying why not otherwise. Times
 * before 1970 or after 9999 are refused (no store holds them), and so is a leap second (60).
 */
export function parseDateTime(text: string): Date | string {
  const expected = `expected an RFC 3339 date-time with Z or an offset, such as ${EXAMPLE_DATE_TIME}`;
  const match = DATE_TIME.exec(text);
  if (!match) return `Not a date-time: ${expected}.`;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const offsetHours = Number(match[10] ?? 0);
  const offsetMinutes = Number(match[11] ?? 0);
  if (
    month < 1 ||
    month > 12 ||
    day < 1 ||
    day > daysInMonth(year, month) ||
    hour > 23 ||
    minute > 59 ||
    second > 59 ||
    offsetHours > 23 ||
    offsetMinutes > 59
  ) {
    return `Not a valid date-time (a field is out of range): ${expected}.`;
  }
  const milliseconds = match[7] ? Number(match[7].slice(1, 4).padEnd(3, '0')) : 0;
  const offset = (match[9] === '-' ? -1 : 1) * (offsetHours * 60 + offsetMinutes);
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute - offset, second, milliseconds);
  const time = date.getTime();
  if (!(time >= 0 && time <= LATEST_TIME)) return 'The time must be from 1970 to 9999 (UTC).';
  return date;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/**
 * The scheduling headers of a submit: `Job-Run-At` (an RFC 3339 date-time), `Job-Delay` (seconds, at most three
 * decimals) and `Job-Priority` (an integer from -1000 to 1000). `Job-Run-At` and `Job-Delay` exclude each other.
 * Throws one 422 naming every header that is invalid; absent headers are left out of the result.
 */
export function parseScheduleHeaders(header: (name: string) => string | undefined): ScheduleOptions {
  const runAt = header(RUN_AT_HEADER);
  const delay = header(DELAY_HEADER);
  const priority = header(PRIORITY_HEADER);
  if (runAt !== undefined && delay !== undefined) {
    const message = `${RUN_AT_HEADER} and ${DELAY_HEADER} exclude each other: send one of them.`;
    throw new InvalidInputError(message, [
      { path: [RUN_AT_HEADER], message },
      { path: [DELAY_HEADER], message },
    ]);
  }
  const schedule: ScheduleOptions = {};
  const issues: ValidationIssue[] = [];
  if (runAt !== undefined) {
    const parsed = parseDateTime(runAt.trim());
    if (typeof parsed === 'string') issues.push({ path: [RUN_AT_HEADER], message: parsed });
    else schedule.runAt = parsed;
  }
  if (delay !== undefined) {
    const match = DELAY.exec(delay.trim());
    if (match) schedule.delayMs = Number(match[1]) * 1000 + Number((match[2] ?? '').padEnd(3, '0'));
    else
      issues.push({
        path: [DELAY_HEADER],
        message: `Expected seconds to wait before the job may start: a non-negative decimal number with at most 3 decimals and ${String(MAX_DELAY_SECONDS).length} digits before the point, such as 90 or 0.25.`,
      });
  }
  if (priority !== undefined) {
    const trimmed = priority.trim();
    const value = PRIORITY.test(trimmed) ? Number(trimmed) + 0 : Number.NaN; // + 0: -0 is 0
    if (value >= MIN_PRIORITY && value <= MAX_PRIORITY) schedule.priority = value;
    else issues.push({ path: [PRIORITY_HEADER], message: priorityMessage() });
  }
  if (issues.length > 0) throw invalid(issues, 'header');
  return schedule;
}

/** What an invalid priority is told, in a header or a field. */
export function priorityMessage(): string {
  return `Expected an integer from ${MIN_PRIORITY} to ${MAX_PRIORITY} (higher runs first).`;
}

/** One 422 for the invalid headers (or fields) `issues` name: the detail names each and says why. */
export function invalid(issues: ValidationIssue[], what: 'header' | 'field'): InvalidInputError {
  const detail = issues.map((issue) => `The ${issue.path.join('.')} ${what} is invalid. ${issue.message}`);
  return new InvalidInputError(detail.join(' '), issues);
}
