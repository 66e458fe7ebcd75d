import { InvalidInputError } from '@jobs/core';

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
 * The key of an `Idempotency-Key` header. The IETF draft makes it a Structured Field string (`"abc"`,
 * RFC 8941 §3.3.3: printable ASCII, `\"` and `\\` escapes); a bare token (`abc`) is accepted too, since many
 * clients send one. Returns null when the header is absent; throws a 422 when it cannot be read.
 */
export function parseIdempotencyKey(header: string | null | undefined): string | null {
  if (header === null || header === undefined) return null;
  const value = header.trim();
  if (!value.startsWith('"')) {
    if (/^[\x21-\x7e]+$/.test(value) && !value.includes('"')) return value;
    throw malformed('Expected a quoted string ("key") or a token of visible ASCII characters.');
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
      if (i !== value.length - 1) throw malformed('Unexpected characters after the closing quote.');
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
