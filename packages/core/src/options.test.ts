import { describe, expect, it } from 'vitest';
import { checkNumber, numberOption } from './options.js';

describe('number options', () => {
  it.each([
    ['positive', 1.5, true],
    ['positive', 0, false],
    ['nonNegative', 0, true],
    ['nonNegative', -1, false],
    ['positiveInteger', 3, true],
    ['positiveInteger', 1.5, false],
    ['nonNegativeInteger', 0, true],
    ['positive', Number.NaN, false],
    ['positive', Number.POSITIVE_INFINITY, false],
    ['positive', '1', false],
  ] as const)('%s accepts %j: %s', (rule, value, ok) => {
    if (ok) expect(checkNumber('x', value, rule)).toBe(value);
    else expect(() => checkNumber('x', value, rule)).toThrow(TypeError);
  });

  it('names the option, the rule and the value, with the error of the caller', () => {
    expect(() => checkNumber('leaseMs', -5, 'positive')).toThrow(
      'leaseMs must be a positive number, got -5.',
    );
    expect(() => checkNumber('n', 'a', 'positive', (message) => new RangeError(message))).toThrow(RangeError);
  });

  it('falls back only for undefined', () => {
    expect(numberOption('x', undefined, 'positive', 7)).toBe(7);
    expect(() => numberOption('x', null, 'positive', 7)).toThrow(TypeError);
  });
});
