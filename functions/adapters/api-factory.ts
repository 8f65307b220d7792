import type { ApiLogger } from '../core/api/command-api.js';
import { createCommandApi } from '../core/api/command-api.js';
import { type Clock, type MetricsRecorder, noopMetricsRecorder, systemClock } from '../core/ports.js';
import type { AwsClients } from './clients.js';
import { DynamoDbClientKeyStore } from './dynamodb-client-key-store.js';
import { DynamoDbLifecycleStore, InvalidCursorError } from './dynamodb-lifecycle-store.js';
import { SqsCommandQueue } from './sqs-command-queue.js';

export interface ApiSettings {
  readonly tableName: string;
  /** Lane name → queue URL. */
  readonly queueUrls: Readonly<Record<string, string>>;
  readonly maxBodyBytes: number;
}

/**
 * Wires the command API to AWS (or the emulators); shared by the Lambda, the local stack and the tests.
 * `metrics` receives `CommandsAccepted`; the Lambda handler passes a `PowertoolsMetricsRecorder`.
 */
export function buildCommandApi(
  settings: ApiSettings,
  clients: Pick<AwsClients, 'documents' | 'sqs'>,
  logger: ApiLogger,
  clock: Clock = systemClock,
  metrics: MetricsRecorder = noopMetricsRecorder,
) {
  const table = { client: clients.documents, tableName: settings.tableName };
  return createCommandApi({
    queue: new SqsCommandQueue({ client: clients.sqs, queueUrls: settings.queueUrls }),
    clientKeys: new DynamoDbClientKeyStore(table),
    runs: new DynamoDbLifecycleStore(table),
    clock,
    logger,
    maxBodyBytes: settings.maxBodyBytes,
    isInvalidCursorError: (error) => error instanceof InvalidCursorError,
    metrics,
  });
}
