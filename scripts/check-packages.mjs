#!/usr/bin/env node
// Checks every publishable package exactly as it would be published: `pnpm pack` (which rewrites `workspace:`
// ranges and adds the root LICENSE), then on that tarball `publint --strict`, `attw` (are the types wrong) and
// our own manifest rules: required fields, files that exist, no `workspace:` range left, and every module the
// built code or its declarations import is declared as a dependency or peer dependency.
//
// Builds nothing: run `pnpm build` first (it fails when a package's dist is missing or older than its sources).
// Usage: node scripts/check-packages.mjs [package-dir ...]   e.g. `node scripts/check-packages.mjs core memory`
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const ts = require('typescript');
const bin = (name) => join(root, 'node_modules', '.bin', name);

const wanted = process.argv.slice(2);
const dirs = readdirSync(join(root, 'packages')).filter((dir) => {
  const file = join(root, 'packages', dir, 'package.json');
  if (!existsSync(file)) return false;
  return !JSON.parse(readFileSync(file, 'utf8')).private && (wanted.length === 0 || wanted.includes(dir));
});
if (wanted.length > 0 && dirs.length !== wanted.length) {
  console.error(`Unknown package dir among: ${wanted.join(', ')}`);
  process.exit(2);
}

const builtins = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));
/** A runtime's own module: Node's (also those that exist only with the prefix, like `node:sqlite`) or Bun's. */
const isBuiltin = (specifier) =>
  builtins.has(specifier) || specifier.startsWith('node:') || specifier.startsWith('bun:');

/**
 * The modules a built JavaScript file loads when it is loaded (static imports, top-level `require`), as
 * opposed to those it loads on demand (`import()` or `require` inside a function: a driver chosen by an option).
 */
function eagerImports(text, fileName) {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, false);
  const eager = new Set();
  const visit = (node, inFunction) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier) {
      if (ts.isStringLiteral(node.moduleSpecifier)) eager.add(node.moduleSpecifier.text);
    } else if (
      !inFunction &&
      ts.isCallExpression(node) &&
      (node.expression.kind === ts.SyntaxKind.ImportKeyword ||
        (ts.isIdentifier(node.expression) && node.expression.text === 'require')) &&
      node.arguments[0] &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      eager.add(node.arguments[0].text);
    }
    ts.forEachChild(node, (child) => visit(child, inFunction || ts.isFunctionLike(node)));
  };
  visit(source, false);
  return eager;
}
const packageName = (specifier) =>
  specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0];
const typesPackage = (name) => `@types/${name.startsWith('@') ? name.slice(1).replace('/', '__') : name}`;

const workspaceVersions = new Map(
  readdirSync(join(root, 'packages'))
    .filter((dir) => existsSync(join(root, 'packages', dir, 'package.json')))
    .map((dir) => JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8')))
    .map((pkg) => [pkg.name, pkg.version]),
);

/** Runs a command, resolves with its exit code and combined output. */
function run(command, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output: output.trim() }));
  });
}

function newestMtime(dir, accept) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path, accept));
    else if (accept(entry.name)) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** Does the installed copy of `name` (as seen from the package's directory) ship its own declarations? */
function hasOwnTypes(packageDir, name) {
  for (let dir = packageDir; ; dir = dirname(dir)) {
    const manifestPath = join(dir, 'node_modules', name, 'package.json');
    if (existsSync(manifestPath)) {
      const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
      if (manifest.types || manifest.typings) return true;
      if (JSON.stringify(manifest.exports ?? {}).includes('"types"')) return true;
      return existsSync(join(dirname(manifestPath), 'index.d.ts'));
    }
    if (dirname(dir) === dir) return false;
  }
}

async function check(dir, scratch) {
  const packageDir = join(root, 'packages', dir);
  const problems = [];
  const fail = (message) => problems.push(message);

  // 1. A build to check, newer than the sources.
  const distDir = join(packageDir, 'dist');
  if (!existsSync(distDir)) return { problems: ['no dist/: run `pnpm build` first'], notes: [] };
  const source = newestMtime(
    join(packageDir, 'src'),
    (name) => name.endsWith('.ts') && !name.includes('.test.'),
  );
  const oldestDist = Math.min(
    ...readdirSync(distDir)
      .filter((name) => name.startsWith('index.'))
      .map((name) => statSync(join(distDir, name)).mtimeMs),
  );
  if (source > oldestDist) fail('dist/ is older than src/: run `pnpm build` first');

  // 2. The tarball pnpm would publish.
  const out = join(scratch, dir);
  const packed = JSON.parse(
    execFileSync('pnpm', ['pack', '--json', '--pack-destination', out], {
      cwd: packageDir,
      encoding: 'utf8',
    }),
  );
  const tarball = packed.filename;
  const files = new Set(packed.files.map((file) => file.path));
  execFileSync('tar', ['-xzf', tarball, '-C', out]);
  const unpacked = join(out, 'package');
  const manifest = JSON.parse(readFileSync(join(unpacked, 'package.json'), 'utf8'));

  // 3. publint --strict and attw on that tarball (attw without the registry: our packages have no @types).
  const [publint, attw] = await Promise.all([
    run(bin('publint'), ['run', '--strict', '--pack', 'false', tarball]),
    run(bin('attw'), [tarball, '--format', 'ascii', '--no-emoji', '--no-color', '--no-definitely-typed']),
  ]);
  const notes = [];
  if (publint.code !== 0) fail(`publint --strict failed:\n${publint.output}`);
  else notes.push(`publint --strict: ${publint.output.split('\n').at(-1)}`);
  if (attw.code !== 0) fail(`attw failed:\n${attw.output}`);
  else
    notes.push(
      `attw: ${
        attw.output
          .split('\n')
          .find((line) => /no problems/i.test(line))
          ?.trim() ?? 'ok'
      }`,
    );

  // 4. Manifest rules.
  const expect = (condition, message) => condition || fail(message);
  expect(manifest.name === `@jobs/${dir}`, `name should be @jobs/${dir}`);
  expect(typeof manifest.description === 'string' && manifest.description.length > 0, 'description missing');
  expect(manifest.license === 'MIT', 'license should be MIT');
  expect(manifest.type === 'module', 'type should be module');
  expect(manifest.sideEffects === false, 'sideEffects should be false');
  expect(typeof manifest.engines?.node === 'string', 'engines.node missing');
  expect(
    manifest.repository?.url && manifest.repository.directory === `packages/${dir}`,
    `repository.url and repository.directory (packages/${dir}) missing`,
  );
  expect(Array.isArray(manifest.keywords) && manifest.keywords.length > 0, 'keywords missing');
  expect(manifest.publishConfig?.access === 'public', 'publishConfig.access should be public');
  for (const name of ['README.md', 'LICENSE', 'package.json'])
    expect(files.has(name), `${name} not in the tarball`);
  for (const name of files) {
    expect(!/(^|\/)(src|test)\/|\.test\.|\.tsbuildinfo$/.test(name), `${name} should not be published`);
  }

  const targets = [manifest.main, manifest.module, manifest.types];
  const main = manifest.exports?.['.'];
  for (const condition of ['import', 'require']) {
    const entry = main?.[condition];
    if (!entry?.types || !entry?.default || Object.keys(entry)[0] !== 'types') {
      fail(`exports["."].${condition} needs "types" first, then "default"`);
      continue;
    }
    targets.push(entry.types, entry.default);
  }
  expect(main?.import?.types?.endsWith('.d.ts'), 'exports["."].import.types should be a .d.ts');
  expect(main?.require?.types?.endsWith('.d.cts'), 'exports["."].require.types should be a .d.cts');
  expect(main?.require?.default?.endsWith('.cjs'), 'exports["."].require.default should be a .cjs');
  for (const [name, target] of Object.entries(manifest.bin ?? {})) {
    targets.push(target);
    const path = join(unpacked, target);
    if (existsSync(path)) {
      expect(readFileSync(path, 'utf8').startsWith('#!/usr/bin/env node'), `bin ${name} has no shebang`);
    }
  }
  for (const target of targets) {
    if (typeof target !== 'string') fail('main, module and types are required');
    else expect(files.has(target.replace(/^\.\//, '')), `${target} is referenced but not in the tarball`);
  }

  const fields = ['dependencies', 'peerDependencies', 'optionalDependencies', 'devDependencies'];
  for (const field of fields) {
    for (const [name, range] of Object.entries(manifest[field] ?? {})) {
      expect(!String(range).startsWith('workspace:'), `${field}.${name} is still ${range} in the tarball`);
    }
  }
  for (const field of ['dependencies', 'peerDependencies']) {
    for (const [name, range] of Object.entries(manifest[field] ?? {})) {
      if (!name.startsWith('@jobs/')) continue;
      expect(
        range === `^${workspaceVersions.get(name)}`,
        `${field}.${name} is ${range}, expected ^${workspaceVersions.get(name)}`,
      );
    }
  }

  // 5. What the published code imports must be declared: runtime imports as dependencies or (required) peer
  // dependencies; declaration imports too, and an untyped package's @types as a dependency or peer.
  const deps = new Set(Object.keys(manifest.dependencies ?? {}));
  const peers = new Set(Object.keys(manifest.peerDependencies ?? {}));
  const optionalPeers = new Set(
    Object.entries(manifest.peerDependenciesMeta ?? {})
      .filter(([, meta]) => meta?.optional)
      .map(([name]) => name),
  );
  // A subpath entry (`@jobs/testing/telemetry`) is loaded only by an app that imports it: that import is the
  // opt-in, so the entry's own files may load an optional peer it exists for. The root entry may not.
  const optInFiles = new Set(
    Object.entries(manifest.exports ?? {})
      .filter(([subpath]) => subpath !== '.' && subpath !== './package.json')
      .flatMap(([, target]) => JSON.stringify(target).match(/"\.\/[^"]+"/g) ?? [])
      .map((quoted) => quoted.slice(3, -1)),
  );
  for (const file of files) {
    if (!/\.(js|cjs|mjs|d\.ts|d\.cts|d\.mts)$/.test(file)) continue;
    const declarations = /\.d\.[cm]?ts$/.test(file);
    const text = readFileSync(join(unpacked, file), 'utf8');
    const specifiers = ts.preProcessFile(text, true, true).importedFiles.map((entry) => entry.fileName);
    const eager = declarations ? new Set() : eagerImports(text, file);
    for (const specifier of new Set(specifiers)) {
      if (specifier.startsWith('.') || isBuiltin(specifier)) continue;
      const name = packageName(specifier);
      if (deps.has(name)) continue;
      if (!peers.has(name)) {
        fail(`${file} imports ${specifier}, but ${name} is neither a dependency nor a peer dependency`);
        continue;
      }
      // An optional peer may be loaded on demand (a driver the user chose), never when the package loads.
      if (!declarations && optionalPeers.has(name) && eager.has(specifier) && !optInFiles.has(file)) {
        fail(`${file} imports ${specifier} when it loads, but ${name} is an optional peer dependency`);
      }
      if (declarations && !hasOwnTypes(packageDir, name)) {
        const types = typesPackage(name);
        expect(
          deps.has(types) || peers.has(types),
          `${file} imports ${specifier}, which has no types of its own: declare ${types} (an optional peer)`,
        );
      }
    }
  }
  return { problems, notes };
}

const scratch = mkdtempSync(join(tmpdir(), 'jobs-check-packages-'));
let failed = 0;
try {
  // attw and publint are CPU bound: one package per core.
  const results = new Map();
  const queue = [...dirs];
  const workers = Array.from({ length: Math.min(dirs.length, availableParallelism()) }, async () => {
    for (let dir = queue.shift(); dir !== undefined; dir = queue.shift()) {
      results.set(
        dir,
        await check(dir, scratch).catch((error) => ({ problems: [String(error)], notes: [] })),
      );
    }
  });
  await Promise.all(workers);
  for (const dir of dirs) {
    const { problems, notes } = results.get(dir);
    console.log(`@jobs/${dir}`);
    for (const note of notes) console.log(`  ${note}`);
    if (problems.length === 0) console.log('  ok');
    for (const problem of problems) console.log(`  ✗ ${problem.replaceAll('\n', '\n    ')}`);
    if (problems.length > 0) failed++;
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
console.log(
  failed === 0
    ? `\n${dirs.length} packages checked: publint --strict, attw and the manifest rules pass.`
    : `\n${failed} of ${dirs.length} packages have problems.`,
);
process.exit(failed === 0 ? 0 : 1);
