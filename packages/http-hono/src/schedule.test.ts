import { InvalidInputError } from '@jobs/core';
import { describe, expect, it } from 'vitest';
import { parseDateTime, parseScheduleHeaders } from './schedule.js';

describe('parseDateTime (RFC 3339 date-time)', () => {
  it('reads Z and offsets, T and Z in either case, and fractions truncated to milliseconds', () => {
    expect(parseDateTime('2026-01-05T10:00:00Z')).toEqual(new Date('2026-01-05T10:00:00.000Z'));
    expect(parseDateTime('2026-01-05t10:00:00z')).toEqual(new Date('2026-01-05T10:00:00.000Z'));
    expect(parseDateTime('2026-01-05T11:30:00+01:30')).toEqual(new Date('2026-01-05T10:00:00.000Z'));
    expect(parseDateTime('2026-01-05T05:00:00-05:00')).toEqual(new Date('2026-01-05T10:00:00.000Z'));
    expect(parseDateTime('2026-01-05T10:00:00.5Z')).toEqual(new Date('2026-01-05T10:00:00.500Z'));
    expect(parseDateTime('2026-01-05T10:00:00.123456789Z')).toEqual(new Date('2026-01-05T10:00:00.123Z'));
    expect(parseDateTime('2024-02-29T00:00:00Z')).toEqual(new Date('2024-02-29T00:00:00.000Z'));
    expect(parseDateTime('1970-01-01T00:00:00Z')).toEqual(new Date(0));
    expect(parseDateTime('9999-12-31T23:59:59.999Z')).toEqual(new Date('9999-12-31T23:59:59.999Z'));
  });

  it('refuses what is not one, fields out of range, and times no store holds', () => {
    for (const text of [
      '',
      'tomorrow',
      '2026-01-05',
      '2026-01-05T10:00:00', // no offset: whose local time?
      '2026-01-05T10:00Z',
      '2026-01-05 10:00:00Z',
      '2026-1-5T10:00:00Z',
      '2026-01-05T10:00:00+0100',
      '2026-01-05T10:00:00.Z',
      '+02026-01-05T10:00:00Z',
      '1767607200000',
      ' 2026-01-05T10:00:00Z',
    ]) {
      expect(parseDateTime(text), text).toMatch(/^Not a date-time: expected an RFC 3339 date-time/);
    }
    for (const text of [
      '2026-13-01T00:00:00Z',
      '2026-00-01T00:00:00Z',
      '2026-02-29T00:00:00Z',
      '2026-04-31T00:00:00Z',
      '2026-01-05T24:00:00Z',
      '2026-01-05T10:60:00Z',
      '2016-12-31T23:59:60Z',
      '2026-01-05T10:00:00+24:00',
      '2026-01-05T10:00:00+01:60',
    ]) {
      expect(parseDateTime(text), text).toMatch(/out of range/);
    }
    expect(parseDateTime('1969-12-31T23:59:59Z')).toBe('The time must be from 1970 to 9999 (UTC).');
    expect(parseDateTime('1970-01-01T00:30:00+01:00')).toBe('The time must be from 1970 to 9999 (UTC).');
  });
});

describe('parseScheduleHeaders', () => {
  const headers = (values: Record<string, string>) => (name: string) => values[name];

  it('reads Job-Run-At, Job-Delay (seconds, up to milliseconds) and Job-Priority; absent ones are left out', () => {
    expect(parseScheduleHeaders(headers({}))).toEqual({});
    expect(
      parseScheduleHeaders(headers({ 'Job-Run-At': ' 2026-01-05T10:00:00Z ', 'Job-Priority': '-1000' })),
    ).toEqual({ runAt: new Date('2026-01-05T10:00:00Z'), priority: -1000 });
    const delays: Array<[string, number]> = [
      ['90', 90_000],
      ['0.25', 250],
      ['0', 0],
      ['1.5', 1_500],
      ['007.001', 7_001],
      ['9999999999.999', 9_999_999_999_999],
    ];
    for (const [value, delayMs] of delays) {
      expect(parseScheduleHeaders(headers({ 'Job-Delay': value }))).toEqual({ delayMs });
    }
    expect(parseScheduleHeaders(headers({ 'Job-Priority': '1000' }))).toEqual({ priority: 1000 });
    expect(parseScheduleHeaders(headers({ 'Job-Priority': '-0' }))).toEqual({ priority: 0 });
  });

  it('refuses malformed values with one 422 naming every invalid header', () => {
    const refused = (values: Record<string, string>) => {
      try {
        parseScheduleHeaders(headers(values));
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidInputError);
        return (error as InvalidInputError).issues.map((issue) => issue.path.join('.'));
      }
      throw new Error(`accepted ${JSON.stringify(values)}`);
    };
    for (const delay of ['', '-1', '1e3', '0.2500', '.5', '5.', '+5', '1,5', '10000000000', 'soon', '1, 2']) {
      expect(refused({ 'Job-Delay': delay }), delay).toEqual(['Job-Delay']);
    }
    for (const priority of ['', '1001', '-1001', '1.5', '+5', 'high', '5, 6', '0x10', '1e2']) {
      expect(refused({ 'Job-Priority': priority }), priority).toEqual(['Job-Priority']);
    }
    expect(refused({ 'Job-Run-At': '2026-01-05T10:00:00Z, 2026-01-06T10:00:00Z' })).toEqual(['Job-Run-At']);
    expect(refused({ 'Job-Run-At': 'now', 'Job-Priority': 'top' })).toEqual(['Job-Run-At', 'Job-Priority']);
    expect(refused({ 'Job-Run-At': '2026-01-05T10:00:00Z', 'Job-Delay': '5' })).toEqual([
      'Job-Run-At',
      'Job-Delay',
    ]);
  });
});
