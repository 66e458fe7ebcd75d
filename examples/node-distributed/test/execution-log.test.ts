import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { abortReason, openExecutionLog, readExecutionLog } from '../src/execution-log.js';

const run = promisify(execFile);
const packageDir = fileURLToPath(new URL('..', import.meta.url));
const dirs: string[] = [];
const tempFile = () => {
  const dir = mkdtempSync(join(tmpdir(), 'jobs-exec-log-'));
  dirs.push(dir);
  return join(dir, 'executions.jsonl');
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('execution log', () => {
  it('keeps every line of concurrent writer processes intact', async () => {
    const path = tempFile();
    const writers = 4;
    const count = 2_000;
    const script = fileURLToPath(new URL('./fixtures/append.ts', import.meta.url));
    const results = await Promise.all(
      Array.from({ length: writers }, () =>
        run(process.execPath, ['--import', 'tsx', script, path, String(count)], { cwd: packageDir }),
      ),
    );
    expect(results).toHaveLength(writers);
    const records = readExecutionLog(path);
    expect(records).toHaveLength(writers * count);
    const perPid = new Map<number, number>();
    for (const record of records) {
      expect(record.type).toBe('start');
      if (record.type !== 'start') continue;
      expect(record.jobId).toMatch(new RegExp(`^${record.pid}-\\d+-x{200}$`));
      perPid.set(record.pid, (perPid.get(record.pid) ?? 0) + 1);
    }
    expect([...perPid.values()]).toEqual(Array(writers).fill(count));
  }, 60_000);

  it('reads complete lines only, and nothing from a missing file', () => {
    const path = tempFile();
    expect(readExecutionLog(path)).toEqual([]);
    const log = openExecutionLog(path);
    log.record({ type: 'stopping', pid: 1, at: 2, signal: 'SIGTERM' });
    log.close();
    log.record({ type: 'stopping', pid: 1, at: 3, signal: 'SIGTERM' }); // closed: ignored
    writeFileSync(path, '{"type":"start"', { flag: 'a' }); // a line being written right now
    expect(readExecutionLog(path)).toEqual([{ type: 'stopping', pid: 1, at: 2, signal: 'SIGTERM' }]);
  });

  it('writes nothing without a path', () => {
    const log = openExecutionLog(null);
    expect(() => log.record({ type: 'stopping', pid: 1, at: 2, signal: 'SIGINT' })).not.toThrow();
    log.close();
  });

  it('names the abort reason the worker host gives', () => {
    const controller = new AbortController();
    controller.abort(new DOMException('Job canceled', 'AbortError'));
    expect(abortReason(controller.signal)).toBe('canceled');
    const timeout = new AbortController();
    timeout.abort(new DOMException('Job timeout', 'TimeoutError'));
    expect(abortReason(timeout.signal)).toBe('timeout');
  });
});
