/**
 * The names and enumerations of the agent's events (contracts/agent-events.ts), without their
 * zod schemas: what an idle `runlane-agent run` needs at start, so it never evaluates zod's
 * classic API (about 3 MiB of its RSS, issue 18). agent-events.ts re-exports all of it.
 */

/** Root-cause categories of a stall (seed 002). */
export const STALL_ROOT_CAUSES = ['io_wait', 'network', 'child_hang', 'lock', 'cpu_starve'] as const;
export type StallRootCause = (typeof STALL_ROOT_CAUSES)[number];

/** Which deadline fired: no output for `idleMs`, or `hardMs` since start. */
export const STALL_TIMEOUTS = ['idle', 'hard'] as const;
export type StallTimeout = (typeof STALL_TIMEOUTS)[number];

/** How a run under `runlane-agent run` ended (the `outcome` label of the agent's run metrics). */
export const RUN_OUTCOMES = ['success', 'failure', 'idle_timeout', 'hard_timeout', 'aborted'] as const;
export type RunOutcome = (typeof RUN_OUTCOMES)[number];

/**
 * How agent events travel on the telemetry bus: `Source` and `DetailType` of the
 * PutEvents entries; `Detail` is the event itself (its `id` lets receivers drop resends).
 */
export const AGENT_EVENT_SOURCE = 'runlane.agent';
export const AGENT_DETAIL_TYPES = {
  stall: 'RunnerStall',
  runSummary: 'RunnerRunSummary',
} as const;
