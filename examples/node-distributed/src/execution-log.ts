import { closeSync, existsSync, openSync, readFileSync, writeSync } from 'node:fs';

/**
 * Execution records: what the worker code itself saw, written to a file that every worker process appends
 * to. The reliability tests count executions from it, independently of the repository (which could only
 * tell them what it believes happened).
 *
 * Each record is one JSON line, written with a single `write` on a descriptor opened with O_APPEND: the
 * kernel places each write at the end of the file atomically, so lines of concurrent processes never
 * interleave (they stay far below 4 KiB).
 */
interface RunRecord {
  jobId: string;
  endpoint: string;
  attempt: number;
  pid: number;
  at: number;
}

/** The worker function started running an attempt of a job. */
export interface StartRecord extends RunRecord {
  type: 'start';
}

/** The worker function returned its output (the host records the result right after). */
export interface FinishRecord extends RunRecord {
  type: 'finish';
}

/** The run's signal aborted (`reason`: canceled, timeout, lease_lost, shutdown) at `at`. */
export interface AbortRecord extends RunRecord {
  type: 'abort';
  reason: string;
}

/** The worker process received a stop signal and takes no new work from then on. */
export interface StoppingRecord {
  type: 'stopping';
  pid: number;
  at: number;
  signal: string;
}

/** The worker's cleanup of a deleted or expired job started, or finished (`phase`). */
export interface CleanupRecord {
  type: 'cleanup';
  phase: 'start' | 'finish';
  jobId: string;
  pid: number;
  at: number;
}

export type ExecutionRecord = StartRecord | FinishRecord | AbortRecord | StoppingRecord | CleanupRecord;

export interface ExecutionLog {
  record(record: ExecutionRecord): void;
  close(): void;
}

/** Appends records to `path`, or does nothing when `path` is null. */
export function openExecutionLog(path: string | null): ExecutionLog {
  if (path === null) return { record() {}, close() {} };
  let fd: number | null = openSync(path, 'a');
  return {
    record(record) {
      if (fd === null) return;
      writeSync(fd, `${JSON.stringify(record)}\n`);
    },
    close() {
      if (fd === null) return;
      closeSync(fd);
      fd = null;
    },
  };
}

/** Every complete record of the file (a partial last line, being written right now, is left out). */
export function readExecutionLog(path: string): ExecutionRecord[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, 'utf8');
  const end = text.lastIndexOf('\n');
  if (end < 0) return [];
  return text
    .slice(0, end)
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as ExecutionRecord);
}

/** The abort reason of a run's signal: the host aborts with `DOMException('Job <reason>')`. */
export function abortReason(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  const message = reason instanceof Error ? reason.message : String(reason);
  return message.replace(/^Job /, '');
}
