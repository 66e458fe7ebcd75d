/**
 * A binary min-heap of values identified by a string id, ordered by a numeric key (ties broken by insertion
 * order, so a run of equal keys — jobs finished in the same millisecond — inserts in O(1)), with O(log n)
 * insert, update and delete by id. Internal to the memory repository.
 */
export class IndexedMinHeap<V> {
  readonly #ids: string[] = [];
  readonly #keys: number[] = [];
  readonly #values: V[] = [];
  readonly #order: number[] = [];
  readonly #positions = new Map<string, number>();
  #inserted = 0;

  get size(): number {
    return this.#ids.length;
  }

  has(id: string): boolean {
    return this.#positions.has(id);
  }

  /** Inserts `id` with `key` and `value`, or updates them when `id` is already present. */
  set(id: string, key: number, value: V): void {
    const position = this.#positions.get(id);
    if (position === undefined) {
      this.#ids.push(id);
      this.#keys.push(key);
      this.#values.push(value);
      this.#order.push(this.#inserted++);
      this.#positions.set(id, this.#ids.length - 1);
      this.#up(this.#ids.length - 1);
      return;
    }
    const previous = this.#keys[position]!;
    this.#keys[position] = key;
    this.#values[position] = value;
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
    this.#values.pop();
    this.#order.pop();
    this.#positions.delete(id);
    if (position < this.#ids.length) {
      this.#up(position);
      this.#down(position);
    }
    return true;
  }

  /** The smallest entry, or undefined when empty. */
  peek(): { id: string; key: number; value: V } | undefined {
    const id = this.#ids[0];
    return id === undefined ? undefined : { id, key: this.#keys[0]!, value: this.#values[0]! };
  }

  /**
   * Calls `visit` with the value of every entry whose key is <= `max`, in no particular order. Visits only those entries
   * and their direct children, so the cost is proportional to the number of matches, not to the heap size.
   * `visit` must not change the heap.
   */
  forEachUpTo(max: number, visit: (value: V) => void): void {
    const stack: number[] = [];
    if (this.#ids.length > 0) stack.push(0);
    while (stack.length > 0) {
      const index = stack.pop()!;
      if (this.#keys[index]! > max) continue;
      visit(this.#values[index]!);
      const left = 2 * index + 1;
      if (left < this.#ids.length) stack.push(left);
      if (left + 1 < this.#ids.length) stack.push(left + 1);
    }
  }

  /**
   * The smallest key greater than `threshold`, or undefined. Visits the entries with keys <= `threshold` and the
   * frontier right above them only.
   */
  firstAbove(threshold: number): number | undefined {
    let best: number | undefined;
    const stack: number[] = [];
    if (this.#ids.length > 0) stack.push(0);
    while (stack.length > 0) {
      const index = stack.pop()!;
      const key = this.#keys[index]!;
      if (best !== undefined && key >= best) continue;
      if (key > threshold) {
        best = key;
        continue;
      }
      const left = 2 * index + 1;
      if (left < this.#ids.length) stack.push(left);
      if (left + 1 < this.#ids.length) stack.push(left + 1);
    }
    return best;
  }

  #less(a: number, b: number): boolean {
    const keyA = this.#keys[a]!;
    const keyB = this.#keys[b]!;
    if (keyA !== keyB) return keyA < keyB;
    return this.#order[a]! < this.#order[b]!;
  }

  #swap(a: number, b: number): void {
    const idA = this.#ids[a]!;
    const idB = this.#ids[b]!;
    const keyA = this.#keys[a]!;
    const valueA = this.#values[a]!;
    this.#ids[a] = idB;
    this.#ids[b] = idA;
    this.#keys[a] = this.#keys[b]!;
    this.#keys[b] = keyA;
    this.#values[a] = this.#values[b]!;
    this.#values[b] = valueA;
    const orderA = this.#order[a]!;
    this.#order[a] = this.#order[b]!;
    this.#order[b] = orderA;
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

/**
 * Keeps the `limit` smallest of the items offered (by `compare`), in O(log limit) per item, with a
 * max-heap of at most `limit` items. Internal to the memory repository.
 */
export class BoundedSelection<T> {
  readonly #limit: number;
  readonly #compare: (a: T, b: T) => number;
  /** Max-heap: the largest kept item at index 0. */
  readonly #items: T[] = [];

  constructor(limit: number, compare: (a: T, b: T) => number) {
    this.#limit = limit;
    this.#compare = compare;
  }

  offer(item: T): void {
    const items = this.#items;
    if (items.length < this.#limit) {
      items.push(item);
      let index = items.length - 1;
      while (index > 0) {
        const parent = (index - 1) >> 1;
        if (this.#compare(items[index]!, items[parent]!) <= 0) break;
        [items[index], items[parent]] = [items[parent]!, items[index]!];
        index = parent;
      }
      return;
    }
    if (items.length === 0 || this.#compare(item, items[0]!) >= 0) return;
    items[0] = item;
    let index = 0;
    for (;;) {
      const left = 2 * index + 1;
      const right = left + 1;
      let largest = index;
      if (left < items.length && this.#compare(items[left]!, items[largest]!) > 0) largest = left;
      if (right < items.length && this.#compare(items[right]!, items[largest]!) > 0) largest = right;
      if (largest === index) return;
      [items[index], items[largest]] = [items[largest]!, items[index]!];
      index = largest;
    }
  }

  /** The kept items, smallest first. */
  sorted(): T[] {
    return [...this.#items].sort(this.#compare);
  }
}
