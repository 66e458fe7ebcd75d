import { InvalidInputError } from '@jobs/core';
import { expect } from 'vitest';
import { uniqueName } from '../helpers.js';
import { subSuite } from './fixture.js';

/** The recorded state of recurring schedules: each schedule's last handled occurrence, moved forward only. */
export const describeScheduleStateContract = subSuite('recurring schedule state', ({ test }) => {
  test('a schedule never recorded is absent; an advance records it, read back to the millisecond', async (f) => {
    const name = uniqueName('report:nightly');
    const other = uniqueName('other');
    expect(await f.repo.readSchedules([name, other])).toEqual(new Map());
    const occurrence = new Date('2026-03-29T01:30:00.123Z');
    expect(await f.repo.advanceSchedule(name, occurrence)).toBe(true);
    const read = await f.repo.readSchedules([name, other]);
    expect([...read.keys()]).toEqual([name]);
    expect(read.get(name)?.getTime()).toBe(occurrence.getTime());
    expect(await f.repo.readSchedules([])).toEqual(new Map());
  });

  test('an advance only moves forward: the same or an earlier occurrence answers false and changes nothing', async (f) => {
    const name = uniqueName('every-minute');
    const first = new Date('2026-12-06T20:00:00.000Z');
    expect(await f.repo.advanceSchedule(name, first)).toBe(true);
    expect(await f.repo.advanceSchedule(name, first)).toBe(false);
    expect(await f.repo.advanceSchedule(name, new Date(first.getTime() - 60_000))).toBe(false);
    expect((await f.repo.readSchedules([name])).get(name)?.getTime()).toBe(first.getTime());
    const later = new Date(first.getTime() + 60_000);
    expect(await f.repo.advanceSchedule(name, later)).toBe(true);
    expect((await f.repo.readSchedules([name])).get(name)?.getTime()).toBe(later.getTime());
  });

  test('concurrent advances to one occurrence: exactly one of them moves it', async (f) => {
    const name = uniqueName('raced');
    const occurrence = new Date('2026-12-06T21:00:00.000Z');
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => f.repo.advanceSchedule(name, occurrence)),
    );
    expect(answers.filter(Boolean)).toHaveLength(1);
  });

  test('a name that is not a schedule name, or an occurrence that is not a storable date, is refused', async (f) => {
    for (const name of ['', 'has space', 'x'.repeat(101), 'semi;colon', 42 as unknown as string]) {
      await expect(f.repo.readSchedules([name])).rejects.toBeInstanceOf(InvalidInputError);
      await expect(f.repo.advanceSchedule(name, new Date())).rejects.toBeInstanceOf(InvalidInputError);
    }
    const name = uniqueName('dated');
    for (const occurrence of [new Date(Number.NaN), new Date('+275000-01-01T00:00:00Z'), 'tomorrow']) {
      await expect(f.repo.advanceSchedule(name, occurrence as Date)).rejects.toBeInstanceOf(
        InvalidInputError,
      );
    }
    expect(await f.repo.readSchedules([name])).toEqual(new Map());
  });
});
