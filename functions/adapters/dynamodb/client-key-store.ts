import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { keys } from '#contracts/tables.js';
import type { ClaimClientKeyResult, ClientKeyStore } from '#core/api/ports.js';

/** Client `Idempotency-Key` values are kept for a day, like common payment APIs. */
export const CLIENT_KEY_TTL_SECONDS = 24 * 60 * 60;

/**
 * Client idempotency keys in the lifecycle table: one conditional put per keyed POST. The item
 * holds what a retry needs to rebuild the envelope the key names (its commandId, correlationId
 * and `createdAt` = the envelope's `issuedAt`; the rest is in the request, which the request
 * hash pins), not the envelope itself: a body in the item would raise its write units with the
 * message size.
 */
export class DynamoDbClientKeyStore implements ClientKeyStore {
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;

  public constructor(options: { readonly client: DynamoDBDocumentClient; readonly tableName: string }) {
    this.#client = options.client;
    this.#tableName = options.tableName;
  }

  public async claim(input: Parameters<ClientKeyStore['claim']>[0]): Promise<ClaimClientKeyResult> {
    try {
      await this.#client.send(
        new PutCommand({
          TableName: this.#tableName,
          Item: {
            ...keys.clientKey(input.key),
            entity: 'ClientKey',
            commandId: input.commandId,
            correlationId: input.correlationId,
            requestHash: input.requestHash,
            createdAt: input.now.toISOString(),
            expiresAt: Math.floor(input.now.getTime() / 1000) + CLIENT_KEY_TTL_SECONDS,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { outcome: 'claimed' };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException) || !error.Item) throw error;
      const item = unmarshall(error.Item as Parameters<typeof unmarshall>[0]);
      return {
        outcome: 'exists',
        commandId: String(item.commandId),
        correlationId: String(item.correlationId),
        requestHash: String(item.requestHash),
        claimedAt: String(item.createdAt),
      };
    }
  }
}
