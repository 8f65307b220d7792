/**
 * Checks made before anything starts, so a bad option or a taken port fails fast with its name
 * instead of leaving half a stack behind.
 */
import { createServer } from 'node:net';
import { LocalRuntimeError, PortInUseError } from '../errors.js';
import type { LocalStackOptions } from './options.js';

/**
 * Refuses options the stack cannot run with, then checks each fixed port is free.
 *
 * @example
 * await preflight(options); // throws PortInUseError('API', 3000) when something listens there
 */
export async function preflight(options: LocalStackOptions): Promise<void> {
  checkVisibilityTimeout(options);
  await assertPortsFree([
    ['API', options.apiPort],
    ['DynamoDB Local', options.dynamoPort],
    ['SQS emulator', options.sqsPort],
    ['EventBridge endpoint', options.eventsPort],
  ]);
}

function checkVisibilityTimeout(options: LocalStackOptions): void {
  const windowSeconds = options.config.lanes.maxBatchingWindowSeconds;
  if (options.visibilityTimeoutSeconds <= windowSeconds) {
    // A message would reappear while its batch is still being gathered, and SQS would redrive copies.
    throw new LocalRuntimeError(
      `the lane visibility timeout (${options.visibilityTimeoutSeconds} s) must be longer than the batching window (${windowSeconds} s)`,
    );
  }
}

/** Fails fast, naming the port, before anything is started. Port 0 (any free port) is not probed. */
async function assertPortsFree(
  ports: readonly (readonly [PortInUseError['service'], number])[],
): Promise<void> {
  for (const [service, port] of ports) {
    if (port === 0) continue;
    await new Promise<void>((resolvePort, reject) => {
      const probe = createServer();
      probe.once('error', (error: NodeJS.ErrnoException) =>
        reject(error.code === 'EADDRINUSE' ? new PortInUseError(service, port, { cause: error }) : error),
      );
      probe.listen(port, '127.0.0.1', () => probe.close(() => resolvePort()));
    });
  }
}
