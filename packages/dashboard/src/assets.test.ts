import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compileDashboardScript, dashboardScriptModule } from '../build-dashboard-script.js';
import { DASHBOARD_SCRIPT } from './script.generated.js';

describe("the dashboard's script", () => {
  it('is the bundle of ./browser as it is now (run `pnpm build` in packages/dashboard after editing it)', async () => {
    const packageDir = fileURLToPath(new URL('..', import.meta.url));
    const script = await compileDashboardScript(packageDir);
    expect(dashboardScriptModule(script)).toBe(dashboardScriptModule(DASHBOARD_SCRIPT));
  });

  it('is a classic script that parses, with no module syntax', () => {
    expect(() => new Function(DASHBOARD_SCRIPT)).not.toThrow();
    expect(DASHBOARD_SCRIPT).not.toMatch(/^\s*(import|export)\b/m);
  });
});
