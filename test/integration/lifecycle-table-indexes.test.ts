import { randomUUID } from 'node:crypto';
import { CreateTableCommand, DeleteTableCommand, DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runToItem } from '#adapters/dynamodb/items.js';
import { DynamoDbOpenRuns } from '#adapters/dynamodb/open-runs.js';
import { newRun, takeOverRun } from '#core/lifecycle/run.js';
import { localDynamoDbClient } from '#local/emulators/clients.js';
import { type DynamoDbLocal, startDynamoDbLocal } from '#local/emulators/dynamodb-local.js';
import { provisionLifecycleTable } from '#local/stack/provision.js';
import { anEnvelope } from '../support/factories.js';

/** The `openRuns` index in the local provisioning: on a new table, and added to one from before it. */
describe('the openRuns index of the local lifecycle table', () => {
  // Its own DynamoDB Local: on the instance the other suites share and keep busy, building an
  // index on an existing table can stay CREATING for over a minute.
  let emulator: DynamoDbLocal;
  let dynamo: ReturnType<typeof localDynamoDbClient>;
  let documents: DynamoDBDocumentClient;
  beforeAll(async () => {
    emulator = await startDynamoDbLocal();
    dynamo = localDynamoDbClient(emulator.endpoint);
    documents = DynamoDBDocumentClient.from(dynamo, { marshallOptions: { removeUndefinedValues: true } });
  });
  const tables: string[] = [];
  const aTableName = () => {
    const name = `runlane-indexes-${randomUUID().slice(0, 8)}`;
    tables.push(name);
    return name;
  };
  afterAll(async () => {
    for (const TableName of tables)
      await dynamo?.send(new DeleteTableCommand({ TableName })).catch(() => undefined);
    dynamo?.destroy();
    await emulator?.stop();
  });

  const openRunsIndex = async (TableName: string) =>
    (await dynamo.send(new DescribeTableCommand({ TableName }))).Table?.GlobalSecondaryIndexes?.find(
      (index) => index.IndexName === 'openRuns',
    );

  it('is created with a new table: openShard / openDueAt, projecting whole runs', async () => {
    const tableName = aTableName();
    await provisionLifecycleTable(dynamo, tableName);
    const index = await openRunsIndex(tableName);
    expect(index?.KeySchema).toEqual([
      { AttributeName: 'openShard', KeyType: 'HASH' },
      { AttributeName: 'openDueAt', KeyType: 'RANGE' },
    ]);
    expect(index?.Projection?.ProjectionType).toBe('ALL');
  });

  it('is added to a table provisioned before it (a kept data folder), with the runs already there', async () => {
    const tableName = aTableName();
    // The layout before this index: the two older sparse indexes only.
    await dynamo.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          'pk',
          'sk',
          'correlationKey',
          'issuedAt',
          'reviewQueue',
          'needsReviewSince',
        ].map((AttributeName) => ({ AttributeName, AttributeType: 'S' })),
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: [
          {
            IndexName: 'byCorrelation',
            KeySchema: [
              { AttributeName: 'correlationKey', KeyType: 'HASH' },
              { AttributeName: 'issuedAt', KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'KEYS_ONLY' },
          },
          {
            IndexName: 'reviewQueue',
            KeySchema: [
              { AttributeName: 'reviewQueue', KeyType: 'HASH' },
              { AttributeName: 'needsReviewSince', KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          },
        ],
      }),
    );
    const now = new Date('2030-01-01T00:00:00.000Z');
    const retried = takeOverRun(
      newRun(anEnvelope(), { attemptId: 'a1', lockExpiresAt: now.getTime() - 60_000, now, expiresAt: 2e9 }),
      { attemptId: 'a2', lockExpiresAt: now.getTime() - 1000, now },
    );
    await documents.send(new PutCommand({ TableName: tableName, Item: runToItem(retried) }));
    expect(await openRunsIndex(tableName)).toBeUndefined();

    const provisioned = await provisionLifecycleTable(dynamo, tableName);

    expect(provisioned.created).toBe(false);
    expect((await openRunsIndex(tableName))?.IndexStatus).toBe('ACTIVE');
    const page = await new DynamoDbOpenRuns({ client: documents, tableName }).listReservedDue({
      dueBy: now.getTime(),
      limit: 10,
    });
    expect(page.runs.map((run) => run.runId)).toEqual([retried.runId]);
    // Provisioning again finds the layout complete.
    await expect(provisionLifecycleTable(dynamo, tableName)).resolves.toMatchObject({ created: false });
    // DynamoDB Local builds the index in the background; with other suites loading the same
    // instance (the 100,000-run sweep test) that takes longer than the default 30 s.
  }, 120_000);
});
