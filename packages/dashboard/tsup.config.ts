import { fileURLToPath } from 'node:url';
import { packageBuild } from '../../tsup.config.base';
import { updateDashboardScript } from './build-dashboard-script';

// The dashboard's browser script is bundled first (see build-dashboard-script.ts); under CI the committed bundle
// is only checked.
export default async () => {
  await updateDashboardScript(fileURLToPath(new URL('.', import.meta.url)), { check: !!process.env.CI });
  return packageBuild();
};
