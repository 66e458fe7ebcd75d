/** What a numeric option must be. */
export type NumberRule = 'positive' | 'nonNegative' | 'positiveInteger' | 'nonNegativeInteger';

const RULES: Record<NumberRule, { test: (value: number) => boolean; wants: string }> = {
  positive: { test: (value) => Number.isFinite(value) && value > 0, wants: 'a positive number' },
  nonNegative: { test: (value) => Number.isFinite(value) && value >= 0, wants: 'a number >= 0' },
  positiveInteger: { test: (value) => Number.isInteger(value) && value > 0, wants: 'a positive integer' },
  nonNegativeInteger: { test: (value) => Number.isInteger(value) && value >= 0, wants: 'an integer >= 0' },
};

/**
 * Checks a numeric option and returns it; otherwise throws `makeError` (default: a TypeError) with a message
 * that names the option, what it must be and what it got.
 */
export function checkNumber(
  name: string,
  value: unknown,
  rule: NumberRule,
  makeError: (message: string) => Error = (message) => new TypeError(message),
): number {
  const { test, wants } = RULES[rule];
  if (typeof value === 'number' && test(value)) return value;
  throw makeError(`${name} must be ${wants}, got ${typeof value === 'number' ? value : typeof value}.`);
}

/** `checkNumber` for an optional option: `fallback` when it is undefined. */
export function numberOption(
  name: string,
  value: unknown,
  rule: NumberRule,
  fallback: number,
  makeError?: (message: string) => Error,
): number {
  return value === undefined ? fallback : checkNumber(name, value, rule, makeError);
}
