import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ProgressReporter, type ProgressUpdate } from './progress.js';

describe('ProgressReporter', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('holds reports back for the interval, keeping only the latest, and hands over what is left at the end', () => {
    const written: ProgressUpdate[] = [];
    const reporter = new ProgressReporter(1_000, (update) => written.push(update));
    reporter.report(0.1, 'a');
    reporter.report(0.2, 'b');
    expect(written).toEqual([]);
    vi.advanceTimersByTime(1_000);
    expect(written).toHaveLength(1);
    expect(written[0]?.progress).toEqual({ fraction: 0.2, message: 'b' });
    reporter.report(0.9, 'c');
    expect(reporter.close()).toMatchObject({ progress: { fraction: 0.9, message: 'c' } });
    vi.advanceTimersByTime(5_000);
    expect(written).toHaveLength(1);
  });

  it("stores a long run's estimate at once, and keeps a quick run's for its result", () => {
    const written: ProgressUpdate[] = [];
    const long = new ProgressReporter(1_000, (update) => written.push(update));
    long.estimate(60_000);
    expect(written).toEqual([{ estimatedRemainingMs: 60_000 }]);
    long.close();
    const quick = new ProgressReporter(1_000, (update) => written.push(update));
    quick.estimate(300);
    expect(written).toHaveLength(1);
    expect(quick.close()).toEqual({ estimatedRemainingMs: 300 });
  });
});
