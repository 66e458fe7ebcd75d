// Bundles the dashboard's browser script (src/browser/, type-checked and linted like the rest) with esbuild into
// one ES2020 script, kept as a string in src/script.generated.ts. That file is committed, so that the sources run
// as they are (vitest, Bun, Deno) and every runtime serves the script without reading a file. `pnpm build`
// (tsup.config.ts) writes it, and under CI only checks that it is up to date; src/assets.test.ts checks it too.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from 'esbuild';

const ENTRY = 'src/browser/main.ts';
const OUTPUT = 'src/script.generated.ts';

/** The browser script, bundled: one IIFE (strict mode), ES2020, minified whitespace, no source map. */
export async function compileDashboardScript(packageDir: string): Promise<string> {
  const result = await build({
    absWorkingDir: packageDir,
    entryPoints: [ENTRY],
    bundle: true,
    write: false,
    format: 'iife',
    target: 'es2020',
    platform: 'browser',
    charset: 'utf8',
    legalComments: 'none',
    logLevel: 'silent',
  });
  return result.outputFiles[0]?.text ?? '';
}

/** The text of src/script.generated.ts for `script`. */
export function dashboardScriptModule(script: string): string {
  return [
    '// Generated from ./browser/ by build-dashboard-script.ts (run `pnpm build` in packages/dashboard).',
    '// Do not edit: edit ./browser/*.ts and rebuild.',
    '// biome-ignore-all lint: generated',
    '// biome-ignore-all format: generated (one line)',
    '',
    "/** The dashboard's script: ./browser/main.ts bundled into one ES2020 script. */",
    `export const DASHBOARD_SCRIPT = ${JSON.stringify(script)};`,
    '',
  ].join('\n');
}

/**
 * Writes src/script.generated.ts when it differs from a fresh bundle; with `check`, throws instead (CI: the
 * committed file must be the one the sources give).
 */
export async function updateDashboardScript(packageDir: string, options: { check?: boolean } = {}) {
  const path = join(packageDir, OUTPUT);
  const wanted = dashboardScriptModule(await compileDashboardScript(packageDir));
  const current = await readFile(path, 'utf8').catch(() => null);
  if (current === wanted) return;
  if (options.check) {
    throw new Error(`${OUTPUT} is not up to date with ${ENTRY}: run \`pnpm build\` and commit it.`);
  }
  await writeFile(path, wanted);
}
