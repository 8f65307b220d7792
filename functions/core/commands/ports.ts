import type { ApprovalRequestFields, ProposedAction } from '#contracts/lifecycle.js';
import type { OpenRunsIndex } from '../lifecycle/open-runs-ports.js';
import type { CommandQueue } from '../queues/ports.js';
import type {
  DelegationFlagStore,
  WorkerRegistry,
  WorkerTaskQueue,
  WorkerTaskStore,
} from '../workers/ports.js';

export interface ApprovalRequest extends ApprovalRequestFields {
  readonly status: 'Pending' | 'Approved' | 'Rejected';
  readonly decidedByCommandId?: string;
  readonly decisionRationale?: string;
  readonly decidedAt?: string;
}

export type DecideApprovalResult =
  | { readonly outcome: 'decided'; readonly approval: ApprovalRequest }
  /** This command, or the command it replays, already decided it (a retry or a replay): carry on idempotently. */
  | { readonly outcome: 'already_decided_by_this_command'; readonly approval: ApprovalRequest }
  | { readonly outcome: 'already_decided'; readonly approval: ApprovalRequest }
  | { readonly outcome: 'not_found' };

export interface ApprovalStore {
  decide(input: {
    readonly approvalId: string;
    readonly householdId: string;
    /**
     * The deciding envelope's conversation: an approval of another conversation (or a decision
     * without one) is `not_found`, like another household's.
     */
    readonly conversationId: string | undefined;
    readonly decision: 'approve' | 'reject';
    readonly commandId: string;
    /**
     * The command the deciding command replays (its envelope's `replayOf`): when that command — or
     * one it replayed — decided the approval, this is the same decision carried on, not a second one.
     */
    readonly replayOf?: string | undefined;
    readonly rationale: string;
    readonly now: Date;
  }): Promise<DecideApprovalResult>;
}

/**
 * Executes approved actions. Idempotent per `idempotencyKey` (commandId + effect
 * key): a retry after a failure that followed the effect does not repeat it.
 */
export interface ActionExecutor {
  execute(request: {
    readonly idempotencyKey: string;
    readonly householdId: string;
    readonly approvalId: string;
    readonly action: ProposedAction;
    readonly commandId: string;
    readonly now: Date;
  }): Promise<{ readonly executed: boolean }>;
}

/**
 * What the delegation branch of `agent.approval.decided` needs (seed 004): the task store, the
 * site lanes, the registry (is a worker of the site online?) and the delegation flag. Without
 * it, approved actions always run in-process.
 */
export interface WorkerDelegationPorts {
  /** The control plane's environment, written into each task message. */
  readonly environment: string;
  readonly tasks: Pick<WorkerTaskStore, 'createQueued' | 'get'>;
  readonly queue: Pick<WorkerTaskQueue, 'send'>;
  readonly registry: Pick<WorkerRegistry, 'list'>;
  readonly flag: Pick<DelegationFlagStore, 'get'>;
  /** Missed heartbeats before a worker counts as offline. */
  readonly staleMultiple: number;
  /**
   * The task's start deadline (`timeoutMs` of the message).
   * @default 300_000
   */
  readonly taskTimeoutMs?: number;
  /**
   * How long the delegated run waits for the task's result (`delegation.deadlineAt`), in ms.
   * @default DEFAULT_RESULT_DEADLINE_SECONDS × 1000 (`functions/core/workers/settings.ts`)
   */
  readonly resultDeadlineMs?: number;
}

/**
 * What `anomaly.sweep` reads and writes (issue 16 item 6): the open-runs indexes instead of a
 * table scan, a way to enqueue the next link of a pass that ran out of time, and the time left.
 */
export interface AnomalySweepPorts {
  readonly openRuns: OpenRunsIndex;
  /**
   * Enqueues the sweep's continuation (the same lane). Without it a pass that runs out of time
   * ends there, reported as `sweep_incomplete`.
   * @default undefined
   */
  readonly continuations?: CommandQueue;
  /**
   * Milliseconds left to this invocation (the Lambda's remaining time), or undefined when unknown;
   * the sweep then allows itself `DEFAULT_SWEEP_BUDGET_MS`.
   * @default undefined
   */
  readonly timeLeftMs?: () => number | undefined;
  /**
   * Runs read per index page.
   * @default 100
   */
  readonly pageSize?: number;
}
