import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { keys } from '#contracts/tables.js';
import type { ApprovalRequest, ApprovalStore, DecideApprovalResult } from '#core/commands/ports.js';
import { itemToApproval } from './items.js';

/** Approval requests in the lifecycle table; a decision is one conditional update. */
export class DynamoDbApprovalStore implements ApprovalStore {
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;

  public constructor(options: { readonly client: DynamoDBDocumentClient; readonly tableName: string }) {
    this.#client = options.client;
    this.#tableName = options.tableName;
  }

  public async decide(input: Parameters<ApprovalStore['decide']>[0]): Promise<DecideApprovalResult> {
    const status = input.decision === 'approve' ? 'Approved' : 'Rejected';
    try {
      const result = await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: keys.approval(input.approvalId),
          // Pending → decided once; the same command may repeat its own decision (a retry).
          ConditionExpression:
            'attribute_exists(pk) AND householdId = :household AND (#status = :pending OR (decidedByCommandId = :command AND #status = :status))',
          UpdateExpression:
            'SET #status = :status, decidedByCommandId = :command, decisionRationale = :rationale, decidedAt = if_not_exists(decidedAt, :at)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':household': input.householdId,
            ':pending': 'Pending',
            ':status': status,
            ':command': input.commandId,
            ':rationale': input.rationale,
            ':at': input.now.toISOString(),
          },
          ReturnValues: 'ALL_OLD',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      const before = itemToApproval(result.Attributes ?? {});
      const approval: ApprovalRequest = {
        ...before,
        status,
        decidedByCommandId: input.commandId,
        decisionRationale: input.rationale,
        decidedAt: before.decidedAt ?? input.now.toISOString(),
      };
      return before.status === 'Pending'
        ? { outcome: 'decided', approval }
        : { outcome: 'already_decided_by_this_command', approval };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      if (!error.Item) return { outcome: 'not_found' };
      const existing = itemToApproval(unmarshall(error.Item as Parameters<typeof unmarshall>[0]));
      // Another household's approval id is reported as unknown: ids must not leak across households.
      if (existing.householdId !== input.householdId) return { outcome: 'not_found' };
      return { outcome: 'already_decided', approval: existing };
    }
  }
}
