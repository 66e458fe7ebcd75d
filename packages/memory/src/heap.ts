/**
 * A binary min-heap of string ids ordered by a numeric key (ties broken by id), with O(log n)
 * insert, update and delete by id. Internal to the memory repository.
 */
export class IndexedMinHeap {
  readonly #ids: string[] = [];
  readonly #keys: number[] = [];
  readonly #positions = new Map<string, number>();

  get size(): number {
    return this.#ids.length;
  }

  has(id: string): boolean {
    return this.#positions.has(id);
  }

  /** Inserts `id` with `key`, or moves it when it is already present. */
  set(id: string, key: number): void {
    const position = this.#positions.get(id);
    if (position === undefined) {
      this.#ids.push(id);
      this.#keys.push(key);
      this.#positions.set(id, this.#ids.length - 1);
      this.#up(this.#ids.length - 1);
      return;
    }
    const previous = this.#keys[position]!;
    this.#keys[position] = key;
    if (key < previous) this.#up(position);
    else this.#down(position);
  }

  delete(id: string): boolean {
    const position = this.#positions.get(id);
    if (position === undefined) return false;
    const last = this.#ids.length - 1;
    if (position !== last) this.#swap(position, last);
    this.#ids.pop();
    this.#keys.pop();
    this.#positions.delete(id);
    if (position < this.#ids.length) {
      this.#up(position);
      this.#down(position);
    }
    return true;
  }

  /** The smallest entry, or undefined when empty. */
  peek(): { id: string; key: number } | undefined {
    const id = this.#ids[0];
    return id === undefined ? undefined : { id, key: this.#keys[0]! };
  }

  /**
   * Every id whose key is <= `max`, in no particular order. Visits only those entries and their
   * direct children, so the cost is proportional to the number of matches, not to the heap size.
   */
  collectUpTo(max: number): string[] {
    const found: string[] = [];
    const stack: number[] = [];
    if (this.#ids.length > 0) stack.push(0);
    while (stack.length > 0) {
      const index = stack.pop()!;
      if (this.#keys[index]! > max) continue;
      found.push(this.#ids[index]!);
      const left = 2 * index + 1;
      if (left < this.#ids.length) stack.push(left);
      if (left + 1 < this.#ids.length) stack.push(left + 1);
    }
    return found;
  }

  #less(a: number, b: number): boolean {
    const keyA = this.#keys[a]!;
    const keyB = this.#keys[b]!;
    if (keyA !== keyB) return keyA < keyB;
    return this.#ids[a]! < this.#ids[b]!;
  }

  #swap(a: number, b: number): void {
    const idA = this.#ids[a]!;
    const idB = this.#ids[b]!;
    const keyA = this.#keys[a]!;
    this.#ids[a] = idB;
    this.#ids[b] = idA;
    this.#keys[a] = this.#keys[b]!;
    this.#keys[b] = keyA;
    this.#positions.set(idB, a);
    this.#positions.set(idA, b);
  }

  #up(index: number): void {
    let current = index;
    while (current > 0) {
      const parent = (current - 1) >> 1;
      if (!this.#less(current, parent)) return;
      this.#swap(current, parent);
      current = parent;
    }
  }

  #down(index: number): void {
    let current = index;
    const size = this.#ids.length;
    for (;;) {
      const left = 2 * current + 1;
      const right = left + 1;
      let smallest = current;
      if (left < size && this.#less(left, smallest)) smallest = left;
      if (right < size && this.#less(right, smallest)) smallest = right;
      if (smallest === current) return;
      this.#swap(current, smallest);
      current = smallest;
    }
  }
}
