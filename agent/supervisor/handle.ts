import type { DashboardLinkState, SupervisorStatus, TaskExitKind } from '#contracts/agent-events.js';

/**
 * What `runlane-agent supervise` exposes to its control socket and `runlane-agent ctl`
 * (seed 001: `handle.health()`, `handle.current_state()`, `handle.remove_child()`…).
 * The JSON over the socket is exactly these shapes.
 */

/** A child's state in `current_state`. */
export const CHILD_STATES = [
  'starting',
  'running',
  'backoff',
  'stopping',
  'exited',
  'failed',
  'quarantined',
] as const;
export type ChildState = (typeof CHILD_STATES)[number];

export type RestartPolicy = 'permanent' | 'transient' | 'temporary';

/** How a child last ended (seed 001 `TaskExit::<kind>`). */
export interface TaskExit {
  readonly kind: TaskExitKind;
  readonly code?: number;
  readonly signal?: string;
  readonly reason?: string;
  /** UTC ISO time of the exit. */
  readonly at: string;
}

/** `health` (seed 001 field names, snake_case on the wire). */
export interface SupervisorHealth {
  readonly status: SupervisorStatus;
  readonly uptime_secs: number;
  readonly control_loop_iterations: number;
  readonly dashboard_link: DashboardLinkState;
  readonly children: ChildCounts;
}

export interface ChildCounts {
  readonly running: number;
  readonly failed: number;
  readonly quarantined: number;
  /** Children the config (plus add-child, minus remove-child) wants running. */
  readonly target_count: number;
}

/** One child in `current_state.child_runtime_records`. */
export interface ChildRuntimeRecord {
  readonly name: string;
  readonly pid: number | null;
  readonly state: ChildState;
  readonly restart_policy: RestartPolicy;
  readonly restart_count: number;
  readonly last_exit: TaskExit | null;
  readonly restart_budget: {
    readonly tokens: number;
    readonly capacity: number;
    readonly refill_window_ms: number;
  };
}

/** `current_state`. */
export interface SupervisorCurrentState {
  readonly status: SupervisorStatus;
  readonly children: ChildCounts;
  readonly child_runtime_records: readonly ChildRuntimeRecord[];
}

/** Control commands (seed 001), by name on the wire: `{ "command": "remove-child", "name": "relay" }`. */
export type ControlCommand =
  | { readonly command: 'health' }
  | { readonly command: 'current-state' }
  | { readonly command: 'remove-child'; readonly name: string }
  /** `spec` is one child entry of the supervisor config (validated by the config schema). */
  | { readonly command: 'add-child'; readonly spec: unknown }
  | { readonly command: 'quarantine-child'; readonly name: string }
  | { readonly command: 'release-child'; readonly name: string }
  | { readonly command: 'restart-child'; readonly name: string };

/** Seed 001 `CommandResult::Accepted` / `CommandResult::Rejected { reason }`. */
export type CommandResult =
  | { readonly result: 'Accepted' }
  | { readonly result: 'Rejected'; readonly reason: string };

/** The running supervisor as the control socket sees it. */
export interface SupervisorHandle {
  health(): SupervisorHealth;
  currentState(): SupervisorCurrentState;
  /** Mutating commands; `health` / `current-state` are answered from the two methods above. */
  execute(
    command: Exclude<ControlCommand, { command: 'health' } | { command: 'current-state' }>,
  ): Promise<CommandResult>;
}
