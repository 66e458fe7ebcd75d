/**
 * SQL identifiers that come from options (schema name, notification channel). They are validated against a
 * strict pattern first and then quoted anyway, so that no option value can ever change the meaning of a
 * statement. Everything else that reaches PostgreSQL is a bound parameter.
 */

/** Lowercase, starts with a letter or underscore, at most 63 bytes (PostgreSQL's NAMEDATALEN - 1). */
export const IDENTIFIER_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;

export class InvalidIdentifierError extends Error {
  constructor(what: string, value: unknown) {
    super(
      `Invalid ${what} ${JSON.stringify(String(value))}: use 1 to 63 characters from a-z, 0-9 and _, not starting with a digit.`,
    );
    this.name = 'InvalidIdentifierError';
  }
}

/** Returns the identifier quoted for SQL, or throws `InvalidIdentifierError` before any SQL is built. */
export function quoteIdentifier(value: unknown, what = 'identifier'): string {
  if (typeof value !== 'string' || !IDENTIFIER_PATTERN.test(value))
    throw new InvalidIdentifierError(what, value);
  // The pattern already excludes '"', doubling it keeps the quoting correct should the pattern ever widen.
  return `"${value.replaceAll('"', '""')}"`;
}

/** A schema name: an identifier that PostgreSQL also accepts for a schema (`pg_` names are reserved). */
export function quoteSchemaName(value: unknown): string {
  if (typeof value === 'string' && value.startsWith('pg_'))
    throw new InvalidIdentifierError('schema name', value);
  return quoteIdentifier(value, 'schema name');
}
