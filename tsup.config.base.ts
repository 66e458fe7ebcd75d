import { defineConfig, type Options } from 'tsup';

/** The one build config every package shares: ESM + CJS + declarations from src/index.ts. */
export function packageBuild(overrides: Options = {}) {
  return defineConfig({
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    clean: true,
    sourcemap: true,
    target: 'es2022',
    ...overrides,
  });
}
