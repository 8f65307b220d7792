import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { keys } from '#contracts/tables.js';
import type { DelegationFlagStore } from '#core/workers/ports.js';

export interface DynamoDbDelegationFlagStoreOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly environment: string;
  /** The flag until someone sets it: `WORKER_DELEGATION_ENABLED`. */
  readonly defaultEnabled: boolean;
}

/**
 * The runtime delegation switch: one item, `pk` = `WCONFIG#<environment>`, `sk` = `DELEGATION`.
 * Until it is set, `get()` answers the deploy-time default (`WORKER_DELEGATION_ENABLED`, false
 * unless set); once set, the item wins, so an operator's switch survives redeploys.
 *
 * @example
 * const flag = new DynamoDbDelegationFlagStore({ client, tableName, environment: 'prod', defaultEnabled: false });
 * await flag.set({ enabled: true, changedBy: 'alice', now: new Date() });
 */
export class DynamoDbDelegationFlagStore implements DelegationFlagStore {
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;
  readonly #environment: string;
  readonly #defaultEnabled: boolean;

  public constructor(options: DynamoDbDelegationFlagStoreOptions) {
    this.#client = options.client;
    this.#tableName = options.tableName;
    this.#environment = options.environment;
    this.#defaultEnabled = options.defaultEnabled;
  }

  public async get(): Promise<{ enabled: boolean; changedAt?: string; changedBy?: string }> {
    const result = await this.#client.send(
      new GetCommand({
        TableName: this.#tableName,
        Key: keys.delegationFlag(this.#environment),
        ConsistentRead: true,
      }),
    );
    const item = result.Item;
    if (!item || typeof item.enabled !== 'boolean') return { enabled: this.#defaultEnabled };
    return { enabled: item.enabled, changedAt: String(item.changedAt), changedBy: String(item.changedBy) };
  }

  public async set(input: { enabled: boolean; changedBy: string; now: Date }): Promise<void> {
    await this.#client.send(
      new PutCommand({
        TableName: this.#tableName,
        Item: {
          ...keys.delegationFlag(this.#environment),
          entity: 'DelegationFlag',
          enabled: input.enabled,
          changedBy: input.changedBy,
          changedAt: input.now.toISOString(),
        },
      }),
    );
  }
}
