import type { Logger } from '@jobs/core';
import { pino } from 'pino';
import type { LogFormat, LogLevel } from './config.js';

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/**
 * The process's logger: pino's JSON lines on stdout for `json` (a pino logger is a `Logger` of @jobs/core as
 * it is, children too), else {@link createTextLogger}. `name` tells the processes of a cluster apart.
 */
export function createLogger(level: LogLevel, format: LogFormat, name: string): Logger {
  if (format === 'json') return pino({ level }).child({ process: name });
  return createTextLogger(level);
}

/**
 * One line per message: `12:03:04.567 warn  message {"field":"value"}`. Debug and info go to stdout, warnings
 * and errors to stderr. A log collector (or the cluster launcher, which prefixes each process's lines) reads
 * them as they are.
 */
export function createTextLogger(level: LogLevel, out = process.stdout, err = process.stderr): Logger {
  const write = (at: LogLevel, fields: Record<string, unknown>, message: string) => {
    if (ORDER[at] < ORDER[level]) return;
    const time = new Date().toISOString().slice(11, 23);
    const extra = Object.keys(fields).length > 0 ? ` ${safeJson(fields)}` : '';
    (ORDER[at] >= ORDER.warn ? err : out).write(`${time} ${at.padEnd(5)} ${message}${extra}\n`);
  };
  return {
    debug: (fields, message) => write('debug', fields, message),
    info: (fields, message) => write('info', fields, message),
    warn: (fields, message) => write('warn', fields, message),
    error: (fields, message) => write('error', fields, message),
  };
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_key, inner) => (inner instanceof Error ? inner.message : inner));
  } catch {
    return '"[unserializable]"';
  }
}
