import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineEndpoint } from './endpoint.js';
import { defineSchedule, occurrenceKey, scheduleInfo } from './schedule.js';

const report = defineEndpoint({
  name: 'report',
  input: z.object({ kind: z.enum(['daily', 'hourly']) }),
  output: z.object({ rows: z.number() }),
  priority: 3,
});
const at = (iso: string) => new Date(iso).getTime();
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

describe('defineSchedule', () => {
  it('reads a cron expression in its time zone, across a daylight saving change', () => {
    const nightly = defineSchedule({
      name: 'nightly',
      endpoint: report,
      cron: '30 2 * * *',
      timeZone: 'Europe/Paris',
      input: { kind: 'daily' },
    });
    // 02:30 in Paris is 01:30 UTC in winter (UTC+1), and does not exist on 29 March 2026 (clocks jump to 03:00).
    expect(iso(nightly.nextAfter(at('2026-03-27T12:00:00Z')))).toBe('2026-03-28T01:30:00.000Z');
    const onChangeDay = nightly.nextAfter(at('2026-03-28T12:00:00Z'));
    expect(iso(onChangeDay)).toBe('2026-03-29T01:00:00.000Z');
    expect(iso(nightly.nextAfter(onChangeDay!))).toBe('2026-03-30T00:30:00.000Z');
    expect(iso(nightly.latestAtOrBefore(at('2026-03-28T01:30:00Z')))).toBe('2026-03-28T01:30:00.000Z');
    expect(iso(nightly.latestAtOrBefore(at('2026-03-28T01:29:59.999Z')))).toBe('2026-03-27T01:30:00.000Z');
    expect(nightly).toMatchObject({
      cron: '30 2 * * *',
      timeZone: 'Europe/Paris',
      everyMs: null,
      priority: 3,
    });
  });

  it('takes six fields with seconds, and restricts days with OR like Vixie cron', () => {
    const everyFive = defineSchedule({
      name: 's',
      endpoint: report,
      cron: '*/5 * * * * *',
      input: { kind: 'hourly' },
    });
    expect(iso(everyFive.nextAfter(at('2026-12-06T20:00:00Z')))).toBe('2026-12-06T20:00:05.000Z');
    // The 1st of the month OR a Monday: Monday 7 December 2026 comes before 1 January.
    const either = defineSchedule({
      name: 'either',
      endpoint: report,
      cron: '0 0 1 * MON',
      input: { kind: 'daily' },
    });
    expect(iso(either.nextAfter(at('2026-12-02T00:00:00Z')))).toBe('2026-12-07T00:00:00.000Z');
  });

  it('places fixed intervals on multiples since the epoch, the same in every process', () => {
    const often = defineSchedule({
      name: 'often',
      endpoint: report,
      everyMs: 15_000,
      input: { kind: 'hourly' },
    });
    expect(often.nextAfter(at('2026-12-06T20:00:07Z'))).toBe(at('2026-12-06T20:00:15Z'));
    expect(often.nextAfter(at('2026-12-06T20:00:15Z'))).toBe(at('2026-12-06T20:00:30Z'));
    expect(often.latestAtOrBefore(at('2026-12-06T20:00:15Z'))).toBe(at('2026-12-06T20:00:15Z'));
    expect(often).toMatchObject({ cron: null, timeZone: null, everyMs: 15_000, missed: 'skip' });
  });

  it('refuses what cannot be a schedule, saying why', () => {
    const base = { name: 'x', endpoint: report, input: { kind: 'daily' as const } };
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ name: 'has space', cron: '* * * * *' }, /schedule name/],
      [{}, /either cron or everyMs/],
      [{ cron: '* * * * *', everyMs: 60_000 }, /either cron or everyMs/],
      [{ cron: '61 * * * *' }, /invalid cron expression/],
      [{ cron: '0 0 30 2 *' }, /never runs/],
      [{ cron: '* * * * *', timeZone: 'Mars/Olympus' }, /unknown time zone/],
      [{ everyMs: 500 }, /at least 1000/],
      [{ everyMs: 1.5e3 + 0.5 }, /everyMs/],
      [{ everyMs: 60_000, timeZone: 'UTC' }, /cron only/],
      [{ cron: '* * * * *', missed: 'catch-up' }, /missed/],
      [{ cron: '* * * * *', priority: 5_000 }, /priority/],
      [{ cron: '* * * * *', input: { kind: 'weekly' } }, /input does not match report/],
    ];
    for (const [overrides, message] of cases) {
      expect(() => defineSchedule({ ...base, ...overrides } as never), JSON.stringify(overrides)).toThrow(
        message,
      );
    }
  });

  it('names each occurrence by the schedule and the instant, and lists without the input', () => {
    expect(occurrenceKey('nightly', at('2026-03-28T01:30:00Z'))).toBe(
      'schedule:nightly:2026-03-28T01:30:00.000Z',
    );
    const hourly = defineSchedule({
      name: 'hourly',
      endpoint: report,
      cron: '0 * * * *',
      input: { kind: 'hourly' },
    });
    const info = scheduleInfo(hourly, at('2026-12-06T20:00:00Z'), at('2026-12-06T20:10:00Z'));
    expect(info).toEqual({
      name: 'hourly',
      endpoint: 'report',
      cron: '0 * * * *',
      timeZone: null,
      everyMs: null,
      missed: 'skip',
      priority: 3,
      lastOccurrenceAt: new Date('2026-12-06T20:00:00Z'),
      nextOccurrenceAt: new Date('2026-12-06T21:00:00Z'),
    });
  });
});
