import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import * as core from './index.js';

/** Every name the package exports (types included), with its kind, as the TypeScript compiler sees it. */
function publicApi(): string {
  const entry = fileURLToPath(new URL('./index.ts', import.meta.url));
  const program = ts.createProgram([entry], {
    module: ts.ModuleKind.ESNext,
    target: ts.ScriptTarget.ES2022,
    strict: true,
  });
  const checker = program.getTypeChecker();
  const module = checker.getSymbolAtLocation(program.getSourceFile(entry)!)!;
  return checker
    .getExportsOfModule(module)
    .map((symbol) => {
      const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
      const kind = target.flags & ts.SymbolFlags.Value ? 'value' : 'type';
      return `${symbol.name} (${kind})`;
    })
    .sort()
    .join('\n');
}

describe('the public API of @jobs/core', () => {
  it('changes only on purpose: update public-api.txt (vitest -u) and say why in the changeset', async () => {
    await expect(`${publicApi()}\n`).toMatchFileSnapshot('./public-api.txt');
  }, 60_000);

  it('exports no internal helper of the runtime', () => {
    for (const name of [
      'Batcher',
      'publishItems',
      'LeaseKeeper',
      'ProgressReporter',
      'execute',
      'runCleanup',
      'waitForWake',
      'toIssues',
    ]) {
      expect(core).not.toHaveProperty(name);
    }
  });
});
