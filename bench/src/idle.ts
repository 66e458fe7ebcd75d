import os from 'node:os';
import { delay } from './support.js';

/** Waits until the CPUs were at least `percent` % idle over 5 s (or `timeoutMs` passed); returns the last idle %. */
export async function waitIdle(percent: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  const totals = () =>
    os.cpus().reduce(
      (sum, cpu) => {
        const t = cpu.times;
        return { idle: sum.idle + t.idle, all: sum.all + t.idle + t.user + t.nice + t.sys + t.irq };
      },
      { idle: 0, all: 0 },
    );
  for (;;) {
    const before = totals();
    await delay(5000);
    const after = totals();
    const idle = (100 * (after.idle - before.idle)) / Math.max(1, after.all - before.all);
    if (idle >= percent || Date.now() > deadline) return idle;
  }
}
