// How the `jobs-client` command shows a job's state in one line: a bar, the percentage, the worker's message, the
// elapsed time and the ETA. Pure functions of the job and the time; the reporters of cli-report.ts print them.
import { stripVTControlCharacters } from 'node:util';
import type { Job } from './wire.js';

const FULL = '█';
const EMPTY = '░';
const ELLIPSIS = '…';

/** The most of a worker's message that is looked at (the rest could never be shown anyway). */
const MESSAGE_LIMIT = 500;

/** `m:ss`, or `h:mm:ss` from an hour on; negative durations count as 0. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = String(total % 60).padStart(2, '0');
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${seconds}` : `${minutes}:${seconds}`;
}

/** A bar of `width` cells, `fraction` of them full. */
export function progressBar(fraction: number, width: number): string {
  const full = Math.round(clampFraction(fraction) * width);
  return FULL.repeat(full) + EMPTY.repeat(width - full);
}

/** Text from the server made safe for one terminal line: no escape sequences, no control characters. */
export function sanitize(text: string): string {
  const visible = Array.from(stripVTControlCharacters(text.slice(0, MESSAGE_LIMIT)), (char) =>
    unprintable(char.codePointAt(0)!) ? ' ' : char,
  );
  return visible.join('').replace(/\s+/g, ' ').trim();
}

/** C0 and C1 controls, DEL, and the bidirectional embeddings, overrides and isolates (they reorder a line). */
function unprintable(code: number): boolean {
  return (
    code < 0x20 ||
    (code >= 0x7f && code < 0xa0) ||
    (code >= 0x202a && code <= 0x202e) ||
    (code >= 0x2066 && code <= 0x2069)
  );
}

/**
 * Display width of `text`, never less than a terminal shows: one cell per code point below U+1100, per
 * box-drawing or block character (the bar) and for the ellipsis, two for every other (East Asian wide
 * characters and emoji take two; the rest is overestimated, never under).
 */
export function displayWidth(text: string): number {
  let width = 0;
  for (const char of text) {
    const code = char.codePointAt(0)!;
    width += code < 0x1100 || (code >= 0x2500 && code <= 0x259f) || code === 0x2026 ? 1 : 2;
  }
  return width;
}

/** `text` cut to at most `width` cells (by `displayWidth`), with an ellipsis when cut. */
export function truncate(text: string, width: number): string {
  if (displayWidth(text) <= width) return text;
  if (width <= 0) return '';
  let result = '';
  let used = 0;
  for (const char of text) {
    const cells = displayWidth(char);
    if (used + cells > width - 1) break;
    result += char;
    used += cells;
  }
  return result + ELLIPSIS;
}

/** What a line shows of a job at time `now`. */
export interface JobLine {
  /** queued, running, canceling (running with a cancel request), succeeded, failed or canceled. */
  status: string;
  /** 0 to 1 (a succeeded job is at 1). */
  fraction: number;
  /** The worker's message, or why the job failed or was canceled; sanitized. */
  message: string;
  /** `elapsed 0:04`, `in 0:07` (succeeded), `after 0:03` (failed, canceled). */
  time: string;
  /** `ETA 0:06` while not final and estimated (`estimatedCompletionAt`), `ETA now` once that passed; else ''. */
  eta: string;
}

export function describeJob(job: Job, now: number): JobLine {
  const final = job.status === 'succeeded' || job.status === 'failed' || job.status === 'canceled';
  const status = job.status === 'running' && job.cancelRequested ? 'canceling' : job.status;
  const fraction = job.status === 'succeeded' ? 1 : clampFraction(job.progress?.fraction ?? 0);
  const elapsed = formatDuration(
    (final ? (job.finishedAt?.getTime() ?? now) : now) - job.createdAt.getTime(),
  );
  const time = !final
    ? `elapsed ${elapsed}`
    : job.status === 'succeeded'
      ? `in ${elapsed}`
      : `after ${elapsed}`;
  let eta = '';
  if (!final && job.estimatedCompletionAt) {
    // Counted down in whole seconds, rounded up: `ETA 0:01` until the estimate passes.
    const remaining = Math.ceil((job.estimatedCompletionAt.getTime() - now) / 1000) * 1000;
    eta = remaining > 0 ? `ETA ${formatDuration(remaining)}` : 'ETA now';
  }
  return { status, fraction, message: sanitize(jobMessage(job)), time, eta };
}

function jobMessage(job: Job): string {
  const error = job.error;
  if (error && (job.status === 'failed' || job.status === 'canceled')) {
    const text = [error.message, error.detail, error.title].find((value) => typeof value === 'string');
    return typeof text === 'string' ? text : '';
  }
  return job.progress?.message ?? '';
}

function percentage(fraction: number): string {
  return `${Math.floor(fraction * 100)}%`;
}

/** One line without a bar, for logs: `running  40% · step 2 of 5 · elapsed 0:04 · ETA 0:06`. */
export function plainLine(line: JobLine): string {
  return [`${line.status} ${percentage(line.fraction)}`, line.message, line.time, line.eta]
    .filter(Boolean)
    .join(' · ');
}

/** Width of the bar on a terminal `columns` wide. */
export function barWidth(columns: number): number {
  return Math.max(10, Math.min(30, Math.floor(columns / 4)));
}

/** `running [████████░░░░░░░░░░░░]  40%` */
function barHead(line: JobLine, width: number): string {
  const bar = progressBar(line.fraction, barWidth(width));
  return `${line.status} [${bar}] ${percentage(line.fraction).padStart(4)}`;
}

/**
 * The live line: `running [████████░░░░░░░░░░░░]  40% · step 2 of 5 · elapsed 0:04 · ETA 0:06`, at most
 * `width` cells: the message is cut first, then left out, then the ETA, then the whole line is cut.
 */
export function liveLine(line: JobLine, width: number): string {
  const head = barHead(line, width);
  const tail = [line.time, line.eta].filter(Boolean).join(' · ');
  const room = width - displayWidth(`${head} ·  · ${tail}`);
  if (line.message && room >= 8) return `${head} · ${truncate(line.message, room)} · ${tail}`;
  const short = `${head} · ${tail}`;
  if (displayWidth(short) <= width) return short;
  return truncate(`${head} · ${line.time}`, width);
}

/** The last line of a finished job: like the live line, with the whole message (it is not redrawn). */
export function finalLine(line: JobLine, width: number): string {
  return [barHead(line, width), line.message, line.time].filter(Boolean).join(' · ');
}

function clampFraction(fraction: number): number {
  return Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
}
