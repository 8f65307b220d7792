import { type DynamoDBDocumentClient, GetCommand, type GetCommandOutput } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll } from 'vitest';
import { createTestEnvironment, type TestEnvironment } from './test-environment.js';

/** A lifecycle table of its own on DynamoDB Local, for the tests of one DynamoDB store adapter. */
export interface StoreTable {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  /** A store's table options with its clock stopped at `now`, so the times it writes are known. */
  storeOptions(now: Date): { client: DynamoDBDocumentClient; tableName: string; clock: { now: () => Date } };
  /** The item under `key` as stored, attribute by attribute: what the store wrote, not what it reads back. */
  item(key: Record<string, unknown>): Promise<GetCommandOutput['Item']>;
}

/**
 * A store table for the enclosing `describe`: created before its tests, deleted after them.
 * Read it inside tests and hooks, once it exists.
 */
export function useStoreTable(): StoreTable {
  let env: TestEnvironment<string> | undefined;
  beforeAll(async () => {
    env = await createTestEnvironment({ lanes: [] });
  });
  afterAll(() => env?.cleanup());
  const created = () => {
    if (!env) throw new Error('the store table is created in beforeAll: read it inside a test or hook');
    return { client: env.documentClient, tableName: env.tableName ?? '' };
  };
  return {
    get client() {
      return created().client;
    },
    get tableName() {
      return created().tableName;
    },
    storeOptions: (now) => ({ ...created(), clock: { now: () => now } }),
    item: async (key) => {
      const { client, tableName } = created();
      return (await client.send(new GetCommand({ TableName: tableName, Key: key }))).Item;
    },
  };
}
