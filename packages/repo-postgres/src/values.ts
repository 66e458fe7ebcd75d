import { InvalidInputError, type ValidationIssue } from '@jobs/core';

/** \u0000 (jsonb and text cannot hold it) or a UTF-16 surrogate without its pair (not valid Unicode). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function isStorableString(value: string): boolean {
  return !value.includes('\u0000') && !LONE_SURROGATE.test(value);
}

function describe(value: string): string {
  return value.includes('\u0000')
    ? 'contains the character U+0000, which PostgreSQL cannot store'
    : 'contains an unpaired UTF-16 surrogate, which is not valid Unicode';
}

/**
 * Serializes a value for a jsonb parameter, exactly as JSON.stringify would, and refuses what jsonb cannot
 * hold: strings or keys with U+0000 or lone surrogates, values JSON cannot represent (BigInt, cycles), and
 * texts over `maxBytes` UTF-8 bytes. Throws `InvalidInputError` naming the field; never reaches the database.
 * `undefined` is stored as JSON null.
 */
export function toJsonParam(value: unknown, field: string, maxBytes: number): string {
  const issues: ValidationIssue[] = [];
  const path: (string | number)[] = [field];
  let text: string | undefined;
  try {
    text = JSON.stringify(value, function (this: unknown, key: string, inner: unknown) {
      if (issues.length === 0) {
        if (typeof key === 'string' && !isStorableString(key)) {
          issues.push({ path: [...path, key], message: `A key ${describe(key)}.`, code: 'invalid_string' });
        } else if (typeof inner === 'string' && !isStorableString(inner)) {
          issues.push({
            path: key === '' ? path : [...path, key],
            message: `A string ${describe(inner)}.`,
            code: 'invalid_string',
          });
        }
      }
      return inner;
    });
  } catch (error) {
    throw new InvalidInputError(`The ${field} cannot be represented as JSON: ${(error as Error).message}`, [
      { path, message: 'Not representable as JSON', code: 'invalid_json' },
    ]);
  }
  if (issues.length > 0)
    throw new InvalidInputError(`The ${field} cannot be stored: ${issues[0]!.message}`, issues);
  const json = text ?? 'null';
  const bytes = Buffer.byteLength(json, 'utf8');
  if (bytes > maxBytes) {
    throw new InvalidInputError(`The ${field} is ${bytes} bytes as JSON; at most ${maxBytes} are allowed.`, [
      { path, message: `Larger than ${maxBytes} bytes`, code: 'too_big' },
    ]);
  }
  return json;
}

/** A text parameter (id, endpoint, owner, key, ...): must be storable as PostgreSQL text. */
export function checkText(value: string, field: string, maxLength = 1024): string {
  if (typeof value !== 'string') {
    throw new InvalidInputError(`The ${field} must be a string.`, [
      { path: [field], message: 'Expected a string' },
    ]);
  }
  if (!isStorableString(value)) {
    throw new InvalidInputError(`The ${field} ${describe(value)}.`, [
      { path: [field], message: describe(value), code: 'invalid_string' },
    ]);
  }
  if (value.length > maxLength) {
    throw new InvalidInputError(`The ${field} is longer than ${maxLength} characters.`, [
      { path: [field], message: `Longer than ${maxLength} characters`, code: 'too_big' },
    ]);
  }
  return value;
}

export function checkOptionalText(value: string | null, field: string, maxLength?: number): string | null {
  return value === null || value === undefined ? null : checkText(value, field, maxLength);
}

/** A duration in milliseconds: finite and >= 0. */
export function checkDuration(value: number, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new InvalidInputError(`The ${field} must be a finite number of milliseconds >= 0.`, [
      { path: [field], message: 'Expected a finite number >= 0' },
    ]);
  }
  return value;
}

export function checkInteger(value: number, field: string, min: number, max = 2_147_483_647): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidInputError(`The ${field} must be an integer from ${min} to ${max}.`, [
      { path: [field], message: `Expected an integer from ${min} to ${max}` },
    ]);
  }
  return value;
}

/** A Date as an exact ISO-8601 parameter (cast with ::timestamptz), independent of the driver's date handling. */
export function dateParam(value: Date | null | undefined, field: string): string | null {
  if (value === null || value === undefined) return null;
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) {
    throw new InvalidInputError(`The ${field} must be a valid date.`, [
      { path: [field], message: 'Invalid date' },
    ]);
  }
  return value.toISOString();
}
