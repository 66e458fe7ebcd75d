import { fileURLToPath } from 'node:url';
import { packageBuild } from '../../tsup.config.base';
import { updateReferenceScript } from './build-reference-script';

// The reference page's browser script is bundled first (see build-reference-script.ts); under CI the
// committed bundle is only checked.
export default async () => {
  await updateReferenceScript(fileURLToPath(new URL('.', import.meta.url)), { check: !!process.env.CI });
  return packageBuild();
};
