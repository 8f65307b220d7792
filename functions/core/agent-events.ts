import * as z from 'zod';

/**
 * Events the on-host agent (`runlane-agent`) emits. One definition, shared by the
 * agent (which writes them to `evidence/runner/stall-events.jsonl`) and, later, the
 * ingest Lambda that receives them from the bus.
 */

/** Root-cause categories of a stall (seed 002). */
export const STALL_ROOT_CAUSES = ['io_wait', 'network', 'child_hang', 'lock', 'cpu_starve'] as const;
export type StallRootCause = (typeof STALL_ROOT_CAUSES)[number];

/** Which deadline fired: no output for `idleMs`, or `hardMs` since start. */
export const STALL_TIMEOUTS = ['idle', 'hard'] as const;
export type StallTimeout = (typeof STALL_TIMEOUTS)[number];

/**
 * One stall of a command run under `runlane-agent run`, as one JSON line of the evidence file.
 *
 * @example
 * const event = runnerStallEventSchema.parse(JSON.parse(line));
 * event.rootCause; // 'network'
 */
/** Fields every agent event has: its id (receivers drop resends by it), when, where and what ran. */
const agentEventFields = {
  id: z.uuid(),
  /** UTC, ISO 8601: when the stall was detected, or when the run ended. */
  ts: z.iso.datetime({ offset: true }),
  host: z.string().min(1),
  environment: z.string().min(1),
  commandType: z.string().min(1),
};

export const runnerStallEventSchema = z
  .object({
    ...agentEventFields,
    rootCause: z.enum(STALL_ROOT_CAUSES),
    idleMs: z.number().int().positive(),
    hardMs: z.number().int().positive(),
    /** Time from start of the command to the stall's detection. */
    elapsedMs: z.number().int().nonnegative(),
    timeout: z.enum(STALL_TIMEOUTS),
    /** Pid (and process group id) of the command the agent started. */
    pid: z.number().int().positive(),
    /** The output lines and host readings that decided `rootCause`. */
    evidence: z.array(z.string()),
  })
  .strict();

export type RunnerStallEvent = z.infer<typeof runnerStallEventSchema>;

/** How a run under `runlane-agent run` ended (the `outcome` label of the agent's run metrics). */
export const RUN_OUTCOMES = ['success', 'failure', 'idle_timeout', 'hard_timeout', 'aborted'] as const;
export type RunOutcome = (typeof RUN_OUTCOMES)[number];

/**
 * One finished run of `runlane-agent run`, stalled or not: one JSON line of
 * `evidence/runner/run-summaries.jsonl` and one `RunnerRunSummary` event on the bus.
 * The daily report reads durations and failure rates from these.
 */
export const runnerRunSummaryEventSchema = z
  .object({
    ...agentEventFields,
    outcome: z.enum(RUN_OUTCOMES),
    /** The agent's exit code for the run (124 idle timeout, 125 hard timeout, 128+n signal). */
    exitCode: z.number().int().nonnegative(),
    /** Start of the command to its end (or to its stall's kill). */
    durationMs: z.number().int().nonnegative(),
    /** The stall event's id, when a deadline fired. */
    stallId: z.uuid().optional(),
  })
  .strict();

export type RunnerRunSummaryEvent = z.infer<typeof runnerRunSummaryEventSchema>;

/**
 * How agent events travel on the telemetry bus: `Source` and `DetailType` of the
 * PutEvents entries; `Detail` is the event itself (its `id` lets receivers drop resends).
 */
export const AGENT_EVENT_SOURCE = 'runlane.agent';
export const AGENT_DETAIL_TYPES = {
  stall: 'RunnerStall',
  runSummary: 'RunnerRunSummary',
} as const;
export type AgentDetailType = (typeof AGENT_DETAIL_TYPES)[keyof typeof AGENT_DETAIL_TYPES];

/** An agent event on the bus, by detail type. */
export type AgentBusEvent =
  | { readonly detailType: typeof AGENT_DETAIL_TYPES.stall; readonly detail: RunnerStallEvent }
  | { readonly detailType: typeof AGENT_DETAIL_TYPES.runSummary; readonly detail: RunnerRunSummaryEvent };

/** Default evidence files of the agent, relative to its working directory (seed 002). */
export const RUNNER_EVIDENCE_FILES = {
  stalls: 'evidence/runner/stall-events.jsonl',
  runSummaries: 'evidence/runner/run-summaries.jsonl',
} as const;
