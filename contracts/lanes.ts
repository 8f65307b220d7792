/**
 * The command lanes, declared once. The CDK stacks, the local runtime, the lane
 * workers and the CLI all read this list (STYLE principle 7): adding a lane here
 * makes it appear everywhere.
 */

/** Command types the control plane knows how to execute. */
export const COMMAND_TYPES = [
  'agent.message.posted',
  'agent.approval.decided',
  'ingestion.completed',
  'anomaly.sweep',
] as const;

export type CommandType = (typeof COMMAND_TYPES)[number];

export interface LaneDefinition {
  /** Lane name, exactly as seed 003 names the queue. */
  readonly name: string;
  /** Short id used in construct ids and env var names (metrics use `name` as their `Lane` dimension). */
  readonly id: string;
  /** Command types a worker on this lane executes; anything else is `unsupported_command_type`. */
  readonly commandTypes: readonly CommandType[];
  /** Human description used in summaries and dashboards. */
  readonly description: string;
}

export const LANES = [
  {
    name: 'runtime-ingestion-completed',
    id: 'IngestionCompleted',
    commandTypes: ['ingestion.completed'],
    description: 'Ingestion batches finished upstream; records counts and raises error-ratio signals.',
  },
  {
    name: 'runtime-agent-message-posted',
    id: 'AgentMessagePosted',
    commandTypes: ['agent.message.posted', 'agent.approval.decided'],
    description: 'Conversation messages and approval decisions posted through the API.',
  },
  {
    name: 'runtime-nightly-anomaly-sweep',
    id: 'NightlyAnomalySweep',
    commandTypes: ['anomaly.sweep'],
    description: 'Nightly sweep for stuck runs, expired attempt locks and stale reviews.',
  },
] as const satisfies readonly LaneDefinition[];

export type LaneName = (typeof LANES)[number]['name'];

export const LANE_NAMES = LANES.map((lane) => lane.name) as unknown as readonly [LaneName, ...LaneName[]];

/** Finds the lane that carries a command type. */
export function laneForCommandType(commandType: CommandType): LaneDefinition {
  const lane = LANES.find((candidate) => (candidate.commandTypes as readonly string[]).includes(commandType));
  if (!lane) throw new Error(`No lane carries command type ${commandType}`);
  return lane;
}

export function laneByName(name: string): LaneDefinition | undefined {
  return LANES.find((lane) => lane.name === name);
}

/**
 * Receives a lane queue allows after the worker's final attempt before SQS redrives the message
 * itself. The worker runs nothing on them: it closes a run whose final attempt died
 * (`attempt_abandoned`) and dead-letters the message with that reason. SQS's own redrive, which
 * carries no reason, is then only the backstop for a worker that cannot reach its store at all.
 */
export const LANE_GRACE_RECEIVES = 2;

/** The queue's redrive `maxReceiveCount` for a lane whose final attempt is receive `maxReceiveCount`. */
export function laneRedriveReceiveCount(maxReceiveCount: number): number {
  return maxReceiveCount + LANE_GRACE_RECEIVES;
}

/** Name of the dead-letter queue that backs a lane. */
export function deadLetterQueueName(laneName: string): string {
  return `${laneName}-dlq`;
}
