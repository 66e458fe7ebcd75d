import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createGzip } from 'node:zlib';
import { implement } from '@jobs/core';
import { compress, ping } from './endpoints.js';

export const pingWorker = implement(ping, (input) => ({ pong: input.message, at: new Date().toISOString() }));

const MIB = 1024 * 1024;
const WORDS =
  'the job is queued then running then succeeded a worker claims it with a lease and renews the lease while it runs progress is stored and the client polls or waits or listens to events until the output is ready'.split(
    ' ',
  );

const SLICE = 4 * 1024;

function xorshift(state: { x: number }): number {
  let x = state.x;
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  state.x = x >>> 0;
  return state.x;
}

/** One MiB of text-like words: the pool the chunks are cut from. */
function textPool(random: { x: number }): Buffer {
  const pool = Buffer.allocUnsafe(MIB);
  let offset = 0;
  while (offset < MIB) {
    const x = xorshift(random);
    const separator = x % 23 === 0 ? '.\n' : x % 7 === 0 ? ', ' : ' ';
    offset += pool.write(WORDS[x % WORDS.length]! + separator, offset, 'latin1');
  }
  return pool;
}

/** One MiB made of 4 KiB slices from random places of the pool: compressible like text, and fast to make. */
function nextChunk(pool: Buffer, random: { x: number }): Buffer {
  const chunk = Buffer.allocUnsafe(MIB);
  for (let offset = 0; offset < MIB; offset += SLICE) {
    const from = xorshift(random) % (pool.byteLength - SLICE);
    pool.copy(chunk, offset, from, from + SLICE);
  }
  return chunk;
}

export const compressWorker = implement(compress, {
  // A rough guess (ms per MiB grows with the level); the ETA is refined from the real progress.
  estimate: (input) => input.megabytes * (10 + input.level * 8),
  run: async (input, ctx) => {
    const started = Date.now();
    const gzip = createGzip({ level: input.level });
    const hash = createHash('sha256');
    let outputBytes = 0;
    gzip.on('data', (data: Buffer) => {
      hash.update(data);
      outputBytes += data.byteLength;
    });
    const ended = once(gzip, 'end');
    ended.catch(() => {}); // awaited below; this only keeps an early abort from being "unhandled"
    const abort = () =>
      gzip.destroy(ctx.signal.reason instanceof Error ? ctx.signal.reason : new Error('aborted'));
    ctx.signal.addEventListener('abort', abort, { once: true });
    try {
      const random = { x: input.seed || 1 };
      const pool = textPool(random);
      for (let i = 0; i < input.megabytes; i++) {
        ctx.signal.throwIfAborted();
        if (!gzip.write(nextChunk(pool, random))) await once(gzip, 'drain', { signal: ctx.signal });
        ctx.progress((i + 1) / input.megabytes, `${i + 1} of ${input.megabytes} MiB compressed`);
        // Give the event loop a turn per MiB: runtimes whose zlib compresses inside write() (Deno) would
        // otherwise starve requests, heartbeats and timers until the job ends.
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
      gzip.end();
      await ended;
    } finally {
      ctx.signal.removeEventListener('abort', abort);
    }
    const inputBytes = input.megabytes * MIB;
    return {
      inputBytes,
      outputBytes,
      ratio: Math.round((outputBytes / inputBytes) * 10_000) / 10_000,
      sha256: hash.digest('hex'),
      durationMs: Date.now() - started,
    };
  },
});
