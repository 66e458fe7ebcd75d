// The package builds on its own: tsup on a copy of this package beside a copy of @jobs/core's sources with no
// dist/ (as in a fresh clone, before core is built), the declarations taking core's types from its sources.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const copy = mkdtempSync(join(tmpdir(), 'jobs-client-build-'));
afterAll(() => rmSync(copy, { recursive: true, force: true }));

/** Copies `path` (relative to the repository root) into the copy; links stay links (pnpm's are relative). */
function take(path: string): void {
  cpSync(join(root, path), join(copy, path), { recursive: true, verbatimSymlinks: true });
}

describe('@jobs/client', () => {
  it("builds on its own, before @jobs/core's dist exists", () => {
    for (const file of ['tsconfig.base.json', 'tsup.config.base.ts']) take(file);
    for (const path of ['src', 'package.json', 'tsconfig.json', 'node_modules'])
      take(`packages/core/${path}`);
    for (const path of ['src', 'package.json', 'tsconfig.json', 'tsup.config.ts', 'node_modules']) {
      take(`packages/client/${path}`);
    }
    // The packages' links point into the root node_modules (tsup and the .pnpm store): the real one.
    symlinkSync(join(root, 'node_modules'), join(copy, 'node_modules'), 'dir');
    expect(existsSync(join(copy, 'packages/core/dist'))).toBe(false);

    const packageDir = join(copy, 'packages/client');
    const build = spawnSync(process.execPath, [join(root, 'node_modules/tsup/dist/cli-default.js')], {
      cwd: packageDir,
      encoding: 'utf8',
    });
    expect(build.status, `${build.stdout}\n${build.stderr}`).toBe(0);
    for (const file of ['index.js', 'index.cjs', 'index.d.ts', 'index.d.cts', 'cli.js']) {
      expect(existsSync(join(packageDir, 'dist', file)), file).toBe(true);
    }
    // Core's types are imported from the peer dependency, not inlined from its sources.
    const declarations = readFileSync(join(packageDir, 'dist/index.d.ts'), 'utf8');
    expect(declarations).toContain("from '@jobs/core'");
    expect(declarations).not.toContain('core/src');
  }, 120_000);
});
