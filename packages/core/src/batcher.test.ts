import { describe, expect, it } from 'vitest';
import { Batcher } from './batcher.js';
import type { ItemResult } from './repository.js';

/** A batch runner that records each batch and answers when the test says. */
function recordingRunner() {
  const batches: number[][] = [];
  const releases: Array<() => void> = [];
  const run = (items: number[]): Promise<ItemResult<number>[]> => {
    batches.push(items);
    return new Promise((resolve) => {
      releases.push(() =>
        resolve(
          items.map((item) =>
            item < 0 ? { ok: false, error: new Error(`refused ${item}`) } : { ok: true, value: item * 10 },
          ),
        ),
      );
    });
  };
  return { batches, releases, run };
}

describe('Batcher (group commit)', () => {
  it('sends a lone item at once, without waiting for a batch to fill', async () => {
    const { batches, releases, run } = recordingRunner();
    const batcher = new Batcher(run, { maxBatch: 100 });
    const result = batcher.add(1);
    await Promise.resolve();
    await Promise.resolve();
    expect(batches).toEqual([[1]]);
    releases[0]!();
    expect(await result).toBe(10);
  });

  it('collects what arrives while a batch is in flight and sends it together when that one returns', async () => {
    const { batches, releases, run } = recordingRunner();
    const batcher = new Batcher(run, { maxBatch: 100 });
    const first = batcher.add(1);
    await new Promise((resolve) => setTimeout(resolve, 0));
    const later = [2, 3, 4].map((item) => batcher.add(item));
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(batches).toEqual([[1]]);
    expect(batcher.waiting).toBe(3);
    releases[0]!();
    expect(await first).toBe(10);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(batches).toEqual([[1], [2, 3, 4]]);
    releases[1]!();
    expect(await Promise.all(later)).toEqual([20, 30, 40]);
  });

  it('splits at maxBatch and keeps order', async () => {
    const { batches, releases, run } = recordingRunner();
    const batcher = new Batcher(run, { maxBatch: 2, maxInFlight: 3 });
    const results = [1, 2, 3, 4, 5].map((item) => batcher.add(item));
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(batches).toEqual([[1, 2], [3, 4], [5]]);
    for (const release of releases) release();
    expect(await Promise.all(results)).toEqual([10, 20, 30, 40, 50]);
  });

  it('refuses one item alone when its result is an error, and all items when the call fails', async () => {
    const batcher = new Batcher(
      async (items: number[]) => {
        if (items.includes(99)) throw new Error('backend down');
        return items.map(
          (item): ItemResult<number> =>
            item < 0 ? { ok: false, error: new Error(`refused ${item}`) } : { ok: true, value: item },
        );
      },
      { maxBatch: 10 },
    );
    const [good, bad] = [batcher.add(1), batcher.add(-1)];
    expect(await good).toBe(1);
    await expect(bad).rejects.toThrow('refused -1');
    const all = [batcher.add(2), batcher.add(99)];
    await expect(all[0]).rejects.toThrow('backend down');
    await expect(all[1]).rejects.toThrow('backend down');
    // And it keeps working afterwards.
    expect(await batcher.add(3)).toBe(3);
  });

  it('rejects every item when the runner returns the wrong number of results', async () => {
    const batcher = new Batcher(async () => [], { maxBatch: 10 });
    await expect(batcher.add(1)).rejects.toThrow(/returned 0 results/);
  });
});
