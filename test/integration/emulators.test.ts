import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  ListTablesCommand,
} from '@aws-sdk/client-dynamodb';
import {
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { deadLetterQueueName, LANE_GRACE_RECEIVES, LANES, type LaneName } from '#contracts/lanes.js';
import { LIFECYCLE_TABLE } from '#contracts/tables.js';
import { localDynamoDbClient } from '#local/emulators/clients.js';
import { startDynamoDbLocal } from '#local/emulators/dynamodb-local.js';
import { startSqsEmulator } from '#local/emulators/sqs-emulator.js';
import {
  InvalidOptionsError,
  JavaNotFoundError,
  JavaVersionError,
  PortInUseError,
  ProvisioningMismatchError,
} from '#local/errors.js';
import { DLQ_RETENTION_SECONDS, provisionLanes, provisionLifecycleTable } from '#local/stack/provision.js';
import { createTestEnvironment, type TestEnvironment } from '../support/test-environment.js';

describe('lifecycle table', () => {
  let env: TestEnvironment<never>;
  beforeAll(async () => {
    env = await createTestEnvironment({ lanes: [] });
  });
  afterAll(() => env.cleanup());

  it('is created from LIFECYCLE_TABLE: on-demand, pk/sk, both sparse indexes, TTL on expiresAt', async () => {
    const { Table: table } = await env.dynamo.send(new DescribeTableCommand({ TableName: env.tableName }));
    const ttl = await env.dynamo.send(new DescribeTimeToLiveCommand({ TableName: env.tableName }));

    expect(table?.TableStatus).toBe('ACTIVE');
    expect(table?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
    expect(table?.KeySchema).toEqual([
      { AttributeName: LIFECYCLE_TABLE.partitionKey, KeyType: 'HASH' },
      { AttributeName: LIFECYCLE_TABLE.sortKey, KeyType: 'RANGE' },
    ]);
    const indexes = Object.fromEntries(
      (table?.GlobalSecondaryIndexes ?? []).map((index) => [index.IndexName, index]),
    );
    expect(indexes.byCorrelation?.KeySchema).toEqual([
      { AttributeName: 'correlationKey', KeyType: 'HASH' },
      { AttributeName: 'issuedAt', KeyType: 'RANGE' },
    ]);
    expect(indexes.byCorrelation?.Projection?.ProjectionType).toBe('KEYS_ONLY');
    expect(indexes.reviewQueue?.KeySchema).toEqual([
      { AttributeName: 'reviewQueue', KeyType: 'HASH' },
      { AttributeName: 'needsReviewSince', KeyType: 'RANGE' },
    ]);
    expect(indexes.reviewQueue?.Projection?.ProjectionType).toBe('ALL');
    expect(ttl.TimeToLiveDescription).toMatchObject({
      TimeToLiveStatus: 'ENABLED',
      AttributeName: 'expiresAt',
    });
  });

  it('is visible to every credential and region (-sharedDb)', async () => {
    const other = new DynamoDBClient({
      endpoint: env.endpoints.dynamo,
      region: 'eu-west-1',
      // DynamoDB Local accepts only letters and digits in access key ids.
      credentials: { accessKeyId: 'someoneElse', secretAccessKey: 'x' },
    });
    const tables = await other.send(new ListTablesCommand({}));
    other.destroy();

    expect(tables.TableNames).toContain(env.tableName);
  });

  it('is idempotent: provisioning an existing table succeeds without recreating it', async () => {
    const again = await provisionLifecycleTable(env.dynamo, env.tableName ?? '');

    expect(again).toMatchObject({ tableName: env.tableName, created: false });
    expect(again.tableArn).toContain(env.tableName);
  });

  it('refuses an existing table with another layout, naming every difference', async () => {
    const TableName = `${env.tableName}-other`;
    await env.dynamo.send(
      new CreateTableCommand({
        TableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      }),
    );
    try {
      const attempt = provisionLifecycleTable(env.dynamo, TableName);

      await expect(attempt).rejects.toBeInstanceOf(ProvisioningMismatchError);
      await expect(attempt).rejects.toThrow(
        /key schema[\s\S]*index byCorrelation is missing[\s\S]*reviewQueue/,
      );
    } finally {
      await env.dynamo.send(new DeleteTableCommand({ TableName }));
    }
  });
});

describe('lane queues', () => {
  let env: TestEnvironment<LaneName>;
  beforeAll(async () => {
    env = await createTestEnvironment({ table: false, maxReceiveCount: 2, visibilityTimeoutSeconds: 1 });
  });
  afterAll(() => env.cleanup());

  it('creates every lane with its DLQ, redrive policy, visibility timeout and 14-day DLQ retention', async () => {
    for (const lane of LANES) {
      const queues = env.lane(lane.name);
      const attributes = await queueAttributes(env, queues.queueUrl);
      const dlqAttributes = await queueAttributes(env, queues.dlqUrl);

      expect(queues.queueName).toBe(`${env.id}-${lane.name}`);
      expect(queues.dlqName).toBe(deadLetterQueueName(queues.queueName));
      expect(attributes.QueueArn).toBe(queues.queueArn);
      expect(attributes.VisibilityTimeout).toBe('1');
      expect(JSON.parse(attributes.RedrivePolicy ?? '{}')).toEqual({
        deadLetterTargetArn: queues.dlqArn,
        maxReceiveCount: 2 + LANE_GRACE_RECEIVES,
      });
      expect(dlqAttributes.QueueArn).toBe(queues.dlqArn);
      expect(dlqAttributes.MessageRetentionPeriod).toBe(String(DLQ_RETENTION_SECONDS));
    }
  });

  it('is idempotent and brings existing queues to the requested attributes', async () => {
    const again = await provisionLanes(env.sqs, {
      prefix: `${env.id}-`,
      maxReceiveCount: 5,
      visibilityTimeoutSeconds: 7,
    });

    const lane = LANES[0].name;
    expect(again[lane].queueUrl).toBe(env.lane(lane).queueUrl);
    const attributes = await queueAttributes(env, again[lane].queueUrl);
    expect(attributes.VisibilityTimeout).toBe('7');
    expect(JSON.parse(attributes.RedrivePolicy ?? '{}')).toMatchObject({
      maxReceiveCount: 5 + LANE_GRACE_RECEIVES,
    });
  });

  it('rejects bad options with every problem listed', async () => {
    const attempt = provisionLanes(env.sqs, {
      prefix: 'x'.repeat(80),
      maxReceiveCount: 0,
      visibilityTimeoutSeconds: -1,
    });

    await expect(attempt).rejects.toBeInstanceOf(InvalidOptionsError);
    await expect(attempt).rejects.toThrow(
      /maxReceiveCount[\s\S]*visibilityTimeoutSeconds[\s\S]*not a valid SQS name/,
    );
  });
});

describe('fauxqs', () => {
  let env: TestEnvironment<(typeof LANES)[0]['name']>;
  beforeAll(async () => {
    env = await createTestEnvironment({ table: false, lanes: [LANES[0]], maxReceiveCount: 2 });
  });
  afterAll(() => env.cleanup());

  it('moves a message to the DLQ once it has been received maxReceiveCount + LANE_GRACE_RECEIVES times', async () => {
    const { queueUrl, dlqUrl } = env.lane(LANES[0].name);
    const sent = await env.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'poison' }));
    // VisibilityTimeout 0 makes each received message visible again at once.
    const receive = (QueueUrl: string) =>
      env.sqs.send(
        new ReceiveMessageCommand({ QueueUrl, VisibilityTimeout: 0, MessageSystemAttributeNames: ['All'] }),
      );

    const redriveAt = 2 + LANE_GRACE_RECEIVES;
    const received = [];
    for (let n = 0; n <= redriveAt; n++) received.push(await receive(queueUrl));
    const dead = await receive(dlqUrl);

    expect(
      received.slice(0, redriveAt).map((r) => r.Messages?.[0]?.Attributes?.ApproximateReceiveCount),
    ).toEqual(Array.from({ length: redriveAt }, (_, i) => String(i + 1)));
    expect(received[redriveAt]?.Messages ?? []).toHaveLength(0);
    expect(dead.Messages?.[0]?.MessageId).toBe(sent.MessageId);
    expect(dead.Messages?.[0]?.Body).toBe('poison');
  });

  it('names queue URLs by region, account and name, on the emulator port', async () => {
    const { queueName, queueUrl } = env.lane(LANES[0].name);
    const { QueueUrl } = await env.sqs.send(new GetQueueUrlCommand({ QueueName: queueName }));

    expect(QueueUrl).toBe(queueUrl);
    expect(new URL(QueueUrl ?? '').port).toBe(new URL(inject('sqsEndpoint')).port);
    expect(new URL(QueueUrl ?? '').pathname).toBe(`/000000000000/${queueName}`);
  });
});

describe('emulator processes', () => {
  it('listen on 127.0.0.1 only', async () => {
    const endpoints = [inject('dynamoEndpoint'), inject('sqsEndpoint')].map((endpoint) => new URL(endpoint));
    const otherAddresses = Object.values(networkInterfaces())
      .flatMap((entries) => entries ?? [])
      .filter((entry) => entry.family === 'IPv4' && !entry.internal)
      .map((entry) => entry.address);

    for (const endpoint of endpoints) {
      expect(endpoint.hostname).toBe('127.0.0.1');
      expect(await canConnect('127.0.0.1', Number(endpoint.port))).toBe(true);
      // This machine's own non-loopback addresses: a server bound to 0.0.0.0 would answer there.
      for (const address of otherAddresses) {
        expect(await canConnect(address, Number(endpoint.port))).toBe(false);
      }
    }
  });

  it('DynamoDB Local exits by itself when the Node process that started it is killed', async () => {
    const moduleUrl = new URL('../../local/emulators/dynamodb-local.ts', import.meta.url).href;
    const script = `const { startDynamoDbLocal } = await import(${JSON.stringify(moduleUrl)});
      const dynamo = await startDynamoDbLocal();
      process.stdout.write(JSON.stringify({ pid: dynamo.pid }) + '\\n');
      setInterval(() => {}, 1000);`;
    const parent = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const [line] = await Promise.race([
      (async () => {
        for await (const text of createInterface({ input: parent.stdout })) return [text];
        return [''];
      })(),
      sleep(30_000).then(() => ['']),
    ]);
    const { pid } = JSON.parse(line ?? '{}') as { pid?: number };
    expect(pid).toBeGreaterThan(0);

    parent.kill('SIGKILL');

    expect(await waitFor(() => !isAlive(pid ?? 0), 10_000)).toBe(true);
  });

  it('stop() ends the Java process; a dataDir keeps the database across restarts', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'runlane-ddb-data-'));
    try {
      const first = await startDynamoDbLocal({ dataDir });
      const firstClient = localDynamoDbClient(first.endpoint);
      await provisionLifecycleTable(firstClient, 'persisted-lifecycle');
      firstClient.destroy();
      await first.stop();

      const second = await startDynamoDbLocal({ dataDir });
      const secondClient = localDynamoDbClient(second.endpoint);
      const tables = await secondClient.send(new ListTablesCommand({}));
      secondClient.destroy();
      await second.stop();

      expect(tables.TableNames).toContain('persisted-lifecycle');
      expect(isAlive(first.pid)).toBe(false);
      expect(isAlive(second.pid)).toBe(false);
      expect(first.startupMs).toBeGreaterThan(0);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('names the port when DynamoDB Local cannot bind it', async () => {
    await withBusyPort(async (port) => {
      const attempt = startDynamoDbLocal({ port });

      await expect(attempt).rejects.toBeInstanceOf(PortInUseError);
      await expect(attempt).rejects.toThrow(`127.0.0.1:${port}`);
    });
  });

  it('names the port when the SQS emulator cannot bind it', async () => {
    await withBusyPort(async (port) => {
      const attempt = startSqsEmulator({ port });

      await expect(attempt).rejects.toBeInstanceOf(PortInUseError);
      await expect(attempt).rejects.toThrow(`127.0.0.1:${port}`);
    });
  });

  it('says what to install when Java is missing or too old', async () => {
    const fakeHome = mkdtempSync(join(tmpdir(), 'runlane-fake-java-'));
    const previous = process.env.JAVA_HOME;
    try {
      process.env.JAVA_HOME = join(fakeHome, 'missing');
      await expect(startDynamoDbLocal()).rejects.toBeInstanceOf(JavaNotFoundError);

      mkdirSync(join(fakeHome, 'bin'));
      writeFileSync(
        join(fakeHome, 'bin', 'java'),
        '#!/bin/sh\necho \'openjdk version "11.0.2" 2019-01-15\' >&2\n',
      );
      chmodSync(join(fakeHome, 'bin', 'java'), 0o755);
      process.env.JAVA_HOME = fakeHome;
      const tooOld = startDynamoDbLocal();

      await expect(tooOld).rejects.toBeInstanceOf(JavaVersionError);
      await expect(tooOld).rejects.toThrow(
        /Java 11\.0\.2; DynamoDB Local needs Java 17[\s\S]*openjdk-17-jdk/,
      );
    } finally {
      if (previous === undefined) delete process.env.JAVA_HOME;
      else process.env.JAVA_HOME = previous;
      rmSync(fakeHome, { recursive: true, force: true });
    }
  });
});

async function queueAttributes(
  env: TestEnvironment<string>,
  QueueUrl: string,
): Promise<Record<string, string>> {
  const result = await env.sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['All'] }));
  return result.Attributes ?? {};
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 2_000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

async function withBusyPort(use: (port: number) => Promise<void>): Promise<void> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  try {
    await use(typeof address === 'object' && address ? address.port : 0);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** A zombie (exited, not yet reaped by an init that never reaps) counts as dead. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (condition()) return true;
    await sleep(100);
  }
  return condition();
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('SQS emulator persistence', () => {
  it('keeps queues and unacknowledged messages across a restart with the same data folder', async () => {
    const { startSqsEmulator } = await import('#local/emulators/sqs-emulator.js');
    const { localSqsClient } = await import('#local/emulators/clients.js');
    const { CreateQueueCommand, ReceiveMessageCommand, SendMessageCommand } = await import(
      '@aws-sdk/client-sqs'
    );
    const dataDir = mkdtempSync(join(tmpdir(), 'runlane-sqs-data-'));
    try {
      const first = await startSqsEmulator({ dataDir });
      const sqs = localSqsClient(first.endpoint);
      const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'persisted' }));
      await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'survives' }));
      sqs.destroy();
      await first.stop();

      const second = await startSqsEmulator({ dataDir });
      const again = localSqsClient(second.endpoint);
      const received = await again.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 1 }));
      expect(received.Messages?.map((m) => m.Body)).toEqual(['survives']);
      again.destroy();
      await second.stop();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
