import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { type ProvisionedQueue, provisionDeadLetterQueue } from '#local/stack/provision.js';
import { buildRunnerEventIngest } from '#wiring/runner-event-ingest.js';
import { type DeadLetterContents, deadLetterContents, receiveDeadLetterMessages } from './dead-letters.js';
import { aRecordingLogger } from './factories.js';
import { RecordingMetrics } from './recording-metrics.js';
import { createTestEnvironment } from './test-environment.js';

/** The agent event ingest as the Lambda handler builds it, on a table and a DLQ of its own on the emulators. */
export interface RunnerEventIngestOnEmulators {
  /** On DynamoDB Local: for the store a test reads back what the ingest stored. */
  readonly documents: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly deadLetterQueue: ProvisionedQueue;
  /**
   * A fresh ingest with the metrics it records, so each test counts only its own. `documents`
   * replaces the table's client (one on an unreachable endpoint, say).
   */
  anIngest(documents?: DynamoDBDocumentClient): {
    ingest: ReturnType<typeof buildRunnerEventIngest>;
    metrics: RecordingMetrics;
  };
  /** What the ingest has dead-lettered so far (received, not deleted). */
  receiveDeadLetters(): Promise<DeadLetterContents[]>;
  /** Deletes the table and destroys the clients. */
  cleanup(): Promise<void>;
}

export async function startRunnerEventIngestOnEmulators(options: {
  /** The environment whose bus the ingest serves. */
  readonly environment: string;
  /** The DLQ's name, after the test environment's unique prefix. */
  readonly deadLetterQueueName: string;
}): Promise<RunnerEventIngestOnEmulators> {
  const env = await createTestEnvironment({ lanes: [] });
  const deadLetterQueue = await provisionDeadLetterQueue(env.sqs, `${env.id}-${options.deadLetterQueueName}`);
  const tableName = env.tableName ?? '';
  return {
    documents: env.documentClient,
    tableName,
    deadLetterQueue,
    anIngest: (documents = env.documentClient) => {
      const metrics = new RecordingMetrics();
      const ingest = buildRunnerEventIngest(
        {
          environment: options.environment,
          tableName,
          deadLetterQueueUrl: deadLetterQueue.queueUrl,
          retentionDays: 30,
        },
        { documents, sqs: env.sqs },
        aRecordingLogger(),
        { metrics },
      );
      return { ingest, metrics };
    },
    receiveDeadLetters: async () =>
      deadLetterContents(await receiveDeadLetterMessages(env.sqs, deadLetterQueue.queueUrl)),
    cleanup: () => env.cleanup(),
  };
}
