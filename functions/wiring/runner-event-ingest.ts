import { DynamoDbRunnerEventStore } from '#adapters/dynamodb/runner-event-store.js';
import { DynamoDbSupervisorEventStore } from '#adapters/dynamodb/supervisor-event-store.js';
import type { StructuredLogger } from '#adapters/powertools/structured-logger.js';
import { SqsRunnerEventDeadLetterSink } from '#adapters/sqs/runner-event-dead-letter-sink.js';
import { type Clock, systemClock } from '#core/base/clock.js';
import { createRunnerEventIngest } from '#core/runner/event-ingest.js';
import type { MetricsRecorder } from '#core/telemetry/ports.js';
import type { AwsClients } from './clients.js';

export interface RunnerEventIngestSettings {
  /**
   * The environment whose bus this ingest serves; events naming another are
   * refused. Undefined accepts every environment (the local stack).
   */
  readonly environment: string | undefined;
  readonly tableName: string;
  readonly deadLetterQueueUrl: string;
  readonly retentionDays: number;
}

/**
 * Wires the agent event ingest (runner and supervisor events) to DynamoDB and SQS (or the emulators): the one
 * place the Lambda handler, the local stack and the tests build it.
 *
 * @example
 * const ingest = buildRunnerEventIngest(settings, awsClients(), logger, { metrics });
 * await ingest(eventBridgeEvent);
 */
export function buildRunnerEventIngest(
  settings: RunnerEventIngestSettings,
  clients: Pick<AwsClients, 'documents' | 'sqs'>,
  logger: StructuredLogger,
  overrides: { readonly metrics?: MetricsRecorder; readonly clock?: Clock } = {},
) {
  return createRunnerEventIngest({
    store: new DynamoDbRunnerEventStore({
      client: clients.documents,
      tableName: settings.tableName,
      retentionDays: settings.retentionDays,
      clock: overrides.clock ?? systemClock,
    }),
    supervisorStore: new DynamoDbSupervisorEventStore({
      client: clients.documents,
      tableName: settings.tableName,
      retentionDays: settings.retentionDays,
      clock: overrides.clock ?? systemClock,
    }),
    deadLetters: new SqsRunnerEventDeadLetterSink({
      client: clients.sqs,
      queueUrl: settings.deadLetterQueueUrl,
    }),
    logger,
    clock: overrides.clock ?? systemClock,
    ...(overrides.metrics ? { metrics: overrides.metrics } : {}),
    ...(settings.environment !== undefined ? { expectedEnvironment: settings.environment } : {}),
  });
}
