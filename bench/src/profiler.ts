/**
 * Counts the calls of every method of an object and the time until each call settled (its promise, if it
 * returns one), by `<label>.<method>`. Generic on purpose: it wraps whatever methods the object has, so it
 * keeps working when the repository / queue interfaces change. Functions passed as arguments (listeners,
 * delivery handlers) are wrapped too, and their invocations counted as `<label>.<method> → callback`; the same
 * function always gets the same wrapper, so a later `unsubscribe(listener)` still finds it.
 * The wrapper costs well under a microsecond a call.
 */
export interface ProfileEntry {
  operation: string;
  calls: number;
  /** Time until the calls settled, summed; null for callbacks. */
  totalMs: number | null;
}

export interface ProfileReport {
  jobs: number;
  entries: ProfileEntry[];
}

export class Profiler {
  readonly #counters = new Map<string, { calls: number; totalMs: number | null }>();
  readonly #callbacks = new WeakMap<(...args: unknown[]) => unknown, (...args: unknown[]) => unknown>();

  instrument<T extends object>(target: T, label: string): T {
    const methods = new Map<PropertyKey, (...args: unknown[]) => unknown>();
    return new Proxy(target, {
      get: (object, property) => {
        const value = Reflect.get(object, property, object);
        if (typeof value !== 'function') return value;
        if (typeof property !== 'string' || property === 'constructor') return value.bind(object);
        let method = methods.get(property);
        if (!method) {
          method = this.#wrapMethod(object, value as (...args: unknown[]) => unknown, `${label}.${property}`);
          methods.set(property, method);
        }
        return method;
      },
    });
  }

  reset(): void {
    this.#counters.clear();
  }

  report(jobs: number): ProfileReport {
    return {
      jobs,
      entries: [...this.#counters.entries()]
        .map(([operation, counter]) => ({ operation, ...counter }))
        .sort((a, b) => a.operation.localeCompare(b.operation)),
    };
  }

  #wrapMethod(object: object, method: (...args: unknown[]) => unknown, operation: string) {
    return (...args: unknown[]) => {
      const wrappedArgs = args.map((arg) =>
        typeof arg === 'function' ? this.#wrapCallback(arg as (...a: unknown[]) => unknown, operation) : arg,
      );
      const started = performance.now();
      const result = method.apply(object, wrappedArgs);
      if (result instanceof Promise) return result.finally(() => this.#record(operation, started));
      this.#record(operation, started);
      return result;
    };
  }

  #wrapCallback(callback: (...args: unknown[]) => unknown, operation: string) {
    let wrapper = this.#callbacks.get(callback);
    if (!wrapper) {
      const name = `${operation} → callback`;
      const record = () => this.#record(name, null);
      wrapper = function (this: unknown, ...args: unknown[]) {
        record();
        return callback.apply(this, args);
      };
      this.#callbacks.set(callback, wrapper);
    }
    return wrapper;
  }

  #record(operation: string, started: number | null): void {
    const counter = this.#counters.get(operation) ?? { calls: 0, totalMs: started === null ? null : 0 };
    counter.calls++;
    if (started !== null) counter.totalMs = (counter.totalMs ?? 0) + performance.now() - started;
    this.#counters.set(operation, counter);
  }
}
