/**
 * What the stack ended with, read straight from its stores: every item of the lifecycle table
 * (DynamoDB), every dead letter of the lanes (SQS, peeked and put back), and the drill commands'
 * side-effect log in the data folder.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ChangeMessageVisibilityCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { RunRecord } from '#contracts/lifecycle.js';
import { DRILL_EFFECTS_FILE, type DrillExecution } from '#local/stack/drill-commands.js';

/** A message in a lane DLQ. `reason` is absent when SQS redrove it on its own (maxReceiveCount). */
export interface DeadLetter {
  readonly lane: string;
  readonly messageId: string;
  readonly body: string;
  readonly reason: string | undefined;
  /** The `commandId` attribute, else the body's commandId when the body is an object. */
  readonly commandId: string | undefined;
}

export interface ActionExecution {
  readonly approvalId: string;
  readonly commandId: string;
  readonly idempotencyKey: string;
}

/** Everything the final check reads. */
export interface Observed {
  readonly runs: ReadonlyMap<string, RunRecord>;
  /** Signals kept as separate items (beyond the run's inline ones), by runId. */
  readonly findingSignals: ReadonlyMap<string, readonly { readonly RequiresHumanReview?: boolean }[]>;
  /** Conversation message items per commandId. */
  readonly conversationMessages: ReadonlyMap<string, number>;
  /** Approval request items by approvalId. */
  readonly approvals: ReadonlyMap<string, { readonly status: string; readonly requestedByCommandId: string }>;
  /** Action history items (the executed actions) per approvalId. */
  readonly actions: ReadonlyMap<string, readonly ActionExecution[]>;
  readonly deadLetters: readonly DeadLetter[];
  readonly executions: readonly DrillExecution[];
  /** Lines of the side-effect log that could not be read (cut by a kill while being written). */
  readonly unreadableExecutionLines: number;
}

/** Reads the whole lifecycle table (a fresh soak's table holds only the soak's items). */
export async function scanTable(
  dynamo: DynamoDBClient,
  tableName: string,
): Promise<Pick<Observed, 'runs' | 'findingSignals' | 'conversationMessages' | 'approvals' | 'actions'>> {
  const documents = DynamoDBDocumentClient.from(dynamo);
  const runs = new Map<string, RunRecord>();
  const findingSignals = new Map<string, { RequiresHumanReview?: boolean }[]>();
  const conversationMessages = new Map<string, number>();
  const approvals = new Map<string, { status: string; requestedByCommandId: string }>();
  const actions = new Map<string, ActionExecution[]>();
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await documents.send(
      new ScanCommand({ TableName: tableName, ConsistentRead: true, ExclusiveStartKey: startKey }),
    );
    for (const item of page.Items ?? []) {
      const pk = String(item.pk);
      switch (item.entity) {
        case 'Run':
          runs.set(String(item.commandId), item as unknown as RunRecord);
          break;
        case 'Signal': {
          const runId = pk.replace(/^RUN#/, '');
          findingSignals.set(runId, [...(findingSignals.get(runId) ?? []), item]);
          break;
        }
        case 'ConversationMessage': {
          const commandId = String(item.commandId);
          conversationMessages.set(commandId, (conversationMessages.get(commandId) ?? 0) + 1);
          break;
        }
        case 'ApprovalRequest':
          approvals.set(String(item.approvalId), {
            status: String(item.status),
            requestedByCommandId: String(item.requestedByCommandId),
          });
          break;
        case 'ActionHistory': {
          const approvalId = String(item.approvalId);
          actions.set(approvalId, [
            ...(actions.get(approvalId) ?? []),
            { approvalId, commandId: String(item.commandId), idempotencyKey: String(item.idempotencyKey) },
          ]);
          break;
        }
        default:
          break;
      }
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return { runs, findingSignals, conversationMessages, approvals, actions };
}

/** Every message of the given DLQs, peeked: received, then made visible again. */
export async function readDeadLetters(
  sqs: SQSClient,
  queues: readonly { readonly lane: string; readonly dlqUrl: string }[],
): Promise<DeadLetter[]> {
  const letters: DeadLetter[] = [];
  for (const { lane, dlqUrl } of queues) {
    const seen = new Set<string>();
    const handles: string[] = [];
    let empty = 0;
    // Two empty answers in a row: the queue has nothing left that is visible.
    while (empty < 2) {
      const page = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: dlqUrl,
          MaxNumberOfMessages: 10,
          VisibilityTimeout: 300,
          WaitTimeSeconds: 0,
          MessageAttributeNames: ['All'],
        }),
      );
      const fresh = (page.Messages ?? []).filter((m) => m.MessageId && !seen.has(m.MessageId));
      empty = fresh.length === 0 ? empty + 1 : 0;
      for (const message of fresh) {
        seen.add(message.MessageId ?? '');
        if (message.ReceiptHandle) handles.push(message.ReceiptHandle);
        const attributes = message.MessageAttributes ?? {};
        const body = message.Body ?? '';
        letters.push({
          lane,
          messageId: message.MessageId ?? '',
          body,
          reason: attributes.reason?.StringValue,
          commandId: attributes.commandId?.StringValue ?? commandIdInBody(body),
        });
      }
    }
    await Promise.all(
      handles.map((handle) =>
        sqs
          .send(
            new ChangeMessageVisibilityCommand({
              QueueUrl: dlqUrl,
              ReceiptHandle: handle,
              VisibilityTimeout: 0,
            }),
          )
          .catch(() => undefined),
      ),
    );
  }
  return letters;
}

function commandIdInBody(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as unknown;
    const commandId =
      typeof parsed === 'object' && parsed !== null
        ? (parsed as { commandId?: unknown }).commandId
        : undefined;
    return typeof commandId === 'string' ? commandId : undefined;
  } catch {
    return undefined;
  }
}

/** The drill commands' executions, from `drill-effects.jsonl` in the data folder. */
export function readExecutions(dataDir: string): Pick<Observed, 'executions' | 'unreadableExecutionLines'> {
  const file = join(dataDir, DRILL_EFFECTS_FILE);
  if (!existsSync(file)) return { executions: [], unreadableExecutionLines: 0 };
  const executions: DrillExecution[] = [];
  let unreadable = 0;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    try {
      executions.push(JSON.parse(line) as DrillExecution);
    } catch {
      unreadable += 1;
    }
  }
  return { executions, unreadableExecutionLines: unreadable };
}
