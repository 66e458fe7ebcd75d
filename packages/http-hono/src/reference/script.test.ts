import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compileReferenceScript, referenceScriptModule } from '../../build-reference-script.js';
import { referencePage } from './page.js';
import { REFERENCE_SCRIPT } from './script.generated.js';

describe('the reference page script', () => {
  it('is the bundle of ./browser as it is now (run `pnpm build` in packages/http-hono after editing it)', async () => {
    const packageDir = fileURLToPath(new URL('../..', import.meta.url));
    const script = await compileReferenceScript(packageDir);
    expect(referenceScriptModule(script)).toBe(referenceScriptModule(REFERENCE_SCRIPT));
  });

  it('is inlined in the page whole, as a classic script that parses', () => {
    const html = referencePage({ title: 'Jobs', specUrl: '/jobs/openapi.json' });
    const inlined = /<script>([\s\S]*)<\/script>/.exec(html)![1]!;
    expect(inlined).toBe(REFERENCE_SCRIPT);
    expect(() => new Function(inlined)).not.toThrow();
    expect(inlined).not.toMatch(/\bimport\b|\bexport\b/);
  });
});
