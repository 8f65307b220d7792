import * as z from 'zod';
import { SIGNAL_TYPES } from '../lifecycle.js';
import { APPROVAL_ID_PATTERN } from './proposals.js';
import type { CommandDefinition } from './types.js';

export const approvalDecisionPayloadSchema = z
  .object({
    approvalId: z.string().regex(APPROVAL_ID_PATTERN, 'must be an approval id such as apr-<24 hex>'),
    decision: z.enum(['approve', 'reject']),
    decidedBy: z.string().min(1).max(128),
    rationale: z.string().max(1000).optional(),
  })
  .strict();

/**
 * `agent.approval.decided`: approve executes the action through the
 * idempotent action port (recorded in action history); reject closes the
 * request with its rationale. An unknown approval or a second decision fails
 * closed to NeedsReview with a signal — retrying would not change the answer.
 */
export const agentApprovalDecided: CommandDefinition<typeof approvalDecisionPayloadSchema> = {
  commandType: 'agent.approval.decided',
  payloadSchema: approvalDecisionPayloadSchema,
  async execute({ envelope, payload, now, deps }) {
    const rationale = payload.rationale ?? `${payload.decision} by ${payload.decidedBy}`;
    const decided = await deps.approvals.decide({
      approvalId: payload.approvalId,
      householdId: envelope.householdId,
      decision: payload.decision,
      commandId: envelope.commandId,
      rationale,
      now,
    });
    if (decided.outcome === 'not_found') {
      return {
        status: 'NeedsReview',
        outcomeCode: SIGNAL_TYPES.approvalUnknown,
        rationale: `approval ${payload.approvalId} does not exist for household ${envelope.householdId}`,
        signals: [
          {
            type: SIGNAL_TYPES.approvalUnknown,
            RequiresHumanReview: true,
            code: SIGNAL_TYPES.approvalUnknown,
            rationale: `no approval ${payload.approvalId}`,
          },
        ],
      };
    }
    if (decided.outcome === 'already_decided') {
      return {
        status: 'NeedsReview',
        outcomeCode: SIGNAL_TYPES.approvalAlreadyDecided,
        rationale: `approval ${payload.approvalId} was already ${decided.approval.status} by command ${decided.approval.decidedByCommandId}`,
        signals: [
          {
            type: SIGNAL_TYPES.approvalAlreadyDecided,
            RequiresHumanReview: true,
            code: SIGNAL_TYPES.approvalAlreadyDecided,
            rationale: `second decision on ${payload.approvalId}`,
          },
        ],
      };
    }
    const approval = decided.approval;
    if (payload.decision === 'reject') {
      return {
        status: 'Completed',
        outcomeCode: 'approval_rejected',
        rationale,
        result: { approvalId: approval.approvalId, action: approval.action.action },
      };
    }
    const execution = await deps.actions.execute({
      idempotencyKey: `${envelope.commandId}:${approval.approvalId}`,
      householdId: envelope.householdId,
      approvalId: approval.approvalId,
      action: approval.action,
      commandId: envelope.commandId,
      now,
    });
    return {
      status: 'Completed',
      outcomeCode: 'action_executed',
      rationale: `${approval.action.action} executed after approval by ${payload.decidedBy}`,
      result: {
        approvalId: approval.approvalId,
        action: approval.action.action,
        executedNow: execution.executed,
      },
    };
  },
};
