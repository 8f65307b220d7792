import { DynamoDbClientKeyStore } from '#adapters/dynamodb/client-key-store.js';
import { DynamoDbLifecycleStore, InvalidCursorError } from '#adapters/dynamodb/lifecycle-store.js';
import { SqsCommandQueue } from '#adapters/sqs/command-queue.js';
import type { ApiLogger } from '#core/api/command-api.js';
import { createCommandApi } from '#core/api/command-api.js';
import { type Clock, systemClock } from '#core/base/clock.js';
import { type MetricsRecorder, noopMetricsRecorder } from '#core/telemetry/ports.js';
import type { WorkerSettings } from '#core/workers/settings.js';
import type { AwsClients } from './clients.js';
import { buildWorkerAdapters } from './worker-api.js';

export interface ApiSettings {
  readonly tableName: string;
  /** Lane name → queue URL. */
  readonly queueUrls: Readonly<Record<string, string>>;
  readonly maxBodyBytes: number;
  /**
   * The environment's name (`RUNLANE_ENVIRONMENT`): worker envelopes and heartbeats must name it.
   * @default 'local'
   */
  readonly environment?: string;
  /**
   * Worker delegation settings (`WORKER_*`, worker-settings.ts).
   * @default readWorkerSettings(process.env)
   */
  readonly workers?: WorkerSettings;
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
  const workers = buildWorkerAdapters(
    {
      environment: settings.environment ?? 'local',
      tableName: settings.tableName,
      ...(settings.workers ? { settings: settings.workers } : {}),
    },
    clients,
  );
  return createCommandApi({
    queue: new SqsCommandQueue({ client: clients.sqs, queueUrls: settings.queueUrls }),
    clientKeys: new DynamoDbClientKeyStore(table),
    runs: new DynamoDbLifecycleStore(table),
    clock,
    logger,
    maxBodyBytes: settings.maxBodyBytes,
    isInvalidCursorError: (error) => error instanceof InvalidCursorError,
    metrics,
    workers: workers.api,
  });
}
