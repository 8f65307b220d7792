import { agentApprovalDecided } from './agent-approval-decided.js';
import { agentMessagePosted } from './agent-message-posted.js';
import { anomalySweep } from './anomaly-sweep.js';
import { ingestionCompleted } from './ingestion-completed.js';
import type { CommandDefinition } from './types.js';

/** Every command type the control plane executes, by name. */
export const COMMAND_DEFINITIONS: ReadonlyMap<string, CommandDefinition> = new Map<string, CommandDefinition>(
  [agentMessagePosted, agentApprovalDecided, ingestionCompleted, anomalySweep].map((definition) => [
    definition.commandType,
    definition as CommandDefinition,
  ]),
);
