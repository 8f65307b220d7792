import { recordToItem, runToItem } from '#adapters/dynamodb/items.js';
import { ENVELOPE_SCHEMA_VERSION } from '#contracts/envelope.js';
import type { ProposedAction } from '#contracts/lifecycle.js';
import { approvalIdFor } from '#core/commands/proposals.js';
import { completeRun, newRun } from '#core/lifecycle/run.js';

/**
 * The two lifecycle-table items `agent.message.posted` leaves for one high-impact proposal: its
 * Completed run and the Pending approval request. An approval request is decidable only once the
 * run that requested it is Completed, so a benchmark or test that seeds an approval directly (to
 * skip the message lane) writes both.
 *
 * @example
 * const { approvalId, items } = pendingApprovalItems({ householdId, conversationId, action, now: new Date() });
 * for (const Item of items) await documents.send(new PutCommand({ TableName, Item }));
 */
export function pendingApprovalItems(input: {
  readonly householdId: string;
  readonly conversationId: string;
  readonly requestedBy: string;
  readonly action: ProposedAction;
  readonly now: Date;
}): { readonly approvalId: string; readonly items: readonly Record<string, unknown>[] } {
  const { householdId, conversationId, requestedBy, now } = input;
  const approvalId = approvalIdFor(requestedBy, 0);
  const correlationId = `agent:${householdId}:${conversationId}:${requestedBy}`;
  const requesting = newRun(
    {
      schemaVersion: ENVELOPE_SCHEMA_VERSION,
      commandId: requestedBy,
      commandType: 'agent.message.posted',
      lane: 'runtime-agent-message-posted',
      correlationId,
      householdId,
      conversationId,
      issuedAt: now.toISOString(),
      payload: {},
    },
    {
      attemptId: 'seeded',
      lockExpiresAt: now.getTime(),
      now,
      expiresAt: Math.floor(now.getTime() / 1000) + 86_400,
    },
  );
  const run = completeRun(
    requesting,
    {
      status: 'Completed',
      outcomeCode: 'approval_requested',
      rationale: 'seeded',
      result: { approvalIds: [approvalId] },
    },
    now,
  );
  return {
    approvalId,
    items: [
      runToItem(run),
      recordToItem({
        kind: 'approvalRequest',
        approvalId,
        conversationId,
        householdId,
        requestedByCommandId: requestedBy,
        correlationId,
        action: input.action,
        requestedAt: now.toISOString(),
      }),
    ],
  };
}
