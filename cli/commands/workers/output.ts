import { WorkerConfigError } from '#common/worker-config.js';
import { WorkerApiRequestError } from './api-client.js';
import { WorkerConfigFileExistsError, WorkerConfigOutputError } from './config-file.js';

/** Queue depth of each site's task lane, as the API reports it. */
export type QueueDepth = Record<string, { visible: number; inFlight: number }>;

export type WorkerStatus = 'online' | 'offline' | 'stopped';

/** `online`, or OFFLINE / STOPPED to stand out in a table. */
export function statusLabel(status: WorkerStatus): string {
  return status === 'online' ? status : status.toUpperCase();
}

/** A worker's offline backlog: `3 (1200 B)`. */
export function backlog(value: { files: number; bytes: number }): string {
  return `${value.files} (${value.bytes} B)`;
}

/** `4 (lab 3 visible / 1 in flight, edge 0 visible / 0 in flight)`. */
export function depthLine(depth: QueueDepth, total: number): string {
  const sites = Object.entries(depth).map(
    ([site, counts]) => `${site} ${counts.visible} visible / ${counts.inFlight} in flight`,
  );
  return sites.length === 0 ? `${total} (no site lane configured)` : `${total} (${sites.join(', ')})`;
}

/**
 * Runs a `runlane workers` command: a failure it expects (the API or the stack could not be read,
 * the config does not validate, --out exists) is printed as `runlane workers: …`, exit 1.
 */
export async function reportingFailures(run: () => Promise<number>): Promise<number> {
  try {
    return await run();
  } catch (error) {
    if (
      error instanceof WorkerApiRequestError ||
      error instanceof WorkerConfigOutputError ||
      error instanceof WorkerConfigError ||
      error instanceof WorkerConfigFileExistsError
    ) {
      console.error(`runlane workers: ${error.message}`);
      return 1;
    }
    throw error;
  }
}
