import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { consoleLogger, jobLogFields, type Logger, silentLogger } from './logger.js';

function capturedPino() {
  const written: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void written.push(line) });
  return { logger, lines: () => written.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

describe('Logger', () => {
  afterEach(() => vi.restoreAllMocks());

  it('is what a pino logger and its children are, without a cast', () => {
    // Type-level: these assignments compile.
    const root: Logger = pino();
    const child: Logger = pino().child({ component: 'jobs' });
    const tuned: Logger = pino({ level: 'warn', base: null });
    expect([root, child, tuned].every((logger) => typeof logger.warn === 'function')).toBe(true);
  });

  it('writes through pino as fields first, then the message', () => {
    const { logger, lines } = capturedPino();
    const asLogger: Logger = logger.child({ component: 'jobs' });
    const job = { id: 'job-1', endpoint: 'thumbnails' };
    asLogger.warn({ ...jobLogFields(job), attempt: 2, error: 'disk full' }, 'worker failed');
    asLogger.debug({}, 'nothing else');
    expect(lines()).toMatchObject([
      {
        level: 40,
        msg: 'worker failed',
        component: 'jobs',
        jobId: 'job-1',
        endpoint: 'thumbnails',
        attempt: 2,
      },
      { level: 20, msg: 'nothing else', component: 'jobs' },
    ]);
  });

  it('consoleLogger prints warnings and errors as "[jobs] message" with the fields, nothing below', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const debug = vi.spyOn(console, 'debug').mockImplementation(() => {});
    const info = vi.spyOn(console, 'info').mockImplementation(() => {});
    consoleLogger.warn({ jobId: 'a', endpoint: 'e' }, 'heartbeat failed');
    consoleLogger.error({ jobId: 'b', endpoint: 'e' }, 'the repository refused the result');
    consoleLogger.info({ jobId: 'c' }, 'ignored');
    consoleLogger.debug({}, 'ignored');
    silentLogger.error({}, 'ignored');
    expect(warn.mock.calls).toEqual([['[jobs] heartbeat failed', { jobId: 'a', endpoint: 'e' }]]);
    expect(error.mock.calls).toEqual([
      ['[jobs] the repository refused the result', { jobId: 'b', endpoint: 'e' }],
    ]);
    expect([log, debug, info].every((spy) => spy.mock.calls.length === 0)).toBe(true);
  });
});
