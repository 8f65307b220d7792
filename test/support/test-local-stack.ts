import { type LocalStack, type LocalStackOptions, startLocalStack } from '../../local/stack.js';
import { environmentConfig } from '../infra/support.js';

/**
 * A local stack for one test file: every port chosen by the OS, nothing on disk, no sweep timer,
 * redelivery after 2 s, people-readable logs. `options` override any of that.
 */
export function startTestLocalStack(options: Partial<LocalStackOptions> = {}): Promise<LocalStack> {
  return startLocalStack({
    config: environmentConfig(),
    apiPort: 0,
    dynamoPort: 0,
    sqsPort: 0,
    eventsPort: 0,
    dataDir: undefined,
    visibilityTimeoutSeconds: 2,
    sweepIntervalMinutes: 0,
    pretty: true,
    ...options,
  });
}
