/**
 * Creates the lifecycle table and the lane queues in the local emulators from
 * the same definitions the CDK stacks read (`contracts/tables.ts`,
 * `contracts/lanes.ts`). Every function is idempotent.
 */
import {
  type AttributeDefinition,
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  type DynamoDBClient,
  type GlobalSecondaryIndex,
  type KeySchemaElement,
  type Projection,
  ResourceInUseException,
  type TableDescription,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  SetQueueAttributesCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import {
  deadLetterQueueName,
  LANES,
  type LaneDefinition,
  laneRedriveReceiveCount,
} from '#contracts/lanes.js';
import { LIFECYCLE_KEY_ATTRIBUTE_TYPES, LIFECYCLE_TABLE } from '#contracts/tables.js';
import { workerSiteSchema, workerTaskQueueName } from '#contracts/worker-contract.js';
import { InvalidOptionsError, ProvisioningMismatchError } from '../errors.js';

/** 14 days, the SQS maximum: dead letters wait for an operator. */
export const DLQ_RETENTION_SECONDS = 1_209_600;

export interface ProvisionedTable {
  readonly tableName: string;
  readonly tableArn: string;
  /** False when the table already existed with the expected layout. */
  readonly created: boolean;
}

/** What each index of `LIFECYCLE_TABLE` projects, as the CDK construct declares it. */
const INDEX_PROJECTIONS: Record<keyof typeof LIFECYCLE_TABLE.indexes, Projection['ProjectionType']> = {
  byCorrelation: 'KEYS_ONLY',
  reviewQueue: 'ALL',
  openRuns: 'ALL',
};

/**
 * Creates the lifecycle table (PAY_PER_REQUEST, `pk`/`sk`, the sparse
 * `byCorrelation` KEYS_ONLY, `reviewQueue` ALL and `openRuns` ALL indexes) and
 * enables TTL on `expiresAt`. If the table exists, checks its keys and indexes
 * match, adds an index it lacks (a data folder from before that index; DynamoDB
 * backfills it from the items) and makes sure TTL is enabled.
 *
 * DynamoDB Local accepts and reports the TTL setting; whether it ever deletes
 * expired items is not something tests should rely on.
 *
 * @example
 * await provisionLifecycleTable(localDynamoDbClient(endpoint), 'runlane-lifecycle');
 */
export async function provisionLifecycleTable(
  dynamo: DynamoDBClient,
  tableName: string,
): Promise<ProvisionedTable> {
  let created = true;
  let description: TableDescription | undefined;
  try {
    const result = await dynamo.send(new CreateTableCommand(lifecycleTableInput(tableName)));
    description = result.TableDescription;
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
    created = false;
  }
  if (description?.TableStatus !== 'ACTIVE') {
    await waitUntilTableExists({ client: dynamo, maxWaitTime: 60, minDelay: 1 }, { TableName: tableName });
    description = (await dynamo.send(new DescribeTableCommand({ TableName: tableName }))).Table;
  }
  if (!created) {
    const { problems, missing } = layoutProblems(description);
    if (problems.length > 0) throw new ProvisioningMismatchError(`Table ${tableName}`, problems);
    for (const index of missing) await addIndex(dynamo, tableName, index);
  }
  await ensureTimeToLive(dynamo, tableName);
  return { tableName, tableArn: description?.TableArn ?? '', created };
}

function lifecycleTableInput(tableName: string) {
  const { partitionKey, sortKey, indexes } = LIFECYCLE_TABLE;
  const keyAttributes = new Set<string>([partitionKey, sortKey]);
  for (const index of Object.values(indexes)) {
    keyAttributes.add(index.partitionKey);
    keyAttributes.add(index.sortKey);
  }
  const AttributeDefinitions: AttributeDefinition[] = [...keyAttributes].map((name) => ({
    AttributeName: name,
    AttributeType: attributeType(name),
  }));
  const GlobalSecondaryIndexes: GlobalSecondaryIndex[] = Object.entries(indexes).map(([key, index]) => ({
    IndexName: index.name,
    KeySchema: keySchema(index.partitionKey, index.sortKey),
    Projection: { ProjectionType: INDEX_PROJECTIONS[key as keyof typeof indexes] },
  }));
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST' as const,
    AttributeDefinitions,
    KeySchema: keySchema(partitionKey, sortKey),
    GlobalSecondaryIndexes,
  };
}

function attributeType(name: string): 'S' | 'N' {
  const type = LIFECYCLE_KEY_ATTRIBUTE_TYPES[name];
  if (!type) throw new Error(`LIFECYCLE_KEY_ATTRIBUTE_TYPES has no type for key attribute ${name}`);
  return type;
}

function keySchema(partitionKey: string, sortKey: string): KeySchemaElement[] {
  return [
    { AttributeName: partitionKey, KeyType: 'HASH' },
    { AttributeName: sortKey, KeyType: 'RANGE' },
  ];
}

/**
 * How an existing table differs from `LIFECYCLE_TABLE`: `missing` lists the indexes it lacks (they
 * can be added in place), `problems` everything else (they cannot).
 */
function layoutProblems(table: TableDescription | undefined): {
  problems: string[];
  missing: GlobalSecondaryIndex[];
} {
  const expected = lifecycleTableInput(table?.TableName ?? '');
  const problems: string[] = [];
  const missing: GlobalSecondaryIndex[] = [];
  const describeKeys = (keys: readonly KeySchemaElement[] | undefined): string =>
    (keys ?? []).map((key) => `${key.AttributeName}:${key.KeyType}`).join(',');
  if (describeKeys(table?.KeySchema) !== describeKeys(expected.KeySchema)) {
    problems.push(
      `key schema is ${describeKeys(table?.KeySchema)}, expected ${describeKeys(expected.KeySchema)}`,
    );
  }
  for (const index of expected.GlobalSecondaryIndexes) {
    const actual = table?.GlobalSecondaryIndexes?.find(
      (candidate) => candidate.IndexName === index.IndexName,
    );
    if (!actual) {
      missing.push(index);
      continue;
    }
    if (describeKeys(actual.KeySchema) !== describeKeys(index.KeySchema)) {
      problems.push(
        `index ${index.IndexName} keys are ${describeKeys(actual.KeySchema)}, expected ${describeKeys(index.KeySchema)}`,
      );
    }
    if (actual.Projection?.ProjectionType !== index.Projection?.ProjectionType) {
      problems.push(
        `index ${index.IndexName} projects ${actual.Projection?.ProjectionType}, expected ${index.Projection?.ProjectionType}`,
      );
    }
  }
  // A table without its key schema is another table: report its missing indexes too, add none.
  if (problems.some((problem) => problem.startsWith('key schema'))) {
    problems.push(...missing.map((index) => `index ${index.IndexName} is missing`));
    missing.length = 0;
  }
  return { problems, missing };
}

/** Adds one index to an existing table (one per UpdateTable) and waits until it is ACTIVE. */
async function addIndex(
  dynamo: DynamoDBClient,
  tableName: string,
  index: GlobalSecondaryIndex,
): Promise<void> {
  const keyNames = (index.KeySchema ?? []).map((key) => key.AttributeName ?? '');
  await dynamo.send(
    new UpdateTableCommand({
      TableName: tableName,
      AttributeDefinitions: keyNames.map((name) => ({
        AttributeName: name,
        AttributeType: attributeType(name),
      })),
      GlobalSecondaryIndexUpdates: [{ Create: index }],
    }),
  );
  const deadline = Date.now() + 60_000;
  for (;;) {
    const table = (await dynamo.send(new DescribeTableCommand({ TableName: tableName }))).Table;
    const status = table?.GlobalSecondaryIndexes?.find((i) => i.IndexName === index.IndexName)?.IndexStatus;
    if (status === 'ACTIVE' && table?.TableStatus === 'ACTIVE') return;
    if (Date.now() > deadline) {
      throw new ProvisioningMismatchError(`Table ${tableName}`, [
        `index ${index.IndexName} was added but is still ${status ?? 'absent'} after 60 s`,
      ]);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function ensureTimeToLive(dynamo: DynamoDBClient, tableName: string): Promise<void> {
  const attribute = LIFECYCLE_TABLE.timeToLiveAttribute;
  const current = await dynamo.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
  const description = current.TimeToLiveDescription;
  if (description?.TimeToLiveStatus === 'ENABLED' && description.AttributeName === attribute) return;
  await dynamo.send(
    new UpdateTimeToLiveCommand({
      TableName: tableName,
      TimeToLiveSpecification: { AttributeName: attribute, Enabled: true },
    }),
  );
}

// ---------------------------------------------------------------------------
// Lanes

export interface LaneQueues {
  /** Physical queue name (with the prefix, if any). */
  readonly queueName: string;
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly dlqName: string;
  readonly dlqUrl: string;
  readonly dlqArn: string;
}

export interface ProvisionLanesOptions<Lanes extends readonly LaneDefinition[]> {
  /** Prepended to every queue name, for test isolation. @default '' */
  readonly prefix?: string;
  /** Receives before SQS moves a message to the lane's DLQ (1–1000). */
  readonly maxReceiveCount: number;
  /** Lane queue visibility timeout (0–43200). */
  readonly visibilityTimeoutSeconds: number;
  /** @default LANES */
  readonly lanes?: Lanes;
}

/** SQS queue names: 1–80 characters, alphanumerics, hyphens and underscores. */
const QUEUE_NAME = /^[A-Za-z0-9_-]{1,80}$/;

/**
 * Creates, for each lane, its queue and its dead-letter queue (named by
 * `deadLetterQueueName`, retention 14 days) with a RedrivePolicy after
 * `maxReceiveCount` receives. An existing queue is brought to these attributes.
 *
 * @example
 * const lanes = await provisionLanes(sqs, { prefix: 'test-1-', maxReceiveCount: 3, visibilityTimeoutSeconds: 1 });
 * lanes['runtime-ingestion-completed'].queueUrl;
 */
export async function provisionLanes<const Lanes extends readonly LaneDefinition[] = typeof LANES>(
  sqs: SQSClient,
  options: ProvisionLanesOptions<Lanes>,
): Promise<Record<Lanes[number]['name'], LaneQueues>> {
  const prefix = options.prefix ?? '';
  const lanes: readonly LaneDefinition[] = options.lanes ?? LANES;
  checkLaneOptions(prefix, lanes, options);

  const entries = await Promise.all(
    lanes.map(async (lane): Promise<[string, LaneQueues]> => {
      const queueName = `${prefix}${lane.name}`;
      const dlqName = deadLetterQueueName(queueName);
      const dlq = await ensureQueue(sqs, dlqName, { MessageRetentionPeriod: String(DLQ_RETENTION_SECONDS) });
      const queue = await ensureQueue(sqs, queueName, {
        VisibilityTimeout: String(options.visibilityTimeoutSeconds),
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: dlq.arn,
          maxReceiveCount: laneRedriveReceiveCount(options.maxReceiveCount),
        }),
      });
      return [
        lane.name,
        { queueName, queueUrl: queue.url, queueArn: queue.arn, dlqName, dlqUrl: dlq.url, dlqArn: dlq.arn },
      ];
    }),
  );
  return Object.fromEntries(entries) as Record<Lanes[number]['name'], LaneQueues>;
}

function checkLaneOptions(
  prefix: string,
  lanes: readonly LaneDefinition[],
  options: { maxReceiveCount: number; visibilityTimeoutSeconds: number },
): void {
  const problems: string[] = [];
  if (
    !Number.isInteger(options.maxReceiveCount) ||
    options.maxReceiveCount < 1 ||
    options.maxReceiveCount > 1000
  ) {
    problems.push(`maxReceiveCount must be an integer from 1 to 1000, got ${options.maxReceiveCount}`);
  }
  const visibility = options.visibilityTimeoutSeconds;
  if (!Number.isInteger(visibility) || visibility < 0 || visibility > 43_200) {
    problems.push(`visibilityTimeoutSeconds must be an integer from 0 to 43200, got ${visibility}`);
  }
  for (const lane of lanes) {
    const name = deadLetterQueueName(`${prefix}${lane.name}`);
    if (!QUEUE_NAME.test(name)) {
      problems.push(`queue name ${name} is not a valid SQS name (1-80 of A-Z a-z 0-9 _ -)`);
    }
  }
  if (problems.length > 0) throw new InvalidOptionsError('provisionLanes', problems);
}

/**
 * Creates one worker task lane per site (seed 004), named as in AWS
 * (`workerTaskQueueName(environment, site)` = `runlane-<env>-worker-tasks-<site>`), each with its
 * dead-letter queue (`…-dlq`, 14 days) after `maxReceiveCount` receives. Workers long-poll these
 * queues themselves; nothing in the local stack consumes them. Idempotent.
 *
 * @example
 * const sites = await provisionWorkerTaskLanes(sqs, { environment: 'local', sites: ['lab'], maxReceiveCount: 5, visibilityTimeoutSeconds: 30 });
 * sites.lab.queueUrl; // http://127.0.0.1:4566/000000000000/runlane-local-worker-tasks-lab
 */
export async function provisionWorkerTaskLanes(
  sqs: SQSClient,
  options: {
    readonly environment: string;
    readonly sites: readonly string[];
    readonly maxReceiveCount: number;
    readonly visibilityTimeoutSeconds: number;
  },
): Promise<Record<string, LaneQueues>> {
  const problems: string[] = [];
  for (const site of options.sites) {
    const checked = workerSiteSchema.safeParse(site);
    if (!checked.success) problems.push(`site "${site}" ${checked.error.issues[0]?.message ?? 'is invalid'}`);
    else if (!QUEUE_NAME.test(deadLetterQueueName(workerTaskQueueName(options.environment, site)))) {
      problems.push(`queue name of site "${site}" is not a valid SQS name (1-80 of A-Z a-z 0-9 _ -)`);
    }
  }
  if (new Set(options.sites).size !== options.sites.length) problems.push('sites must not repeat');
  if (problems.length > 0) throw new InvalidOptionsError('provisionWorkerTaskLanes', problems);
  const entries = await Promise.all(
    options.sites.map(async (site): Promise<[string, LaneQueues]> => {
      const queueName = workerTaskQueueName(options.environment, site);
      const dlqName = deadLetterQueueName(queueName);
      const dlq = await ensureQueue(sqs, dlqName, { MessageRetentionPeriod: String(DLQ_RETENTION_SECONDS) });
      const queue = await ensureQueue(sqs, queueName, {
        VisibilityTimeout: String(options.visibilityTimeoutSeconds),
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: dlq.arn,
          maxReceiveCount: options.maxReceiveCount,
        }),
      });
      return [
        site,
        { queueName, queueUrl: queue.url, queueArn: queue.arn, dlqName, dlqUrl: dlq.url, dlqArn: dlq.arn },
      ];
    }),
  );
  return Object.fromEntries(entries.sort(([a], [b]) => a.localeCompare(b)));
}

export interface ProvisionedQueue {
  readonly queueName: string;
  readonly queueUrl: string;
  readonly queueArn: string;
}

/**
 * Creates one dead-letter queue without a redrive of its own (14-day
 * retention), e.g. the runner event ingest DLQ. Idempotent.
 *
 * @example
 * const dlq = await provisionDeadLetterQueue(sqs, 'runlane-local-runner-events-dlq');
 */
export async function provisionDeadLetterQueue(sqs: SQSClient, queueName: string): Promise<ProvisionedQueue> {
  if (!QUEUE_NAME.test(queueName)) {
    throw new InvalidOptionsError('provisionDeadLetterQueue', [
      `queue name "${queueName}" must be 1-80 characters of [A-Za-z0-9_-]`,
    ]);
  }
  const queue = await ensureQueue(sqs, queueName, { MessageRetentionPeriod: String(DLQ_RETENTION_SECONDS) });
  return { queueName, queueUrl: queue.url, queueArn: queue.arn };
}

async function ensureQueue(
  sqs: SQSClient,
  name: string,
  attributes: Record<string, string>,
): Promise<{ url: string; arn: string }> {
  let url: string | undefined;
  try {
    url = (await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }))).QueueUrl;
  } catch (error) {
    // Exists with other attributes: converge it.
    if (!isQueueNameExists(error)) throw error;
    url = (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
    await sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: attributes }));
  }
  if (!url) throw new Error(`CreateQueue ${name} returned no QueueUrl`);
  const result = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }),
  );
  const arn = result.Attributes?.QueueArn;
  if (!arn) throw new Error(`GetQueueAttributes ${name} returned no QueueArn`);
  return { url, arn };
}

/**
 * The SDK maps the error to `QueueNameExists` only when the service names it in
 * the JSON shape; with the legacy query-compatible code (fauxqs) the name is
 * `AWS.SimpleQueueService.QueueNameExists`.
 */
function isQueueNameExists(error: unknown): boolean {
  const name = (error as { name?: unknown } | undefined)?.name;
  return typeof name === 'string' && /(^|\.)QueueNameExists$/.test(name);
}
