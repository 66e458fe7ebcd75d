// Bundles the reference page's browser script (src/reference/browser/, type-checked and linted like the
// rest) with esbuild into one ES2017 script, kept as a string in src/reference/script.generated.ts. That
// file is committed, so that the sources run as they are (Bun, Deno, vitest) and every runtime serves the
// page without reading a file. `pnpm build` (tsup.config.ts) writes it, and under CI only checks that it
// is up to date; src/reference/script.test.ts checks it too.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from 'esbuild';

const ENTRY = 'src/reference/browser/main.ts';
const OUTPUT = 'src/reference/script.generated.ts';

/** The browser script, bundled: one IIFE (strict mode), ES2017, no source map, nothing the HTML parser ends early. */
export async function compileReferenceScript(packageDir: string): Promise<string> {
  const result = await build({
    absWorkingDir: packageDir,
    entryPoints: [ENTRY],
    bundle: true,
    write: false,
    format: 'iife',
    target: 'es2017',
    platform: 'browser',
    charset: 'utf8',
    legalComments: 'none',
    logLevel: 'silent',
  });
  const script = result.outputFiles[0]?.text ?? '';
  if (/<\/script|<!--/i.test(script)) {
    throw new Error(`${ENTRY}: the bundle contains "</script" or "<!--", which would end the page's script.`);
  }
  return script;
}

/** The text of src/reference/script.generated.ts for `script`. */
export function referenceScriptModule(script: string): string {
  return [
    '// Generated from ./browser/ by build-reference-script.ts (run `pnpm build` in packages/http-hono).',
    '// Do not edit: edit ./browser/*.ts and rebuild.',
    '// biome-ignore-all lint: generated',
    '// biome-ignore-all format: generated (one line)',
    '',
    "/** The reference page's script: ./browser/main.ts bundled into one ES2017 script. */",
    `export const REFERENCE_SCRIPT = ${JSON.stringify(script)};`,
    '',
  ].join('\n');
}

/**
 * Writes src/reference/script.generated.ts when it differs from a fresh bundle; with `check`, throws
 * instead (CI: the committed file must be the one the sources give).
 */
export async function updateReferenceScript(packageDir: string, options: { check?: boolean } = {}) {
  const path = join(packageDir, OUTPUT);
  const wanted = referenceScriptModule(await compileReferenceScript(packageDir));
  const current = await readFile(path, 'utf8').catch(() => null);
  if (current === wanted) return;
  if (options.check) {
    throw new Error(`${OUTPUT} is not up to date with ${ENTRY}: run \`pnpm build\` and commit it.`);
  }
  await writeFile(path, wanted);
}
