import { InvalidInputError, MAX_UNIQUE_KEY_LENGTH } from '@jobs/core';

export const UNIQUE_KEY_HEADER = 'Job-Unique-Key';
/** Response header of a submit answered with the live job that holds the unique key: `existing`. */
export const UNIQUE_MATCH_HEADER = 'Job-Unique-Match';

/**
 * The `Job-Unique-Key` header: the job's unique key (at most one queued or running job per key, endpoint and
 * owner), the value without surrounding spaces, 1 to 255 printable ASCII characters. undefined when absent; a 422
 * naming the header otherwise.
 */
export function parseUniqueKey(header: string | null | undefined): string | undefined {
  if (header === null || header === undefined) return undefined;
  const key = header.trim();
  if (key.length === 0 || key.length > MAX_UNIQUE_KEY_LENGTH || !/^[\x20-\x7e]+$/.test(key)) {
    const message = `Expected 1 to ${MAX_UNIQUE_KEY_LENGTH} printable ASCII characters.`;
    throw new InvalidInputError(`The ${UNIQUE_KEY_HEADER} header is invalid. ${message}`, [
      { path: [UNIQUE_KEY_HEADER], message },
    ]);
  }
  return key;
}

/**
 * The `wait` preference of a `Prefer` header (RFC 7240 §4.3), in whole seconds; null when absent or not a
 * non-negative integer. Several Prefer headers arrive joined by commas; as RFC 7240 §2 says, only the first
 * `wait` counts.
 */
export function parsePreferWait(header: string | null | undefined): number | null {
  if (!header) return null;
  for (const preference of splitOutsideQuotes(header, ',')) {
    const [head] = splitOutsideQuotes(preference, ';');
    if (head === undefined) continue;
    const equals = head.indexOf('=');
    const name = (equals === -1 ? head : head.slice(0, equals)).trim().toLowerCase();
    if (name !== 'wait') continue;
    if (equals === -1) return null;
    let value = head.slice(equals + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    if (!/^\d{1,10}$/.test(value)) return null;
    return Number(value);
  }
  return null;
}

/** A parsed `If-None-Match`: `*`, or the opaque tags of the listed entity tags (quotes kept, `W/` dropped). */
export type IfNoneMatch = '*' | readonly string[];

/**
 * `If-None-Match` (RFC 9110 §13.1.2): `*` or a comma-separated list of entity tags (`"abc"`, `W/"abc"`).
 * Returns null when the header is absent, lists no tag, or cannot be read: such a condition is ignored and
 * the request is answered as an unconditional one.
 */
export function parseIfNoneMatch(header: string | null | undefined): IfNoneMatch | null {
  if (header === null || header === undefined) return null;
  if (header.trim() === '*') return '*';
  const tags: string[] = [];
  let i = 0;
  const skipSpace = () => {
    while (header[i] === ' ' || header[i] === '\t') i++;
  };
  for (;;) {
    skipSpace();
    while (header[i] === ',') {
      i++;
      skipSpace();
    }
    if (i >= header.length) break;
    if (header.startsWith('W/', i)) i += 2;
    if (header[i] !== '"') return null;
    const end = header.indexOf('"', i + 1);
    if (end === -1) return null;
    const opaque = header.slice(i, end + 1);
    // etagc: %x21 / %x23-7E / obs-text
    if (!/^"[\x21\x23-\x7e\x80-\xff]*"$/.test(opaque)) return null;
    tags.push(opaque);
    i = end + 1;
    skipSpace();
    if (i < header.length && header[i] !== ',') return null;
  }
  return tags.length > 0 ? tags : null;
}

/**
 * Whether the condition matches an entity tag, by the weak comparison that `If-None-Match` uses (RFC 9110
 * §8.8.3.2: the opaque tags are equal, whether either is weak or not). `*` matches any current tag.
 */
export function ifNoneMatchMatches(condition: IfNoneMatch, etag: string): boolean {
  if (condition === '*') return true;
  const opaque = etag.startsWith('W/') ? etag.slice(2) : etag;
  return condition.includes(opaque);
}

function splitOutsideQuotes(value: string, separator: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const char = value[i]!;
    if (quoted && char === '\\' && i + 1 < value.length) {
      current += char + value[++i];
      continue;
    }
    if (char === '"') quoted = !quoted;
    if (char === separator && !quoted) {
      parts.push(current);
      current = '';
    } else {
      current += char;
    }
  }
  parts.push(current);
  return parts;
}

/**
 * The key of an `Idempotency-Key` header: a Structured Field string, as the IETF draft defines the field
 * (`"abc"`, RFC 8941 §3.3.3 and §4.2.5: printable ASCII between double quotes, `\"` and `\\` escapes). A
 * bare token (`abc`), a list (`"a", "b"`, also what several Idempotency-Key lines arrive as), parameters, an
 * empty string or an empty header are refused. Returns null when the header is absent; throws a 422 when it
 * cannot be read.
 */
export function parseIdempotencyKey(header: string | null | undefined): string | null {
  if (header === null || header === undefined) return null;
  // RFC 8941 §4.2: leading and trailing spaces are discarded (HTTP has already dropped tabs).
  const value = header.replace(/^ +| +$/g, '');
  if (!value.startsWith('"')) {
    throw malformed('Expected a Structured Field string: the key between double quotes ("key").');
  }
  let key = '';
  for (let i = 1; i < value.length; i++) {
    const char = value[i]!;
    if (char === '\\') {
      const next = value[i + 1];
      if (next !== '"' && next !== '\\') throw malformed('Only \\" and \\\\ may be escaped.');
      key += next;
      i++;
    } else if (char === '"') {
      if (i !== value.length - 1) {
        throw malformed(
          'Expected one string: nothing may follow the closing quote (no list, no parameters).',
        );
      }
      if (key === '') throw malformed('The key is empty.');
      return key;
    } else if (char < ' ' || char > '~') {
      throw malformed('Only printable ASCII characters are allowed.');
    } else {
      key += char;
    }
  }
  throw malformed('The closing quote is missing.');
}

function malformed(message: string): InvalidInputError {
  return new InvalidInputError(`The Idempotency-Key header is malformed. ${message}`, [
    { path: ['Idempotency-Key'], message },
  ]);
}
