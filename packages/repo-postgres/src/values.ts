import {
  checkNumber,
  checkStorableDate,
  checkStorableText,
  InvalidInputError,
  type JobProgress,
} from '@jobs/core';

/** A text parameter (id, endpoint, owner, key, ...): must be storable as PostgreSQL text. */
export function checkText(value: string, field: string, maxLength = 1024): string {
  return checkStorableText(value, field, maxLength);
}

export function checkOptionalText(value: string | null, field: string, maxLength?: number): string | null {
  return value === null || value === undefined ? null : checkText(value, field, maxLength);
}

/** A duration in milliseconds: finite and >= 0. */
export function checkDuration(value: number, field: string): number {
  return checkNumber(field, value, 'nonNegative', (message) => InvalidInputError.field(field, message));
}

/** A delay before a job's run time; refused (as memory and SQLite do) when it lands past what a Date holds. */
export function checkDelay(value: number): number {
  const delay = checkDuration(value, 'delayMs');
  if (!Number.isFinite(new Date(Date.now() + Math.ceil(delay)).getTime())) {
    throw InvalidInputError.field(
      'delayMs',
      `delayMs ${value} puts the job past the latest time a date holds.`,
    );
  }
  return delay;
}

export function checkInteger(value: number, field: string, min: number, max = 2_147_483_647): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw InvalidInputError.field(field, `The ${field} must be an integer from ${min} to ${max}.`);
  }
  return value;
}

/** A progress report: a finite fraction and an optional string message. */
export function checkProgress(progress: JobProgress): JobProgress {
  const fraction = progress?.fraction;
  if (typeof fraction !== 'number' || !Number.isFinite(fraction)) {
    throw new InvalidInputError('The progress fraction must be a finite number.', [
      { path: ['progress', 'fraction'], message: 'Expected a finite number' },
    ]);
  }
  if (progress.message !== undefined && typeof progress.message !== 'string') {
    throw new InvalidInputError('The progress message must be a string.', [
      { path: ['progress', 'message'], message: 'Expected a string' },
    ]);
  }
  return progress;
}

/** A Date as an exact ISO-8601 parameter (cast with ::timestamptz), independent of the driver's date handling. */
export function dateParam(value: Date, field: string): string {
  return checkStorableDate(value, field).toISOString();
}

/** An id or token that can match a stored one (anything else matches nothing, without asking the database). */
export function isUsableText(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  try {
    checkText(value, 'id', 200);
    return true;
  } catch {
    return false;
  }
}
