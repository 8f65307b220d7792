import type * as z from 'zod';
import type { CommandEnvelope } from '#contracts/envelope.js';
import type { CommandOutcome } from '#contracts/lifecycle.js';
import type { ActionExecutor, AnomalySweepPorts, ApprovalStore, WorkerDelegationPorts } from './ports.js';

/** Thresholds the command handlers read, from the environment config. */
export interface CommandSettings {
  readonly ingestionErrorRatioThreshold: number;
  readonly stuckRunningMinutes: number;
  readonly staleReviewHours: number;
  /**
   * `anomaly.sweep`: a run whose key is still Reserved this many minutes after its lock lapsed is
   * closed as `attempt_abandoned`. Longer than the lane's (maxReceiveCount + 2) × visibility
   * timeout, so no receive of its message can still be coming.
   * @default 60
   */
  readonly abandonAfterMinutes?: number;
}

export const DEFAULT_COMMAND_SETTINGS: CommandSettings = {
  ingestionErrorRatioThreshold: 0.05,
  stuckRunningMinutes: 60,
  staleReviewHours: 24,
  abandonAfterMinutes: 60,
};

export interface CommandDependencies {
  readonly approvals: ApprovalStore;
  readonly actions: ActionExecutor;
  /**
   * What `anomaly.sweep` reads and writes; without it the sweep fails (handler_failed).
   * @default undefined
   */
  readonly sweep?: AnomalySweepPorts;
  readonly settings: CommandSettings;
  /**
   * Worker delegation (seed 004). Without it, approved actions always run in-process.
   * @default undefined
   */
  readonly workers?: WorkerDelegationPorts;
}

export interface CommandContext<P> {
  readonly envelope: CommandEnvelope;
  readonly payload: P;
  readonly attempt: number;
  readonly now: Date;
  readonly deps: CommandDependencies;
}

/** A command type: its payload schema and what executing it means. */
export interface CommandDefinition<S extends z.ZodType = z.ZodType> {
  readonly commandType: string;
  readonly payloadSchema: S;
  execute(context: CommandContext<z.infer<S>>): Promise<CommandOutcome>;
}
