import { randomUUID } from 'node:crypto';
import {
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { inject } from 'vitest';
import { DynamoDbActionExecutor } from '#adapters/dynamodb/action-executor.js';
import { DynamoDbLifecycleStore } from '#adapters/dynamodb/lifecycle-store.js';
import { LANES, type LaneName } from '#contracts/lanes.js';
import { DEFAULT_COMMAND_SETTINGS } from '#core/commands/types.js';
import type { BatchTelemetry, TelemetryPublisher } from '#core/telemetry/ports.js';
import { localDynamoDbClient, localEventBridgeClient, localSqsClient } from '#local/emulators/clients.js';
import { LocalEventSourceMapping } from '#local/emulators/event-source-mapping.js';
import { provisionLanes, provisionLifecycleTable } from '#local/stack/provision.js';
import { buildCommandApi } from '#wiring/api.js';
import { createDocumentClient } from '#wiring/clients.js';
import { buildLaneWorker } from '#wiring/lane-worker.js';
import { buildReplaySteps } from '#wiring/replay.js';
import { aRecordingLogger } from './factories.js';

export interface PipelineOptions {
  readonly maxReceiveCount?: number;
  readonly visibilityTimeoutSeconds?: number;
  readonly functionTimeoutMs?: number;
  /** Attempt lock when the remaining time cannot be read. @default functionTimeoutMs */
  readonly fallbackLockMs?: number;
  readonly batchSize?: number;
  readonly maxConcurrency?: number;
  readonly workerOverrides?: Parameters<typeof buildLaneWorker>[3];
}

/** Telemetry publisher that keeps what it published, and can be told to fail. */
export class RecordingTelemetry implements TelemetryPublisher {
  public readonly published: BatchTelemetry[] = [];
  public failWith: Error | undefined;
  public async publishBatchSummary(summary: BatchTelemetry): Promise<void> {
    if (this.failWith) throw this.failWith;
    this.published.push(summary);
  }
}

export interface DeadLetter {
  readonly body: string;
  readonly attributes: Record<string, string>;
}

/**
 * The whole command path on the emulators: a uniquely named lifecycle table and
 * lane queues, the real lane worker behind the local event source mapping, and
 * the real API. Everything talks to DynamoDB Local and the SQS emulator over the wire.
 */
export async function createPipeline(options: PipelineOptions = {}) {
  const dynamo = localDynamoDbClient(inject('dynamoEndpoint'));
  const documents: DynamoDBDocumentClient = createDocumentClient(dynamo);
  const sqs: SQSClient = localSqsClient(inject('sqsEndpoint'));
  const prefix = `t${randomUUID().slice(0, 8)}-`;
  const tableName = `${prefix}lifecycle`;
  const maxReceiveCount = options.maxReceiveCount ?? 3;
  const visibilityTimeoutSeconds = options.visibilityTimeoutSeconds ?? 1;
  const functionTimeoutMs = options.functionTimeoutMs ?? 10_000;
  await provisionLifecycleTable(dynamo, tableName);
  const queues = await provisionLanes(sqs, { prefix, maxReceiveCount, visibilityTimeoutSeconds });
  const telemetry = new RecordingTelemetry();
  const logger = aRecordingLogger();
  const store = new DynamoDbLifecycleStore({ client: documents, tableName });
  const actions = new DynamoDbActionExecutor({ client: documents, tableName });

  const workers = new Map<string, ReturnType<typeof buildLaneWorker>>();
  function worker(laneName: LaneName) {
    let built = workers.get(laneName);
    if (!built) {
      built = buildLaneWorker(
        {
          environment: 'test',
          laneName,
          tableName,
          deadLetterQueueUrl: queues[laneName].dlqUrl,
          telemetryBusName: 'unused',
          maxReceiveCount,
          fallbackLockMs: options.fallbackLockMs ?? functionTimeoutMs,
          retentionDays: 30,
          commandSettings: DEFAULT_COMMAND_SETTINGS,
          // The lane's own queue (LANE_QUEUE_URL): hiding lock-held messages, sweep continuations.
          laneQueueUrl: queues[laneName].queueUrl,
        },
        { documents, sqs, eventBridge: undefined as never },
        logger,
        {
          telemetry,
          ...options.workerOverrides,
          // A lane override belongs to its own lane only.
          lane: options.workerOverrides?.lane?.name === laneName ? options.workerOverrides.lane : undefined,
        },
      );
      workers.set(laneName, built);
    }
    return built;
  }

  const mappings = new Map<string, LocalEventSourceMapping>();
  function mapping(laneName: LaneName): LocalEventSourceMapping {
    let existing = mappings.get(laneName);
    if (!existing) {
      const process = worker(laneName);
      existing = new LocalEventSourceMapping({
        sqs,
        queueUrl: queues[laneName].queueUrl,
        queueArn: queues[laneName].queueArn,
        handler: (event, context) => process(event.Records, context),
        batchSize: options.batchSize ?? 10,
        maximumBatchingWindowMs: 0,
        maxConcurrency: options.maxConcurrency ?? 1,
        functionTimeoutMs,
        functionName: `${laneName}-worker`,
        waitTimeSeconds: 0,
      });
      mappings.set(laneName, existing);
    }
    return existing;
  }

  const api = buildCommandApi(
    {
      tableName,
      queueUrls: Object.fromEntries(LANES.map((lane) => [lane.name, queues[lane.name].queueUrl])),
      maxBodyBytes: 32_768,
    },
    { documents, sqs },
    logger,
  );

  return {
    tableName,
    queues,
    store,
    actions,
    documents,
    dynamo,
    sqs,
    telemetry,
    logger,
    api,
    worker,
    mapping,
    async send(laneName: LaneName, body: string | object): Promise<string> {
      const result = await sqs.send(
        new SendMessageCommand({
          QueueUrl: queues[laneName].queueUrl,
          MessageBody: typeof body === 'string' ? body : JSON.stringify(body),
        }),
      );
      return result.MessageId ?? '';
    },
    /** Runs the lane's worker until its queue stays empty. */
    async drain(laneName: LaneName, timeoutMs = 30_000) {
      const report = await mapping(laneName).drain({ idleMs: 300, timeoutMs });
      if (!report.drained) throw new Error(`lane ${laneName} did not drain: ${JSON.stringify(report.depth)}`);
      return report;
    },
    /** Reads (and removes) everything in the lane's DLQ. */
    async deadLetters(laneName: LaneName): Promise<DeadLetter[]> {
      const letters: DeadLetter[] = [];
      for (;;) {
        const page = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queues[laneName].dlqUrl,
            MaxNumberOfMessages: 10,
            MessageAttributeNames: ['All'],
            WaitTimeSeconds: 0,
          }),
        );
        const messages = page.Messages ?? [];
        if (messages.length === 0) return letters;
        for (const message of messages) {
          const attributes: Record<string, string> = {};
          for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
            attributes[name] = value.StringValue ?? '';
          }
          letters.push({ body: message.Body ?? '', attributes });
          await sqs.send(
            new DeleteMessageCommand({
              QueueUrl: queues[laneName].dlqUrl,
              ReceiptHandle: message.ReceiptHandle,
            }),
          );
        }
      }
    },
    /** The replay drill's real steps on this pipeline's table and queues, publishing to a local bus. */
    replaySteps(eventBusEndpoint: string) {
      return buildReplaySteps(
        {
          tableName,
          busName: 'runlane-test-telemetry',
          retentionDays: 30,
          lanes: Object.fromEntries(
            LANES.map((l) => [l.name, { queueUrl: queues[l.name].queueUrl, dlqUrl: queues[l.name].dlqUrl }]),
          ),
        },
        { documents, sqs, eventBridge: localEventBridgeClient(eventBusEndpoint) },
      );
    },
    async stop() {
      await Promise.all([...mappings.values()].map((m) => m.stop()));
    },
  };
}

export type Pipeline = Awaited<ReturnType<typeof createPipeline>>;
