import { randomUUID } from 'node:crypto';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Context, EventBridgeEvent } from 'aws-lambda';
import { inject } from 'vitest';
import { LANES, type LaneName } from '#contracts/lanes.js';
import { localDynamoDbClient, localSqsClient } from '#local/emulators/clients.js';
import { startLocalEventBus } from '#local/emulators/event-bus.js';
import {
  type LaneQueues,
  type ProvisionedQueue,
  provisionDeadLetterQueue,
  provisionLanes,
  provisionLifecycleTable,
} from '#local/stack/provision.js';
import { createDocumentClient } from '#wiring/clients.js';

/**
 * Provisions a fresh table and lanes on the emulators and sets the environment
 * variables the deployed Lambda handler modules read at load, with the SDK's
 * `AWS_ENDPOINT_URL_*` pointing at the emulators and the given bus endpoint.
 * Import the handlers after calling it.
 */
export async function prepareDeployedHandlerEnvironment(options: {
  readonly prefix: string;
  readonly environment: string;
  readonly lane: LaneName;
  readonly maxReceiveCount: number;
  readonly busEndpoint: string;
  readonly busName: string;
}): Promise<{
  readonly tableName: string;
  readonly queues: Record<LaneName, LaneQueues>;
  /** The runner event ingest's DLQ (`RUNNER_EVENT_DLQ_URL`). */
  readonly runnerEventDeadLetterQueue: ProvisionedQueue;
}> {
  const dynamo = localDynamoDbClient(inject('dynamoEndpoint'));
  const sqs = localSqsClient(inject('sqsEndpoint'));
  const prefix = `${options.prefix}${randomUUID().slice(0, 6)}-`;
  const tableName = `${prefix}lifecycle`;
  await provisionLifecycleTable(dynamo, tableName);
  const queues = await provisionLanes(sqs, {
    prefix,
    maxReceiveCount: options.maxReceiveCount,
    visibilityTimeoutSeconds: 1,
  });
  const runnerEventDeadLetterQueue = await provisionDeadLetterQueue(sqs, `${prefix}runner-events-dlq`);
  Object.assign(process.env, {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_ENDPOINT_URL_DYNAMODB: inject('dynamoEndpoint'),
    AWS_ENDPOINT_URL_SQS: inject('sqsEndpoint'),
    AWS_ENDPOINT_URL_EVENTBRIDGE: options.busEndpoint,
    POWERTOOLS_LOG_LEVEL: 'ERROR',
    RUNLANE_ENVIRONMENT: options.environment,
    LIFECYCLE_TABLE_NAME: tableName,
    LANE_NAME: options.lane,
    LANE_DLQ_URL: queues[options.lane].dlqUrl,
    LANE_MAX_RECEIVE_COUNT: String(options.maxReceiveCount),
    ATTEMPT_LOCK_FALLBACK_MS: '30000',
    TELEMETRY_BUS_NAME: options.busName,
    RETENTION_DAYS: '30',
    COMMAND_QUEUE_URLS: JSON.stringify(
      Object.fromEntries(LANES.map((l) => [l.name, queues[l.name].queueUrl])),
    ),
    API_MAX_BODY_BYTES: '32768',
    RUNNER_EVENT_DLQ_URL: runnerEventDeadLetterQueue.queueUrl,
    SUPERVISOR_STALE_MINUTES: '15',
  });
  sqs.destroy();
  return { tableName, queues, runnerEventDeadLetterQueue };
}

/** A deployed agent-event ingest as the telemetry bus's rule invokes it. */
export type AgentEventHandler<Result> = (
  event: EventBridgeEvent<string, unknown>,
  context: Context,
) => Promise<Result>;

/** The emulators and local bus one telemetry handler runs against (see `startTelemetryHandlerEnvironment`). */
export interface TelemetryHandlerEnvironment {
  /** The lifecycle table the handler reads and writes. */
  readonly tableName: string;
  /** The runner event ingest's DLQ (`RUNNER_EVENT_DLQ_URL`). */
  readonly runnerEventDeadLetterQueue: ProvisionedQueue;
  /** On DynamoDB Local: for the stores a test seeds and reads the handler's table through. */
  readonly documents: DynamoDBDocumentClient;
  /** On the SQS emulator: for the DLQs the handler writes to. */
  readonly sqs: SQSClient;
  /** Stops the bus and destroys the clients. */
  stop(): Promise<void>;
}

/**
 * `prepareDeployedHandlerEnvironment` for a function outside the command lanes (an agent-event
 * ingest, a scheduled check), with a local bus started for it to publish to. Such a function
 * reads no lane setting, so the lane ones are the same for all of them. Set any variable of its
 * own, then import the handler.
 */
export async function startTelemetryHandlerEnvironment(options: {
  /** Starts the table and queue names, so a failed run's leftovers say which file made them. */
  readonly prefix: string;
  readonly environment: string;
}): Promise<TelemetryHandlerEnvironment> {
  const bus = await startLocalEventBus();
  let prepared: Awaited<ReturnType<typeof prepareDeployedHandlerEnvironment>>;
  try {
    prepared = await prepareDeployedHandlerEnvironment({
      prefix: options.prefix,
      environment: options.environment,
      lane: 'runtime-agent-message-posted',
      maxReceiveCount: 3,
      busEndpoint: bus.endpoint,
      busName: 'runlane-e2e-telemetry',
    });
  } catch (error) {
    await bus.stop();
    throw error;
  }
  const documents = createDocumentClient(localDynamoDbClient(inject('dynamoEndpoint')));
  const sqs = localSqsClient(inject('sqsEndpoint'));
  return {
    tableName: prepared.tableName,
    runnerEventDeadLetterQueue: prepared.runnerEventDeadLetterQueue,
    documents,
    sqs,
    stop: async () => {
      await bus.stop();
      documents.destroy();
      sqs.destroy();
    },
  };
}
