import * as z from 'zod';
import { type CommandOutcome, type ProposedAction, SIGNAL_TYPES } from '#contracts/lifecycle.js';
import { delegateApprovedAction, resultDeadlineOf } from '../workers/delegation.js';
import type { WorkerTaskRecord } from '../workers/ports.js';
import type { WorkerDelegationPorts } from './ports.js';
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
 *
 * With worker delegation (seed 004) on and a worker-eligible action
 * (`workers/delegation.ts`), the action is not executed here: a `queued` task
 * goes to its site's lane and the outcome is `Running` with a `delegation`
 * (`action_delegated`, the task id and the result's deadline): the lane
 * message is done, the run waits in its `delegated` stage until the worker's
 * result is reconciled (Completed, or NeedsReview `worker_task_failed`) or the
 * deadline passes (NeedsReview `worker_result_missing`, the worker sweep).
 * No worker of the site online fails closed (`no_worker_online`).
 */
export const agentApprovalDecided: CommandDefinition<typeof approvalDecisionPayloadSchema> = {
  commandType: 'agent.approval.decided',
  payloadSchema: approvalDecisionPayloadSchema,
  async execute({ envelope, payload, now, deps }) {
    const rationale = payload.rationale ?? `${payload.decision} by ${payload.decidedBy}`;
    const decided = await deps.approvals.decide({
      approvalId: payload.approvalId,
      householdId: envelope.householdId,
      conversationId: envelope.conversationId,
      decision: payload.decision,
      commandId: envelope.commandId,
      replayOf: envelope.replayOf,
      rationale,
      now,
    });
    if (decided.outcome === 'not_found') {
      return {
        status: 'NeedsReview',
        outcomeCode: SIGNAL_TYPES.approvalUnknown,
        rationale: `approval ${payload.approvalId} does not exist for household ${envelope.householdId} and conversation ${envelope.conversationId ?? '(none)'}`,
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
    if (deps.workers) {
      const delegated = await delegate(deps.workers, {
        commandId: envelope.commandId,
        correlationId: envelope.correlationId,
        householdId: envelope.householdId,
        approvalId: approval.approvalId,
        action: approval.action,
        decidedBy: payload.decidedBy,
        now,
      });
      if (delegated) return delegated;
    }
    // Keyed on the command that first made this decision, so a replay of it (a new commandId,
    // same decision) finds the action already executed instead of running it again.
    const execution = await deps.actions.execute({
      idempotencyKey: `${approval.decidedByCommandId ?? envelope.commandId}:${approval.approvalId}`,
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

/** The delegation branch: an outcome, or undefined to execute in-process. */
async function delegate(
  ports: WorkerDelegationPorts,
  request: {
    readonly commandId: string;
    readonly correlationId: string;
    readonly householdId: string;
    readonly approvalId: string;
    readonly action: ProposedAction;
    readonly decidedBy: string;
    readonly now: Date;
  },
): Promise<CommandOutcome | undefined> {
  const decision = await delegateApprovedAction(ports, request);
  switch (decision.outcome) {
    case 'in_process':
      return undefined;
    case 'invalid':
      return {
        status: 'NeedsReview',
        outcomeCode: SIGNAL_TYPES.workerActionInvalid,
        rationale: `${request.action.action} names a site but is not a valid worker task: ${decision.rationale}`,
        signals: [
          {
            type: SIGNAL_TYPES.workerActionInvalid,
            RequiresHumanReview: true,
            code: SIGNAL_TYPES.workerActionInvalid,
            rationale: `${decision.fieldPath}: ${decision.rationale}`,
          },
        ],
      };
    case 'no_worker_online':
      return {
        status: 'NeedsReview',
        outcomeCode: SIGNAL_TYPES.noWorkerOnline,
        rationale: `delegation is on but no worker of site ${decision.site} is online; ${request.action.action} was not executed`,
        signals: [
          {
            type: SIGNAL_TYPES.noWorkerOnline,
            RequiresHumanReview: true,
            code: SIGNAL_TYPES.noWorkerOnline,
            rationale: `no online worker for site ${decision.site}`,
          },
        ],
      };
    case 'delegated':
      return delegatedOutcome(decision.task, request, ports.resultDeadlineMs);
  }
}

/**
 * The outcome of an action handed to a worker: `Running` with the delegation while its task is
 * `queued` or `executing`. A task already finished (this command was retried after its task was
 * closed) gives its final outcome at once, as the reconciled result would have.
 */
function delegatedOutcome(
  task: WorkerTaskRecord,
  request: { readonly approvalId: string; readonly action: ProposedAction; readonly decidedBy: string },
  resultDeadlineMs: number | undefined,
): CommandOutcome {
  const where = `${request.action.action} delegated to site ${task.site} as task ${task.taskId} (${task.message.input.kind}) after approval by ${request.decidedBy}`;
  const result = {
    approvalId: request.approvalId,
    action: request.action.action,
    taskId: task.taskId,
    site: task.site,
    kind: task.message.input.kind,
  };
  if (task.status === 'succeeded') {
    return {
      status: 'Completed',
      outcomeCode: 'worker_task_succeeded',
      rationale: `${where}; the task already succeeded`,
      result: { ...result, taskStatus: task.status },
    };
  }
  if (task.status === 'failed') {
    const code = task.errorCode ?? SIGNAL_TYPES.workerTaskFailed;
    return {
      status: 'NeedsReview',
      outcomeCode: SIGNAL_TYPES.workerTaskFailed,
      rationale: `${where}; the task already failed with ${code}`,
      result: { ...result, taskStatus: task.status },
      signals: [
        {
          type: SIGNAL_TYPES.workerTaskFailed,
          RequiresHumanReview: true,
          code,
          rationale: `task ${task.taskId} failed with ${code}`,
        },
      ],
    };
  }
  const deadlineAt = resultDeadlineOf(task, resultDeadlineMs);
  return {
    status: 'Running',
    outcomeCode: 'action_delegated',
    rationale: `${where}; its result is due by ${deadlineAt}`,
    result,
    delegation: { taskId: task.taskId, site: task.site, deadlineAt },
  };
}
