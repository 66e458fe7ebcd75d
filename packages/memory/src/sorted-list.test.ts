import { describe, expect, it } from 'vitest';
import { compareEntries, type ListEntry, SortedEntries } from './sorted-list.js';
import { random } from './test-random.js';

describe('SortedEntries', () => {
  it.each([
    1, 2, 3,
  ])('agrees with a sorted array under random inserts, deletes and range reads (seed %i)', (seed) => {
    const next = random(seed);
    const list = new SortedEntries();
    let model: ListEntry[] = [];
    let counter = 0;
    for (let step = 0; step < 6_000; step++) {
      const roll = next();
      if (roll < 0.6 || model.length === 0) {
        // Few distinct times: many ties, ordered by id, inserted in the middle of their time.
        const entry = { time: Math.floor(next() * 20), id: `id-${Math.floor(next() * 1e9)}-${counter++}` };
        list.insert(entry);
        model.push(entry);
        model.sort(compareEntries);
      } else if (roll < 0.9) {
        const victim = model[Math.floor(next() * model.length)]!;
        expect(list.delete({ ...victim })).toBe(true);
        model = model.filter((entry) => entry !== victim);
        expect(list.delete(victim)).toBe(false);
      } else {
        const probe = { time: Math.floor(next() * 22) - 1, id: `id-${Math.floor(next() * 1e9)}` };
        const expected = model.filter((entry) => compareEntries(entry, probe) < 0).reverse();
        expect([...list.descending(probe)]).toEqual(expected);
      }
      expect(list.size).toBe(model.length);
    }
    expect([...list.descending()]).toEqual([...model].reverse());
  });

  it('keeps order across chunk splits when entries arrive in time order and leave from the oldest end', () => {
    const list = new SortedEntries();
    const entries = Array.from({ length: 5_000 }, (_, i) => ({ time: i, id: `id-${i}` }));
    for (const entry of entries) list.insert(entry);
    for (const entry of entries.slice(0, 2_500)) expect(list.delete(entry)).toBe(true);
    expect(list.size).toBe(2_500);
    expect([...list.descending()]).toEqual(entries.slice(2_500).reverse());
    expect([...list.descending({ time: 3_000, id: 'id-3000' })]).toEqual(
      entries.slice(2_500, 3_000).reverse(),
    );
    expect([...list.descending({ time: 0, id: '' })]).toEqual([]);
  });

  it('reads nothing from an empty list and refuses to delete what it does not hold', () => {
    const list = new SortedEntries();
    expect([...list.descending()]).toEqual([]);
    expect([...list.descending({ time: 5, id: 'x' })]).toEqual([]);
    expect(list.delete({ time: 1, id: 'x' })).toBe(false);
  });
});
