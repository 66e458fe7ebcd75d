import { describe, expect, it } from 'vitest';
import { InvalidInputError } from './errors.js';
import { checkStorableText, isStorableString, toStorableJson } from './json.js';

describe('storable values', () => {
  it.each(['plain', 'émoji 😀', 'quotes " and \\\\', ''])('accepts %j', (value) => {
    expect(isStorableString(value)).toBe(true);
    expect(toStorableJson({ value }, 'input')).toBe(JSON.stringify({ value }));
  });

  it.each([
    'nul \u0000',
    'lone \uD800 high',
    'lone \uDC00 low',
  ])('refuses %j in a value or a key, naming the field', (bad) => {
    expect(isStorableString(bad)).toBe(false);
    expect(() => toStorableJson({ nested: [bad] }, 'input')).toThrow(InvalidInputError);
    expect(() => toStorableJson({ [bad]: 1 }, 'output')).toThrow(/output/);
    expect(() => checkStorableText(bad, 'owner')).toThrow(InvalidInputError);
  });

  it('refuses what JSON cannot represent and what is too large; undefined is null', () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(() => toStorableJson(cycle, 'input')).toThrow(InvalidInputError);
    expect(() => toStorableJson({ big: 1n }, 'input')).toThrow(InvalidInputError);
    expect(toStorableJson(undefined, 'output')).toBe('null');
    expect(toStorableJson('é'.repeat(10), 'input', 22)).toBe(JSON.stringify('é'.repeat(10)));
    expect(() => toStorableJson('é'.repeat(10), 'input', 21)).toThrow(/22 bytes/);
  });

  it('checks text fields: type and length', () => {
    expect(() => checkStorableText(5, 'id')).toThrow(InvalidInputError);
    expect(() => checkStorableText('abc', 'id', 2)).toThrow(/longer than 2/);
    expect(checkStorableText('ab', 'id', 2)).toBe('ab');
  });
});
