import type * as z from 'zod';
import type { CommandEnvelope } from '#contracts/envelope.js';
import type { CommandOutcome } from '#contracts/lifecycle.js';
import type { LifecycleStore } from '../lifecycle/ports.js';
import type { ActionExecutor, ApprovalStore, WorkerDelegationPorts } from './ports.js';

/** Thresholds the command handlers read, from the environment config. */
export interface CommandSettings {
  readonly ingestionErrorRatioThreshold: number;
  readonly stuckRunningMinutes: number;
  readonly staleReviewHours: number;
}

export const DEFAULT_COMMAND_SETTINGS: CommandSettings = {
  ingestionErrorRatioThreshold: 0.05,
  stuckRunningMinutes: 60,
  staleReviewHours: 24,
};

export interface CommandDependencies {
  readonly approvals: ApprovalStore;
  readonly actions: ActionExecutor;
  readonly lifecycle: Pick<LifecycleStore, 'scanForAnomalies'>;
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
