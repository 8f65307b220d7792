import * as z from 'zod';
import {
  type AGENT_DETAIL_TYPES,
  RUN_OUTCOMES,
  STALL_ROOT_CAUSES,
  STALL_TIMEOUTS,
} from './agent-event-names.js';
import type { WORKER_DETAIL_TYPES, WorkerHeartbeatEvent, WorkerResultEnvelope } from './worker-contract.js';

/**
 * Events the on-host agent (`runlane-agent`) emits. One definition, shared by the
 * agent (which writes them to `evidence/runner/stall-events.jsonl`) and, later, the
 * ingest Lambda that receives them from the bus.
 */

// The names and enumerations, zod-free (an idle `runlane-agent run` imports only those).
export {
  AGENT_DETAIL_TYPES,
  AGENT_EVENT_SOURCE,
  RUN_OUTCOMES,
  type RunOutcome,
  STALL_ROOT_CAUSES,
  STALL_TIMEOUTS,
  type StallRootCause,
  type StallTimeout,
} from './agent-event-names.js';

/**
 * One stall of a command run under `runlane-agent run`, as one JSON line of the evidence file.
 *
 * @example
 * const event = runnerStallEventSchema.parse(JSON.parse(line));
 * event.rootCause; // 'network'
 */
/** Fields every agent event has: its id (receivers drop resends by it), when and where. */
const agentEventFields = {
  id: z.uuid(),
  /** UTC, ISO 8601: when the stall was detected, the run ended, the health was sampled… */
  ts: z.iso.datetime({ offset: true }),
  host: z.string().min(1),
  environment: z.string().min(1),
};

/** The label `runlane-agent run --command-type` gives a run's events. */
const commandType = z.string().min(1);

export const runnerStallEventSchema = z
  .object({
    ...agentEventFields,
    commandType,
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

/**
 * One finished run of `runlane-agent run`, stalled or not: one JSON line of
 * `evidence/runner/run-summaries.jsonl` and one `RunnerRunSummary` event on the bus.
 * The daily report reads durations and failure rates from these.
 */
export const runnerRunSummaryEventSchema = z
  .object({
    ...agentEventFields,
    commandType,
    outcome: z.enum(RUN_OUTCOMES),
    /** The agent's exit code for the run (124 idle timeout, 125 hard timeout, 128+n signal). */
    exitCode: z.number().int().nonnegative(),
    /** Start of the command to its end (or to its stall's kill). */
    durationMs: z.number().int().nonnegative(),
    /** The stall event's id, when a deadline fired. */
    stallId: z.uuid().optional(),
    /**
     * Processes the command left in its process group when it exited, stopped by the agent
     * (SIGTERM, SIGKILL after the grace); 0 with `keepOrphans`. Absent from older agents' summaries.
     */
    orphansStopped: z.number().int().nonnegative().optional(),
  })
  .strict();

export type RunnerRunSummaryEvent = z.infer<typeof runnerRunSummaryEventSchema>;

/** Default evidence files of the agent, relative to its working directory (seed 002). */
export const RUNNER_EVIDENCE_FILES = {
  stalls: 'evidence/runner/stall-events.jsonl',
  runSummaries: 'evidence/runner/run-summaries.jsonl',
} as const;

/** Health status of `runlane-agent supervise` (seed 001). */
export const SUPERVISOR_STATUSES = ['starting', 'ready', 'degraded', 'stopping'] as const;
export type SupervisorStatus = (typeof SUPERVISOR_STATUSES)[number];

/** `connected` while the EventBridge reporter delivered within its window (seed 001's `dashboard_link`). */
export const DASHBOARD_LINK_STATES = ['connected', 'disconnected'] as const;
export type DashboardLinkState = (typeof DASHBOARD_LINK_STATES)[number];

/** How a supervised child ended, as seed 001 names it (`TaskExit::<kind>`). */
export const TASK_EXIT_KINDS = ['Exited', 'Failed', 'Panicked', 'Killed'] as const;
export type TaskExitKind = (typeof TASK_EXIT_KINDS)[number];

/** What the supervisor did about a child: the `event` of a `SupervisorChild` event. */
export const SUPERVISOR_CHILD_EVENTS = [
  'exited',
  'restarted',
  'quarantined',
  'released',
  'added',
  'removed',
  'orphan_found',
] as const;
export type SupervisorChildEventKind = (typeof SUPERVISOR_CHILD_EVENTS)[number];

/**
 * The supervisor's health, sent periodically (and on status changes) as a
 * `SupervisorHealth` event; the control plane keeps the latest per host.
 * Field names follow seed 001 (`health.*`) in camelCase.
 */
export const supervisorHealthEventSchema = z
  .object({
    ...agentEventFields,
    status: z.enum(SUPERVISOR_STATUSES),
    uptimeSecs: z.number().nonnegative(),
    controlLoopIterations: z.number().int().nonnegative(),
    dashboardLink: z.enum(DASHBOARD_LINK_STATES),
    children: z
      .object({
        running: z.number().int().nonnegative(),
        failed: z.number().int().nonnegative(),
        quarantined: z.number().int().nonnegative(),
        targetCount: z.number().int().nonnegative(),
      })
      .strict(),
  })
  .strict();
export type SupervisorHealthEvent = z.infer<typeof supervisorHealthEventSchema>;

/**
 * A child's exit, restart, quarantine, release, addition, removal, or an orphan
 * found at start-up, as a `SupervisorChild` event.
 */
export const supervisorChildEventSchema = z
  .object({
    ...agentEventFields,
    event: z.enum(SUPERVISOR_CHILD_EVENTS),
    child: z.string().min(1),
    pid: z.number().int().positive().optional(),
    exit: z
      .object({
        kind: z.enum(TASK_EXIT_KINDS),
        code: z.number().int().optional(),
        signal: z.string().optional(),
        /** Failed: why; Panicked: the crash signal or uncaught error text; Killed: by whom (watchdog idle/hard, operator). */
        reason: z.string().optional(),
      })
      .strict()
      .optional(),
    restartCount: z.number().int().nonnegative(),
    /** Restart budget tokens left after this event. */
    tokensLeft: z.number().int().nonnegative(),
  })
  .strict();
export type SupervisorChildEvent = z.infer<typeof supervisorChildEventSchema>;

/** Detail types of the supervisor's events on the telemetry bus (source `runlane.agent`). */
export const SUPERVISOR_DETAIL_TYPES = {
  health: 'SupervisorHealth',
  child: 'SupervisorChild',
} as const;

/** An agent event on the bus, by detail type. */
export type AgentBusEvent =
  | { readonly detailType: typeof AGENT_DETAIL_TYPES.stall; readonly detail: RunnerStallEvent }
  | { readonly detailType: typeof AGENT_DETAIL_TYPES.runSummary; readonly detail: RunnerRunSummaryEvent }
  | { readonly detailType: typeof SUPERVISOR_DETAIL_TYPES.health; readonly detail: SupervisorHealthEvent }
  | { readonly detailType: typeof SUPERVISOR_DETAIL_TYPES.child; readonly detail: SupervisorChildEvent }
  | { readonly detailType: typeof WORKER_DETAIL_TYPES.heartbeat; readonly detail: WorkerHeartbeatEvent }
  | { readonly detailType: typeof WORKER_DETAIL_TYPES.result; readonly detail: WorkerResultEnvelope };
