/**
 * What the stack provisions on the emulators, from the same definitions as the CDK stack: the
 * lifecycle table, one queue (and DLQ) per lane, one task lane per worker site, and the DLQs the
 * runner and worker event ingests send refused events to.
 */
import { RUNNER_EVENTS_RULE, WORKER_EVENTS_RULE } from '#contracts/event-rules.js';
import { deadLetterQueueName, type LaneName } from '#contracts/lanes.js';
import { type DataFolder, provisioningFailure } from './data-folder.js';
import type { StackClients } from './emulators.js';
import { LOCAL_ENVIRONMENT, LOCAL_QUEUE_PREFIX, LOCAL_TABLE_NAME } from './options.js';
import {
  type LaneQueues,
  type ProvisionedQueue,
  provisionDeadLetterQueue,
  provisionLanes,
  provisionLifecycleTable,
  provisionWorkerTaskLanes,
} from './provision.js';
import { LOCAL_WORKER_TASK_VISIBILITY_SECONDS, type ResolvedLocalWorkerOptions } from './workers.js';

export interface StackResourceSettings {
  /** Receives before a lane dead-letters a command. */
  readonly maxReceiveCount: number;
  readonly visibilityTimeoutSeconds: number;
  readonly workers: ResolvedLocalWorkerOptions;
}

export interface StackResources {
  readonly lanes: Record<LaneName, LaneQueues>;
  readonly runnerEventDlq: ProvisionedQueue;
  /** Site → its task lane. */
  readonly workerLanes: Record<string, LaneQueues>;
  readonly workerEventDlq: ProvisionedQueue;
}

/**
 * Creates what is missing and checks what exists. Something kept in the data folder with another
 * layout throws `DataFolderError`.
 */
export async function provisionStackResources(
  clients: Pick<StackClients, 'dynamo' | 'sqs'>,
  settings: StackResourceSettings,
  folder: DataFolder,
): Promise<StackResources> {
  const { dynamo, sqs } = clients;
  try {
    await provisionLifecycleTable(dynamo, LOCAL_TABLE_NAME);
    const lanes = await provisionLanes(sqs, {
      prefix: LOCAL_QUEUE_PREFIX,
      maxReceiveCount: settings.maxReceiveCount,
      visibilityTimeoutSeconds: settings.visibilityTimeoutSeconds,
    });
    const runnerEventDlq = await provisionDeadLetterQueue(
      sqs,
      deadLetterQueueName(`${LOCAL_QUEUE_PREFIX}${RUNNER_EVENTS_RULE.name}`),
    );
    const workerLanes = await provisionWorkerTaskLanes(sqs, {
      environment: LOCAL_ENVIRONMENT,
      sites: settings.workers.sites,
      maxReceiveCount: settings.workers.maxReceiveCount,
      visibilityTimeoutSeconds: LOCAL_WORKER_TASK_VISIBILITY_SECONDS,
    });
    const workerEventDlq = await provisionDeadLetterQueue(
      sqs,
      deadLetterQueueName(`${LOCAL_QUEUE_PREFIX}${WORKER_EVENTS_RULE.name}`),
    );
    return { lanes, runnerEventDlq, workerLanes, workerEventDlq };
  } catch (error) {
    throw provisioningFailure(folder, error);
  }
}
