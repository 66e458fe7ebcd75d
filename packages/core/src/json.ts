import { InvalidInputError, type ValidationIssue } from './errors.js';

/** A UTF-16 surrogate without its pair: not valid Unicode, so no store can hold it as text. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Whether every repository can store the string: no U+0000 (PostgreSQL's text and jsonb cannot) and no lone
 * surrogate. The contract suites hold every repository to this, so that what one accepts, all accept.
 */
export function isStorableString(value: string): boolean {
  return !value.includes('\u0000') && !LONE_SURROGATE.test(value);
}

function unstorable(value: string): string {
  return value.includes('\u0000')
    ? 'contains the character U+0000, which cannot be stored'
    : 'contains an unpaired UTF-16 surrogate, which is not valid Unicode';
}

const encoder = new TextEncoder();

/**
 * Serializes a value as a repository stores it, exactly as JSON.stringify would (`undefined` becomes null), and
 * refuses what no store can hold: strings or keys with U+0000 or lone surrogates, values JSON cannot represent
 * (BigInt, cycles), and texts over `maxBytes` UTF-8 bytes. Throws `InvalidInputError` naming the field.
 */
export function toStorableJson(value: unknown, field: string, maxBytes = Number.POSITIVE_INFINITY): string {
  // Fast path: JSON.stringify writes U+0000 and every lone surrogate as a \u escape, so a text without such an
  // escape holds none (one that has one, maybe only an escaped backslash before "u0000", is checked closely).
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    text = undefined;
  }
  if (text !== undefined && !SUSPECT_ESCAPE.test(text)) return checkSize(text, field, maxBytes);
  return checkSize(closeLook(value, field), field, maxBytes);
}

const SUSPECT_ESCAPE = /\\u(?:0000|d[89a-f])/i;

/** Serializes `value` visiting every key and string, and throws for the first one no store can hold. */
function closeLook(value: unknown, field: string): string {
  const issues: ValidationIssue[] = [];
  let text: string | undefined;
  try {
    text = JSON.stringify(value, (key: string, inner: unknown) => {
      if (issues.length === 0) {
        if (!isStorableString(key)) {
          issues.push({ path: [field, key], message: `A key ${unstorable(key)}.`, code: 'invalid_string' });
        } else if (typeof inner === 'string' && !isStorableString(inner)) {
          issues.push({
            path: key === '' ? [field] : [field, key],
            message: `A string ${unstorable(inner)}.`,
            code: 'invalid_string',
          });
        }
      }
      return inner;
    });
  } catch (error) {
    throw new InvalidInputError(`The ${field} cannot be represented as JSON: ${(error as Error).message}`, [
      { path: [field], message: 'Not representable as JSON', code: 'invalid_json' },
    ]);
  }
  if (issues.length > 0)
    throw new InvalidInputError(`The ${field} cannot be stored: ${issues[0]!.message}`, issues);
  return text ?? 'null';
}

function checkSize(json: string, field: string, maxBytes: number): string {
  // A UTF-16 code unit takes at most 3 UTF-8 bytes: most texts are judged without encoding them.
  if (json.length * 3 > maxBytes) {
    const bytes = encoder.encode(json).length;
    if (bytes > maxBytes) {
      throw new InvalidInputError(
        `The ${field} is ${bytes} bytes as JSON; at most ${maxBytes} are allowed.`,
        [{ path: [field], message: `Larger than ${maxBytes} bytes`, code: 'too_big' }],
      );
    }
  }
  return json;
}

/** A text field (id, endpoint, owner, key, ...): a string every repository can store, at most `maxLength` long. */
export function checkStorableText(value: unknown, field: string, maxLength = 1024): string {
  if (typeof value !== 'string') throw InvalidInputError.field(field, `The ${field} must be a string.`);
  if (!isStorableString(value)) {
    throw InvalidInputError.field(field, `The ${field} ${unstorable(value)}.`, 'invalid_string');
  }
  if (value.length > maxLength) {
    throw InvalidInputError.field(field, `The ${field} is longer than ${maxLength} characters.`, 'too_big');
  }
  return value;
}

/** The latest time every repository can store (PostgreSQL's timestamptz and ISO 8601 stop at year 9999). */
const LATEST_STORABLE_TIME = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** A date every repository can store: a valid Date from 1970 to the end of year 9999. */
export function checkStorableDate(value: unknown, field: string): Date {
  if (!(value instanceof Date) || !(value.getTime() >= 0 && value.getTime() <= LATEST_STORABLE_TIME)) {
    throw InvalidInputError.field(field, `The ${field} must be a valid date from 1970 to 9999.`);
  }
  return value;
}
