import { packageBuild } from '../../tsup.config.base';

// Two entries: the suites, and `telemetry` (needs the OpenTelemetry SDK, which only its users install).
export default packageBuild({ entry: ['src/index.ts', 'src/telemetry.ts'] });
