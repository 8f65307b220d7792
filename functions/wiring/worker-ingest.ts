import { DynamoDbWorkerRegistry } from '#adapters/dynamodb/worker-registry.js';
import { DynamoDbWorkerTaskStore } from '#adapters/dynamodb/worker-task-store.js';
import type { StructuredLogger } from '#adapters/powertools/structured-logger.js';
import { SqsRunnerEventDeadLetterSink } from '#adapters/sqs/runner-event-dead-letter-sink.js';
import { type Clock, systemClock } from '#core/base/clock.js';
import type { RunnerEventDeadLetterSink } from '#core/runner/ports.js';
import { createWorkerEventIngest, type WorkerEventIngestResult } from '#core/workers/ingest.js';
import type { WorkerRegistry, WorkerTaskStore } from '#core/workers/ports.js';
import type { AwsClients } from './clients.js';

// What the handler and the local stack import with the builder; defined in the core.
export { WorkerResultNotYetAcceptedError } from '#core/workers/errors.js';
export type { WorkerEventIngestResult } from '#core/workers/ingest.js';

export interface WorkerEventIngestSettings {
  /** The environment whose bus this ingest serves; events naming another are refused (`wrong_environment`). */
  readonly environment: string;
  readonly tableName: string;
  /** `WORKER_EVENT_DLQ_URL`: where refused events go with their reason. */
  readonly deadLetterQueueUrl: string;
  /** Days registry entries, tasks and results are kept (TTL). */
  readonly retentionDays: number;
  /**
   * `WORKER_CLOCK_SKEW_SECONDS`, as the API's: a `ts` further from the event's receipt is refused (`clock_skew`).
   * @default DEFAULT_WORKER_CLOCK_SKEW_SECONDS (300)
   */
  readonly clockSkewSeconds?: number;
}

/**
 * Wires the worker event ingest (`createWorkerEventIngest`, target of the `worker-events` rule)
 * to DynamoDB and SQS (or the emulators): the one place the Lambda handler, the local stack and
 * the tests build it. `overrides` replace the clock or an adapter (tests).
 *
 * @example
 * const ingest = buildWorkerEventIngest(settings, awsClients(), logger);
 * await ingest(eventBridgeEvent); // { outcome: 'heartbeat_recorded', workerId: 'w-1' }
 */
export function buildWorkerEventIngest(
  settings: WorkerEventIngestSettings,
  clients: Pick<AwsClients, 'documents' | 'sqs'>,
  logger: StructuredLogger,
  overrides: {
    readonly clock?: Clock;
    readonly tasks?: Pick<WorkerTaskStore, 'recordResult'>;
    readonly registry?: Pick<WorkerRegistry, 'recordHeartbeat'>;
    readonly deadLetters?: RunnerEventDeadLetterSink;
  } = {},
): (event: unknown) => Promise<WorkerEventIngestResult> {
  const table = {
    client: clients.documents,
    tableName: settings.tableName,
    environment: settings.environment,
    retentionDays: settings.retentionDays,
  };
  return createWorkerEventIngest({
    environment: settings.environment,
    tasks: overrides.tasks ?? new DynamoDbWorkerTaskStore(table),
    registry: overrides.registry ?? new DynamoDbWorkerRegistry(table),
    clock: overrides.clock ?? systemClock,
    ...(settings.clockSkewSeconds !== undefined ? { clockSkewSeconds: settings.clockSkewSeconds } : {}),
    deadLetters:
      overrides.deadLetters ??
      new SqsRunnerEventDeadLetterSink({ client: clients.sqs, queueUrl: settings.deadLetterQueueUrl }),
    logger,
  });
}
