import { describe, expect, it } from 'vitest';
import { BoundedSelection, IndexedMinHeap } from './heap.js';
import { random } from './test-random.js';

function byKeyThenId(a: [string, number], b: [string, number]): number {
  return a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
}

describe('IndexedMinHeap', () => {
  it.each([1, 2, 3])('agrees with a map under random set, delete, peek and range reads (seed %i)', (seed) => {
    const next = random(seed);
    const heap = new IndexedMinHeap<string>();
    const model = new Map<string, number>();
    for (let step = 0; step < 5_000; step++) {
      const id = `id-${Math.floor(next() * 400)}`;
      const roll = next();
      if (roll < 0.5) {
        const key = Math.floor(next() * 100);
        heap.set(id, key, `value of ${id}`);
        model.set(id, key);
      } else if (roll < 0.8) {
        expect(heap.delete(id)).toBe(model.delete(id));
      } else {
        const max = Math.floor(next() * 110) - 5;
        const seen: string[] = [];
        heap.forEachUpTo(max, (value) => seen.push(value));
        const expected = [...model].filter(([, key]) => key <= max).map(([found]) => `value of ${found}`);
        expect(seen.sort()).toEqual(expected.sort());
      }
      expect(heap.size).toBe(model.size);
      let smallest: [string, number] | undefined;
      for (const entry of model) if (!smallest || byKeyThenId(entry, smallest) < 0) smallest = entry;
      expect(heap.peek()).toEqual(
        smallest ? { id: smallest[0], key: smallest[1], value: `value of ${smallest[0]}` } : undefined,
      );
      expect(heap.has(id)).toBe(model.has(id));
    }
  });
});

describe('BoundedSelection', () => {
  it.each([0, 1, 7, 50])('keeps the %i smallest items, sorted', (limit) => {
    const next = random(limit + 11);
    const values = Array.from({ length: 300 }, () => Math.floor(next() * 1_000));
    const selection = new BoundedSelection<number>(limit, (a, b) => a - b);
    for (const value of values) selection.offer(value);
    expect(selection.sorted()).toEqual([...values].sort((a, b) => a - b).slice(0, limit));
  });
});
