import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS, LOCAL_REGION, localDynamoDbClient } from '#local/emulators/clients.js';
import { startDynamoDbLocal } from '#local/emulators/dynamodb-local.js';

/**
 * DynamoDB Local with a data folder (`-sharedDb -dbPath`, SQLite) whose JVM is killed with
 * SIGKILL while writes are being answered: after a restart on the same folder every answered
 * write is there.
 */
describe('DynamoDB Local data folder after kill -9', () => {
  it('keeps every acknowledged PutItem and UpdateItem', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'runlane-ddb-kill-'));
    try {
      const first = await startDynamoDbLocal({ dataDir });
      const setup = localDynamoDbClient(first.endpoint);
      await setup.send(
        new CreateTableCommand({
          TableName: 'kill-test',
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
          KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        }),
      );
      setup.destroy();

      // One attempt per call: a write cut by the kill is not retried into the next JVM.
      const writer = new DynamoDBClient({
        endpoint: first.endpoint,
        region: LOCAL_REGION,
        credentials: LOCAL_CREDENTIALS,
        maxAttempts: 1,
      });
      const written: string[] = [];
      let increments = 0;
      let killed = false;
      await Promise.all(
        Array.from({ length: 6 }, async (_, w) => {
          for (let i = 0; !killed; i++) {
            try {
              const pk = `item-${w}-${i}`;
              await writer.send(new PutItemCommand({ TableName: 'kill-test', Item: { pk: { S: pk } } }));
              written.push(pk);
              await writer.send(
                new UpdateItemCommand({
                  TableName: 'kill-test',
                  Key: { pk: { S: 'counter' } },
                  UpdateExpression: 'ADD n :one',
                  ExpressionAttributeValues: { ':one': { N: '1' } },
                }),
              );
              increments++;
            } catch {
              return; // DynamoDB Local is gone: not acknowledged
            }
            if (written.length >= 20 && !killed) {
              killed = true;
              process.kill(first.pid, 'SIGKILL');
            }
          }
        }),
      );
      writer.destroy();
      await first.stop(); // waits for the killed JVM's exit

      const second = await startDynamoDbLocal({ dataDir });
      const reader = localDynamoDbClient(second.endpoint);
      try {
        const read = (pk: string) =>
          reader.send(
            new GetItemCommand({ TableName: 'kill-test', Key: { pk: { S: pk } }, ConsistentRead: true }),
          );
        const missing: string[] = [];
        for (const pk of written) if (!(await read(pk)).Item) missing.push(pk);
        const counter = Number((await read('counter')).Item?.n?.N ?? 0);

        expect(missing).toEqual([]);
        // Increments in flight at the kill may have been committed without their answer.
        expect(counter).toBeGreaterThanOrEqual(increments);
      } finally {
        reader.destroy();
        await second.stop();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});
