/** A position in a list index: ascending by (time, id). */
export interface ListEntry {
  time: number;
  id: string;
}

export function compareEntries(a: ListEntry, b: ListEntry): number {
  if (a.time !== b.time) return a.time - b.time;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Index of the first entry >= `probe` in an ascending array. */
function lowerBound(entries: readonly ListEntry[], probe: ListEntry): number {
  let low = 0;
  let high = entries.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (compareEntries(entries[middle]!, probe) < 0) low = middle + 1;
    else high = middle;
  }
  return low;
}

const MAX_CHUNK = 512;

/**
 * Entries kept in ascending (time, id) order in chunks of at most 512, so insert and delete anywhere cost
 * O(log n + 512) instead of moving the whole array: jobs expire from the oldest end while new ones arrive
 * at the newest end, and jobs created in the same millisecond land in the middle of their millisecond.
 * Internal to the memory repository.
 */
export class SortedEntries {
  /** Non-empty chunks, each ascending, every entry of a chunk below every entry of the next. */
  readonly #chunks: ListEntry[][] = [];
  #size = 0;

  get size(): number {
    return this.#size;
  }

  insert(entry: ListEntry): void {
    this.#size += 1;
    if (this.#chunks.length === 0) {
      this.#chunks.push([entry]);
      return;
    }
    // The first chunk whose last entry is >= entry, or the last chunk when entry is above everything.
    const index = Math.min(this.#chunkFor(entry), this.#chunks.length - 1);
    const chunk = this.#chunks[index]!;
    const last = chunk[chunk.length - 1]!;
    // The common case, a job newer than all others, is an append.
    if (compareEntries(last, entry) < 0) chunk.push(entry);
    else chunk.splice(lowerBound(chunk, entry), 0, entry);
    if (chunk.length > MAX_CHUNK) {
      this.#chunks.splice(index + 1, 0, chunk.splice(chunk.length >> 1));
    }
  }

  delete(entry: ListEntry): boolean {
    const index = this.#chunkFor(entry);
    const chunk = this.#chunks[index];
    if (!chunk) return false;
    const position = lowerBound(chunk, entry);
    const found = chunk[position];
    if (!found || compareEntries(found, entry) !== 0) return false;
    chunk.splice(position, 1);
    this.#size -= 1;
    if (chunk.length === 0) this.#chunks.splice(index, 1);
    return true;
  }

  /** Entries strictly below `before` (every entry when undefined), newest first. */
  *descending(before?: ListEntry): Generator<ListEntry> {
    let chunkIndex = this.#chunks.length - 1;
    let position = (this.#chunks[chunkIndex]?.length ?? 0) - 1;
    if (before !== undefined) {
      chunkIndex = Math.min(this.#chunkFor(before), this.#chunks.length - 1);
      const chunk = this.#chunks[chunkIndex];
      position = chunk ? lowerBound(chunk, before) - 1 : -1;
    }
    for (; chunkIndex >= 0; chunkIndex--) {
      const chunk = this.#chunks[chunkIndex]!;
      if (position >= chunk.length) position = chunk.length - 1;
      for (; position >= 0; position--) yield chunk[position]!;
      position = Number.POSITIVE_INFINITY;
    }
  }

  /** Index of the first chunk whose last entry is >= `entry` (chunks.length when there is none). */
  #chunkFor(entry: ListEntry): number {
    let low = 0;
    let high = this.#chunks.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const chunk = this.#chunks[middle]!;
      if (compareEntries(chunk[chunk.length - 1]!, entry) < 0) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}
