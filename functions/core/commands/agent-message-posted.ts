import * as z from 'zod';
import type { DomainRecord } from '#contracts/lifecycle.js';
import { approvalIdFor, deriveProposals } from './proposals.js';
import type { CommandDefinition } from './types.js';

export const agentMessagePayloadSchema = z
  .object({
    text: z.string().min(1).max(4000),
    authorId: z.string().min(1).max(128).optional(),
  })
  .strict();

/**
 * `agent.message.posted`: stores the message on its conversation and derives
 * proposals; each high-impact proposal becomes a Pending approval request.
 * Nothing is executed or sent here.
 */
export const agentMessagePosted: CommandDefinition<typeof agentMessagePayloadSchema> = {
  commandType: 'agent.message.posted',
  payloadSchema: agentMessagePayloadSchema,
  async execute({ envelope, payload }) {
    const conversationId = envelope.conversationId;
    if (!conversationId) throw new Error('agent.message.posted needs a conversationId');
    const proposals = deriveProposals(payload.text);
    const records: DomainRecord[] = [
      {
        kind: 'conversationMessage',
        conversationId,
        householdId: envelope.householdId,
        commandId: envelope.commandId,
        postedAt: envelope.issuedAt,
        text: payload.text,
        ...(payload.authorId ? { authorId: payload.authorId } : {}),
      },
    ];
    const approvalIds: string[] = [];
    proposals.forEach((action, index) => {
      if (action.impact !== 'high') return;
      const approvalId = approvalIdFor(envelope.commandId, index);
      approvalIds.push(approvalId);
      records.push({
        kind: 'approvalRequest',
        approvalId,
        conversationId,
        householdId: envelope.householdId,
        requestedByCommandId: envelope.commandId,
        correlationId: envelope.correlationId,
        action,
        requestedAt: envelope.issuedAt,
      });
    });
    return {
      status: 'Completed',
      outcomeCode: approvalIds.length > 0 ? 'approval_requested' : 'message_recorded',
      rationale: `message stored; ${proposals.length} proposal(s), ${approvalIds.length} awaiting approval`,
      result: { proposals: proposals.map((p) => `${p.action}:${p.impact}`), approvalIds },
      records,
    };
  },
};
