import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoDbDelegationFlagStore } from '#adapters/dynamodb/worker-delegation-flag.js';
import { DynamoDbWorkerRegistry } from '#adapters/dynamodb/worker-registry.js';
import { DynamoDbWorkerTaskStore } from '#adapters/dynamodb/worker-task-store.js';
import { SqsWorkerTaskQueue } from '#adapters/sqs/worker-task-queue.js';
import type { WorkerApiOptions } from '#core/api/worker-api.js';
import type { WorkerDelegationPorts } from '#core/commands/ports.js';
import { readWorkerSettings, type WorkerSettings } from '#core/workers/settings.js';

export interface WorkerWiring {
  readonly environment: string;
  readonly tableName: string;
  /**
   * Worker delegation settings.
   * @default readWorkerSettings(process.env), read when the factory runs (at module load in the handlers)
   */
  readonly settings?: WorkerSettings;
  /** @default 30 */
  readonly retentionDays?: number;
}

/**
 * The worker delegation adapters on one table and the site lanes — the one place the API, the
 * lane worker and the tests build them, so all three run the same code.
 *
 * @example
 * const workers = buildWorkerAdapters({ environment: 'prod', tableName }, { documents, sqs });
 * const api = createCommandApi({ ..., workers: workers.api });
 */
export function buildWorkerAdapters(
  wiring: WorkerWiring,
  clients: { readonly documents: DynamoDBDocumentClient; readonly sqs: SQSClient },
) {
  const settings = wiring.settings ?? readWorkerSettings(process.env);
  const table = {
    client: clients.documents,
    tableName: wiring.tableName,
    environment: wiring.environment,
    ...(wiring.retentionDays !== undefined ? { retentionDays: wiring.retentionDays } : {}),
  };
  const tasks = new DynamoDbWorkerTaskStore(table);
  const registry = new DynamoDbWorkerRegistry(table);
  const queue = new SqsWorkerTaskQueue({ client: clients.sqs, queueUrls: settings.taskQueueUrls });
  const delegation = new DynamoDbDelegationFlagStore({
    client: clients.documents,
    tableName: wiring.tableName,
    environment: wiring.environment,
    defaultEnabled: settings.delegationEnabledDefault,
  });
  const api: WorkerApiOptions = {
    environment: wiring.environment,
    tasks,
    registry,
    queue,
    delegation,
    staleMultiple: settings.heartbeatStaleMultiple,
    stuckTaskAfterMs: settings.stuckTaskAfterMs,
  };
  const delegationPorts: WorkerDelegationPorts = {
    environment: wiring.environment,
    tasks,
    queue,
    registry,
    flag: delegation,
    staleMultiple: settings.heartbeatStaleMultiple,
    resultDeadlineMs: settings.resultDeadlineMs,
  };
  return { settings, tasks, registry, queue, delegation, api, delegationPorts };
}
