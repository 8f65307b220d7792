import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { keys } from '#contracts/tables.js';
import type { ActionExecutor } from '#core/commands/ports.js';
import type { WorkerActionHistoryEntry } from '#core/workers/reconcile.js';

export interface ActionHistoryEntry {
  readonly idempotencyKey: string;
  readonly approvalId: string;
  readonly commandId: string;
  readonly action: string;
  readonly executedAt: string;
  /**
   * Set when a worker carried the action out (seed 004): the task, who ran it and how it ended,
   * written when its `execution_result` was reconciled (`DynamoDbWorkerTaskStore`).
   */
  readonly worker?: WorkerActionHistoryEntry['worker'];
}

/**
 * Executes approved actions by recording them in the household's action
 * history, once per idempotency key (a conditional put). Integrations that
 * call external systems pass the same key on, so a retry never repeats them.
 */
export class DynamoDbActionExecutor implements ActionExecutor {
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;

  public constructor(options: { readonly client: DynamoDBDocumentClient; readonly tableName: string }) {
    this.#client = options.client;
    this.#tableName = options.tableName;
  }

  public async execute(request: Parameters<ActionExecutor['execute']>[0]): Promise<{ executed: boolean }> {
    try {
      await this.#client.send(
        new PutCommand({
          TableName: this.#tableName,
          Item: {
            ...keys.actionHistory(request.householdId, request.idempotencyKey),
            entity: 'ActionHistory',
            idempotencyKey: request.idempotencyKey,
            approvalId: request.approvalId,
            commandId: request.commandId,
            action: request.action.action,
            parameters: request.action.parameters,
            executedAt: request.now.toISOString(),
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return { executed: true };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return { executed: false };
      throw error;
    }
  }

  /** The household's action history, oldest first. */
  public async history(householdId: string): Promise<ActionHistoryEntry[]> {
    const result = await this.#client.send(
      new QueryCommand({
        TableName: this.#tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': `ACTION#${householdId}` },
        ConsistentRead: true,
      }),
    );
    return (result.Items ?? []).map((item) => ({
      idempotencyKey: String(item.idempotencyKey),
      approvalId: String(item.approvalId),
      commandId: String(item.commandId),
      action: String(item.action),
      executedAt: String(item.executedAt),
      ...(item.worker ? { worker: item.worker as WorkerActionHistoryEntry['worker'] } : {}),
    }));
  }
}
