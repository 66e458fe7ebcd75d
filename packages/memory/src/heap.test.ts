import { describe, expect, it } from 'vitest';
import { BoundedSelection, IndexedMinHeap } from './heap.js';
import { random } from './test-random.js';

/** The model of one entry: its key, and when its id was inserted (ties between equal keys go by that). */
interface Entry {
  key: number;
  inserted: number;
}

describe('IndexedMinHeap', () => {
  it.each([1, 2, 3])('agrees with a map under random set, delete, peek and range reads (seed %i)', (seed) => {
    const next = random(seed);
    const heap = new IndexedMinHeap<string>();
    const model = new Map<string, Entry>();
    let inserted = 0;
    for (let step = 0; step < 5_000; step++) {
      const id = `id-${Math.floor(next() * 400)}`;
      const roll = next();
      if (roll < 0.5) {
        const key = Math.floor(next() * 100);
        heap.set(id, key, `value of ${id}`);
        // An update keeps the entry's place among equal keys; a new entry comes after those already there.
        model.set(id, { key, inserted: model.get(id)?.inserted ?? inserted++ });
      } else if (roll < 0.7) {
        expect(heap.delete(id)).toBe(model.delete(id));
      } else if (roll < 0.85) {
        const max = Math.floor(next() * 110) - 5;
        const seen: string[] = [];
        heap.forEachUpTo(max, (value) => seen.push(value));
        const expected = [...model]
          .filter(([, entry]) => entry.key <= max)
          .map(([found]) => `value of ${found}`);
        expect(seen.sort()).toEqual(expected.sort());
      } else {
        const threshold = Math.floor(next() * 110) - 5;
        const above = [...model.values()].map((entry) => entry.key).filter((key) => key > threshold);
        expect(heap.firstAbove(threshold)).toBe(above.length === 0 ? undefined : Math.min(...above));
      }
      expect(heap.size).toBe(model.size);
      let smallest: [string, Entry] | undefined;
      for (const entry of model) {
        const [, { key, inserted: order }] = entry;
        if (!smallest || key < smallest[1].key || (key === smallest[1].key && order < smallest[1].inserted)) {
          smallest = entry;
        }
      }
      expect(heap.peek()).toEqual(
        smallest ? { id: smallest[0], key: smallest[1].key, value: `value of ${smallest[0]}` } : undefined,
      );
      expect(heap.has(id)).toBe(model.has(id));
    }
  });

  it('breaks ties between equal keys by insertion order, and firstAbove skips equal keys', () => {
    const heap = new IndexedMinHeap<string>();
    for (const id of ['c', 'a', 'b']) heap.set(id, 5, id);
    heap.set('z', 9, 'z');
    const order: string[] = [];
    for (let entry = heap.peek(); entry; entry = heap.peek()) {
      order.push(entry.id);
      heap.delete(entry.id);
    }
    expect(order).toEqual(['c', 'a', 'b', 'z']);
    for (const id of ['a', 'b']) heap.set(id, 5, id);
    heap.set('c', 7, 'c');
    expect(heap.firstAbove(4)).toBe(5);
    expect(heap.firstAbove(5)).toBe(7);
    expect(heap.firstAbove(7)).toBeUndefined();
    expect(new IndexedMinHeap<string>().firstAbove(0)).toBeUndefined();
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
