import * as z from 'zod';
import { DASHBOARD_LINK_STATES, SUPERVISOR_STATUSES, TASK_EXIT_KINDS } from '#contracts/agent-events.js';
import {
  CHILD_STATES,
  type CommandResult,
  type ControlCommand,
  type SupervisorCurrentState,
  type SupervisorHealth,
} from '../supervisor/handle.js';

/**
 * The control socket's wire protocol: newline-delimited JSON, one request object per line
 * (`{"command":"remove-child","name":"relay"}`), one response line per request, in order:
 * `{"ok":true,"health":…}`, `{"ok":true,"current_state":…}`, a `CommandResult`
 * (`{"result":"Accepted"}` / `{"result":"Rejected","reason":…}`) or
 * `{"ok":false,"error":…,"field_path":…}` for a request that is not the protocol's.
 */

/** Longest request line the server reads (bytes, without the newline). */
export const MAX_REQUEST_LINE_BYTES = 64 * 1024;

/** Names every command of `ControlCommand`, in the order `ctl --help` lists them. */
export const CONTROL_COMMAND_NAMES = [
  'health',
  'current-state',
  'remove-child',
  'add-child',
  'quarantine-child',
  'release-child',
  'restart-child',
] as const satisfies readonly ControlCommand['command'][];

const childName = z.string().min(1).max(256);

/** One request line, after `JSON.parse`. Unknown keys are refused so a typo is not silently ignored. */
export const controlCommandSchema = z.discriminatedUnion('command', [
  z.strictObject({ command: z.literal('health') }),
  z.strictObject({ command: z.literal('current-state') }),
  z.strictObject({ command: z.literal('remove-child'), name: childName }),
  // The child spec's own schema belongs to the supervisor config; here it only has to be an object.
  z.strictObject({ command: z.literal('add-child'), spec: z.record(z.string(), z.unknown()) }),
  z.strictObject({ command: z.literal('quarantine-child'), name: childName }),
  z.strictObject({ command: z.literal('release-child'), name: childName }),
  z.strictObject({ command: z.literal('restart-child'), name: childName }),
]) satisfies z.ZodType<ControlCommand>;

export interface HealthResponse {
  readonly ok: true;
  readonly health: SupervisorHealth;
}

export interface CurrentStateResponse {
  readonly ok: true;
  readonly current_state: SupervisorCurrentState;
}

/** The request was not understood; `field_path` names the offending request field. */
export interface ControlErrorResponse {
  readonly ok: false;
  readonly error: string;
  readonly field_path?: string;
}

/** Any response line. */
export type ControlResponse = HealthResponse | CurrentStateResponse | CommandResult | ControlErrorResponse;

/** The response a command gets when it was understood, or the error response. */
export type ControlResponseFor<C extends ControlCommand> =
  | (C['command'] extends 'health'
      ? HealthResponse
      : C['command'] extends 'current-state'
        ? CurrentStateResponse
        : CommandResult)
  | ControlErrorResponse;

// Responses are read loosely (extra fields pass) so a newer supervisor still answers an older ctl.
const childCountsSchema = z.looseObject({
  running: z.number(),
  failed: z.number(),
  quarantined: z.number(),
  target_count: z.number(),
});

const healthSchema = z.looseObject({
  status: z.enum(SUPERVISOR_STATUSES),
  uptime_secs: z.number(),
  control_loop_iterations: z.number(),
  dashboard_link: z.enum(DASHBOARD_LINK_STATES),
  children: childCountsSchema,
}) satisfies z.ZodType<SupervisorHealth>;

const taskExitSchema = z.looseObject({
  kind: z.enum(TASK_EXIT_KINDS),
  code: z.number().optional(),
  signal: z.string().optional(),
  reason: z.string().optional(),
  at: z.string(),
});

const currentStateSchema = z.looseObject({
  status: z.enum(SUPERVISOR_STATUSES),
  children: childCountsSchema,
  child_runtime_records: z.array(
    z.looseObject({
      name: z.string(),
      pid: z.number().nullable(),
      state: z.enum(CHILD_STATES),
      restart_policy: z.enum(['permanent', 'transient', 'temporary']),
      restart_count: z.number(),
      last_exit: taskExitSchema.nullable(),
      restart_budget: z.looseObject({
        tokens: z.number(),
        capacity: z.number(),
        refill_window_ms: z.number(),
      }),
    }),
  ),
}) satisfies z.ZodType<SupervisorCurrentState>;

const errorResponseSchema = z.looseObject({
  ok: z.literal(false),
  error: z.string(),
  field_path: z.string().optional(),
});

const commandResultSchema = z.union([
  z.looseObject({ result: z.literal('Accepted') }),
  z.looseObject({ result: z.literal('Rejected'), reason: z.string() }),
]);

/** The schema of the response `command` expects (or the error response). */
export function responseSchemaFor(command: ControlCommand['command']): z.ZodType<ControlResponse> {
  switch (command) {
    case 'health':
      return z.union([z.looseObject({ ok: z.literal(true), health: healthSchema }), errorResponseSchema]);
    case 'current-state':
      return z.union([
        z.looseObject({ ok: z.literal(true), current_state: currentStateSchema }),
        errorResponseSchema,
      ]);
    default:
      return z.union([commandResultSchema, errorResponseSchema]);
  }
}

/** Parses one request line into a command, or the error response that answers it. */
export function parseRequestLine(line: string): ControlCommand | ControlErrorResponse {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { ok: false, error: 'request is not valid JSON', field_path: 'command' };
  }
  const parsed = controlCommandSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const fieldPath =
    issue?.code === 'unrecognized_keys'
      ? [...issue.path, issue.keys[0] ?? ''].join('.')
      : issue && issue.path.length > 0
        ? issue.path.join('.')
        : 'command';
  const message =
    issue?.code === 'invalid_union' && fieldPath === 'command'
      ? `unknown command; expected one of ${CONTROL_COMMAND_NAMES.join(', ')}`
      : (issue?.message ?? 'invalid request');
  return { ok: false, error: message, field_path: fieldPath };
}
