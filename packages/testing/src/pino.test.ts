import type { Logger } from '@jobs/core';
import { createMemoryQueue, createMemoryRepository } from '@jobs/memory';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { useRuntimeFixture } from './runtime/fixture.js';
import { expectJobLines, LOG_SECRET, type LoggedLine, runLoggedTakeover } from './runtime/logging.js';

// A real pino logger, as an application passes it: no adapter, no cast.
describe('a pino logger on the memory runtime', () => {
  const fixture = useRuntimeFixture(
    () => ({ repository: createMemoryRepository(), queue: createMemoryQueue() }),
    {},
  );

  it('receives JSON lines that name their job (jobId, endpoint) and hold no input or output', async () => {
    const written: string[] = [];
    const root = pino({ level: 'debug' }, { write: (line: string) => void written.push(line) });
    const logger: Logger = root.child({ component: 'jobs' });
    const job = await runLoggedTakeover(fixture(), logger);

    const parsed = written.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(parsed.length).toBeGreaterThan(0);
    const lines: LoggedLine[] = parsed.map(
      ({ msg, level: _level, time: _time, pid: _pid, hostname: _host, ...fields }) => {
        expect(fields.component).toBe('jobs');
        return { message: String(msg), fields };
      },
    );
    expectJobLines(lines, job);
    expect(written.join('')).not.toContain(LOG_SECRET);
    // pino's own level numbers: the worker failure is a warning.
    expect(parsed.find((line) => line.msg === 'worker failed')).toMatchObject({ level: 40, ...job });
  });
});
