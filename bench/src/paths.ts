import { fileURLToPath } from 'node:url';

/** The bench package's directory (children run with it as working directory, so `--import tsx` resolves). */
export const BENCH_ROOT = fileURLToPath(new URL('..', import.meta.url));
