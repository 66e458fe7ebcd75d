#!/usr/bin/env node
// `pnpm jobs …` at the repository root: the `jobs` command of this checkout, as the package's `bin` runs it
// after an install. Builds @jobs/client first when dist/cli.js is missing or older than a source of it (the
// build's output goes to stderr, so that stdout stays the command's), then runs it with the arguments given.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const cli = join(packageDir, 'dist', 'cli.js');

/** Newest modification time of the package's build inputs (its sources, not its tests). */
function newestSource() {
  const sources = readdirSync(join(packageDir, 'src'), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts') && !entry.name.includes('.test.'))
    .map((entry) => join(entry.parentPath ?? entry.path, entry.name));
  const inputs = [...sources, join(packageDir, 'package.json'), join(packageDir, 'tsup.config.ts')];
  return Math.max(...inputs.map((file) => statSync(file).mtimeMs));
}

if (!existsSync(cli) || statSync(cli).mtimeMs < newestSource()) {
  console.error('Building @jobs/client (its dist/ is missing or older than its sources) ...');
  const build = spawnSync('pnpm', ['--silent', '--filter', '@jobs/client', 'build', '--silent'], {
    cwd: packageDir,
    stdio: ['ignore', process.stderr, process.stderr],
  });
  if (build.status !== 0) {
    console.error(build.error ? String(build.error) : 'The build of @jobs/client failed.');
    process.exit(build.status || 1);
  }
}
// The command reads process.argv.slice(2): the arguments given to this script.
await import(pathToFileURL(cli).href);
