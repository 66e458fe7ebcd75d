import type { Logger } from '@jobs/core';
import type { LogLevel } from './config.js';

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/**
 * One line per message: `12:03:04.567 warn  message {"field":"value"}`. Debug and info go to stdout, warnings
 * and errors to stderr. A log collector (or the cluster launcher, which prefixes each process's lines) reads
 * them as they are; swap in pino or similar for JSON logs, any object with the four methods fits.
 */
export function createLogger(level: LogLevel, out = process.stdout, err = process.stderr): Logger {
  const write = (at: LogLevel, message: string, fields?: Record<string, unknown>) => {
    if (ORDER[at] < ORDER[level]) return;
    const time = new Date().toISOString().slice(11, 23);
    const extra = fields && Object.keys(fields).length > 0 ? ` ${safeJson(fields)}` : '';
    (ORDER[at] >= ORDER.warn ? err : out).write(`${time} ${at.padEnd(5)} ${message}${extra}\n`);
  };
  return {
    debug: (message, fields) => write('debug', message, fields),
    info: (message, fields) => write('info', message, fields),
    warn: (message, fields) => write('warn', message, fields),
    error: (message, fields) => write('error', message, fields),
  };
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_key, inner) => (inner instanceof Error ? inner.message : inner));
  } catch {
    return '"[unserializable]"';
  }
}
