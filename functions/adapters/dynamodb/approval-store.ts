import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { KEY_STATUS } from '#contracts/lifecycle.js';
import { keys } from '#contracts/tables.js';
import type { ApprovalLocation, ApprovalReader } from '#core/api/ports.js';
import type { ApprovalRequest, ApprovalStore, DecideApprovalResult } from '#core/commands/ports.js';
import { type Item, itemToApproval } from './items.js';

/**
 * Approval requests in the lifecycle table; a decision is one conditional update.
 *
 * Besides `decidedByCommandId` (the first command that decided), the item keeps
 * `decisionCommandIds`, a string set of every command that carried that same decision: the
 * decider, its retries, and its replays (a replay names the command it replays in `replayOf`,
 * and a replay of a replay names the replay). A command is the same decision when it is in the
 * set, or when the command it replays is.
 */
export class DynamoDbApprovalStore implements ApprovalStore, ApprovalReader {
  /**
   * A request is written before the run that requested it commits (see `saveAttemptResult`): it
   * is the command's, and can be decided, only once that run is Completed. A request left by an
   * attempt whose run never completed reads as unknown. Two reads, on decisions only.
   */
  async #requestCommitted(approvalId: string): Promise<boolean> {
    const request = await this.#client.send(
      new GetCommand({
        TableName: this.#tableName,
        Key: keys.approval(approvalId),
        ProjectionExpression: 'requestedByCommandId',
        ConsistentRead: true,
      }),
    );
    const requestedBy = request.Item?.requestedByCommandId;
    if (typeof requestedBy !== 'string') return true; // no request: the update below answers not_found
    const run = await this.#client.send(
      new GetCommand({
        TableName: this.#tableName,
        Key: keys.run(requestedBy),
        ProjectionExpression: 'keyStatus',
        ConsistentRead: true,
      }),
    );
    return run.Item?.keyStatus === KEY_STATUS.Completed;
  }

  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;

  public constructor(options: { readonly client: DynamoDBDocumentClient; readonly tableName: string }) {
    this.#client = options.client;
    this.#tableName = options.tableName;
  }

  /**
   * The household and conversation of an approval request (one consistent GetItem of two
   * attributes), for the API to check a decision against before it is queued.
   */
  public async getApproval(approvalId: string): Promise<ApprovalLocation | undefined> {
    const result = await this.#client.send(
      new GetCommand({
        TableName: this.#tableName,
        Key: keys.approval(approvalId),
        ProjectionExpression: 'householdId, conversationId',
        ConsistentRead: true,
      }),
    );
    const { householdId, conversationId } = result.Item ?? {};
    return typeof householdId === 'string' && typeof conversationId === 'string'
      ? { householdId, conversationId }
      : undefined;
  }

  public async decide(input: Parameters<ApprovalStore['decide']>[0]): Promise<DecideApprovalResult> {
    const status = input.decision === 'approve' ? 'Approved' : 'Rejected';
    // A decision belongs to one conversation; without one it can match no approval.
    if (input.conversationId === undefined) return { outcome: 'not_found' };
    if (!(await this.#requestCommitted(input.approvalId))) return { outcome: 'not_found' };
    try {
      const result = await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: keys.approval(input.approvalId),
          // Pending → decided once; the same decision may repeat: a retry of the deciding command,
          // or a replay of it (or of one of its replays). Items decided before the set existed
          // carry only decidedByCommandId.
          ConditionExpression:
            'attribute_exists(pk) AND householdId = :household AND conversationId = :conversation AND (#status = :pending OR (#status = :status AND (' +
            'decidedByCommandId IN (:command, :replayOf) OR contains(decisionCommandIds, :command) OR contains(decisionCommandIds, :replayOf))))',
          UpdateExpression:
            'SET #status = :status, decidedByCommandId = if_not_exists(decidedByCommandId, :command), ' +
            'decisionRationale = if_not_exists(decisionRationale, :rationale), decidedAt = if_not_exists(decidedAt, :at) ' +
            'ADD decisionCommandIds :commands',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':household': input.householdId,
            ':conversation': input.conversationId,
            ':pending': 'Pending',
            ':status': status,
            ':command': input.commandId,
            // Without a replayOf the clause repeats the command's own test.
            ':replayOf': input.replayOf ?? input.commandId,
            ':commands': new Set([input.commandId]),
            ':rationale': input.rationale,
            ':at': input.now.toISOString(),
          },
          ReturnValues: 'ALL_OLD',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      const before = approvalOf(result.Attributes ?? {});
      const approval: ApprovalRequest = {
        ...before,
        status,
        decidedByCommandId: before.decidedByCommandId ?? input.commandId,
        decisionRationale: before.decisionRationale ?? input.rationale,
        decidedAt: before.decidedAt ?? input.now.toISOString(),
      };
      return before.status === 'Pending'
        ? { outcome: 'decided', approval }
        : { outcome: 'already_decided_by_this_command', approval };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      if (!error.Item) return { outcome: 'not_found' };
      const existing = approvalOf(unmarshall(error.Item as Parameters<typeof unmarshall>[0]));
      // Another household's (or conversation's) approval id is reported as unknown: ids must not
      // leak across households, nor a decision land on another conversation's approval.
      if (existing.householdId !== input.householdId || existing.conversationId !== input.conversationId) {
        return { outcome: 'not_found' };
      }
      return { outcome: 'already_decided', approval: existing };
    }
  }
}

/** The approval without the store's bookkeeping set. */
function approvalOf(item: Item): ApprovalRequest {
  const { decisionCommandIds: _commands, ...rest } = item;
  return itemToApproval(rest);
}
