import { InvalidInputError } from './errors.js';

/** 122 random bits: unguessable, so a job URL is a capability only its holder knows. */
export function newJobId(): string {
  return crypto.randomUUID();
}

export const JOB_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isJobId(value: string): boolean {
  return JOB_ID_PATTERN.test(value);
}

export function newLeaseToken(): string {
  return crypto.randomUUID();
}

/** JSON with object keys sorted, so equal values give equal strings. */
export function stableStringify(value: unknown): string {
  return JSON.stringify(value, (_key, inner) => {
    if (inner && typeof inner === 'object' && !Array.isArray(inner)) {
      return Object.fromEntries(Object.entries(inner).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return inner;
  });
}

export async function hashInput(value: unknown): Promise<string> {
  const text = walkInput(() => stableStringify(value));
  const bytes = new TextEncoder().encode(text ?? 'undefined');
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Runs a recursive walk of an input (a schema's parse, a serialization). When the stack overflows, the input is
 * nested thousands of levels deep: that is the input's fault, answered with a typed 422 (an issue coded
 * `too_deep`), not a RangeError.
 */
export function walkInput<T>(walk: () => T): T {
  try {
    return walk();
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    const message = 'The input is nested too deeply.';
    throw new InvalidInputError(message, [{ path: [], message, code: 'too_deep' }]);
  }
}

export interface CursorPosition {
  createdAt: Date;
  id: string;
}

/** Opaque keyset cursor for `list`: the last job of a page. */
export function encodeCursor(position: CursorPosition): string {
  const json = JSON.stringify([position.createdAt.getTime(), position.id]);
  return btoa(json).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

/**
 * The last millisecond of the year 9999: cursors are never made outside 1970–9999 (no job is that old or that
 * young). A Date holds times up to 8.64e15 (the year 275760), but past 9999 its ISO form has an expanded year
 * (`+010000-…`) that PostgreSQL does not read, so such a cursor would be refused by one store and taken by another.
 */
const MAX_CURSOR_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

export function decodeCursor(cursor: string): CursorPosition {
  try {
    const json = atob(cursor.replaceAll('-', '+').replaceAll('_', '/'));
    const [time, id] = JSON.parse(json) as unknown[];
    if (
      typeof time === 'number' &&
      Number.isInteger(time) &&
      time >= 0 &&
      time <= MAX_CURSOR_MS &&
      typeof id === 'string' &&
      isJobId(id)
    ) {
      return { createdAt: new Date(time), id };
    }
  } catch {
    // fall through to the typed error
  }
  throw InvalidInputError.field('cursor', 'The cursor is not valid.');
}
