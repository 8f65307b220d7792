/**
 * An isolated slice of the shared emulators for one integration test (file or
 * case): a uniquely named lifecycle table and uniquely prefixed lane queues,
 * with clients pointed at them and a cleanup that deletes them all.
 *
 * Needs the `integration` vitest project, whose globalSetup starts the
 * emulators and provides their endpoints.
 */
import { randomBytes } from 'node:crypto';
import { DeleteTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteQueueCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { inject } from 'vitest';
import { LANES, type LaneDefinition } from '#contracts/lanes.js';
import { localDynamoDbClient, localSqsClient } from '#local/emulators/clients.js';
import { type LaneQueues, provisionLanes, provisionLifecycleTable } from '#local/stack/provision.js';

export interface TestEnvironmentOptions<Lanes extends readonly LaneDefinition[]> {
  /** Receives before a lane message moves to its DLQ. @default 3 */
  readonly maxReceiveCount?: number;
  /** Lane queue visibility timeout; 1 s keeps retry tests fast. @default 1 */
  readonly visibilityTimeoutSeconds?: number;
  /** Which lanes to create queues for. @default LANES */
  readonly lanes?: Lanes;
  /** Create the lifecycle table; false for queue-only tests. @default true */
  readonly table?: boolean;
}

export interface TestEnvironment<LaneName extends string> {
  /** Unique to this environment; prefixes every queue name. */
  readonly id: string;
  readonly endpoints: { readonly dynamo: string; readonly sqs: string };
  readonly dynamo: DynamoDBClient;
  /** Marshalls plain objects; `removeUndefinedValues` on. */
  readonly documentClient: DynamoDBDocumentClient;
  readonly sqs: SQSClient;
  /** The lifecycle table's name, or undefined with `table: false`. */
  readonly tableName: string | undefined;
  /** By logical lane name (unprefixed). */
  readonly lanes: Readonly<Record<LaneName, LaneQueues>>;
  /** The queues of one lane; throws if that lane was not provisioned. */
  lane(name: LaneName): LaneQueues;
  /** Deletes the table and the queues and destroys the clients. Safe to call twice. */
  cleanup(): Promise<void>;
}

/**
 * @example
 * let env: TestEnvironment<LaneName>;
 * beforeAll(async () => { env = await createTestEnvironment({ maxReceiveCount: 2 }); });
 * afterAll(() => env.cleanup());
 *
 * it('...', async () => {
 *   const { queueUrl } = env.lane('runtime-ingestion-completed');
 *   await env.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: '{}' }));
 * });
 */
export async function createTestEnvironment<const Lanes extends readonly LaneDefinition[] = typeof LANES>(
  options: TestEnvironmentOptions<Lanes> = {},
): Promise<TestEnvironment<Lanes[number]['name']>> {
  const endpoints = { dynamo: inject('dynamoEndpoint'), sqs: inject('sqsEndpoint') };
  const id = `t${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const dynamo = localDynamoDbClient(endpoints.dynamo);
  const documentClient = DynamoDBDocumentClient.from(dynamo, {
    marshallOptions: { removeUndefinedValues: true },
  });
  const sqs = localSqsClient(endpoints.sqs);
  const tableName = options.table === false ? undefined : `runlane-lifecycle-${id}`;

  const [lanes] = await Promise.all([
    provisionLanes(sqs, {
      prefix: `${id}-`,
      maxReceiveCount: options.maxReceiveCount ?? 3,
      visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? 1,
      lanes: (options.lanes ?? LANES) as Lanes,
    }),
    tableName === undefined ? undefined : provisionLifecycleTable(dynamo, tableName),
  ]);

  let cleaned: Promise<void> | undefined;
  return {
    id,
    endpoints,
    dynamo,
    documentClient,
    sqs,
    tableName,
    lanes,
    lane(name) {
      const queues = (lanes as Partial<Record<string, LaneQueues>>)[name];
      if (!queues) throw new Error(`Lane ${name} was not provisioned in test environment ${id}`);
      return queues;
    },
    cleanup() {
      cleaned ??= (async () => {
        const queueUrls = Object.values<LaneQueues>(lanes).flatMap((queues) => [
          queues.queueUrl,
          queues.dlqUrl,
        ]);
        await Promise.allSettled([
          ...queueUrls.map((QueueUrl) => sqs.send(new DeleteQueueCommand({ QueueUrl }))),
          tableName === undefined ? undefined : dynamo.send(new DeleteTableCommand({ TableName: tableName })),
        ]);
        documentClient.destroy();
        dynamo.destroy();
        sqs.destroy();
      })();
      return cleaned;
    },
  };
}
