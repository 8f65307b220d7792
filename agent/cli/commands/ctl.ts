/**
 * `runlane-agent ctl <command>`: one request to a running supervisor over its control socket,
 * its answer printed. The commands and options are defined (and parsed) by the program in
 * ../program.ts; this module is loaded when a ctl command runs.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { sendControlCommand } from '../../control/control-client.js';
import { CONTROL_SOCKET_FIELD_PATH, ControlClientError } from '../../control/errors.js';
import type {
  ControlErrorResponse,
  ControlResponse,
  CurrentStateResponse,
  HealthResponse,
} from '../../control/protocol.js';
import { AgentUsageError } from '../../errors.js';
import type {
  CommandResult,
  ControlCommand,
  SupervisorCurrentState,
  SupervisorHealth,
  TaskExit,
} from '../../supervisor/handle.js';
import { CTL_EXIT_CODES } from '../exit-codes.js';
import type { CliIo } from '../io.js';

/** What `runlane-agent ctl` writes to and reads. */
export type CtlIo = Pick<CliIo, 'env' | 'stdout' | 'stderr' | 'cwd'>;

/** The options every ctl command takes, as the program parsed them. */
export interface CtlOptions {
  readonly socket?: string | undefined;
  readonly config?: string | undefined;
  readonly json?: boolean | undefined;
  readonly timeoutMs: number;
}

/** What a ctl command asks: the wire command, and its child name or `--spec` (inline JSON or @file). */
export type CtlRequest =
  | { readonly command: 'health' | 'current-state' }
  | { readonly command: 'add-child'; readonly spec: string }
  | {
      readonly command: 'remove-child' | 'quarantine-child' | 'release-child' | 'restart-child';
      readonly name: string;
    };

/**
 * Sends `request` to the supervisor and prints its answer; resolves to the exit code (see
 * {@link CTL_EXIT_CODES}). Throws {@link AgentUsageError} when the socket or the spec cannot be
 * had from the options (the program refuses it as a usage error).
 *
 * @example
 * await sendCtlRequest({ command: 'health' }, { socket: '/run/runlane/supervisor.sock', timeoutMs: 5000 }, io);
 */
export async function sendCtlRequest(request: CtlRequest, options: CtlOptions, io: CtlIo): Promise<number> {
  const cwd = io.cwd ?? process.cwd();
  const socket = await resolveSocket(options.socket, options.config, cwd);
  const command: ControlCommand =
    request.command === 'add-child'
      ? { command: 'add-child', spec: await readSpec(request.spec, cwd) }
      : request;

  let response: ControlResponse;
  try {
    response = await sendControlCommand(socket, command, { timeoutMs: options.timeoutMs });
  } catch (error) {
    if (!(error instanceof ControlClientError)) throw error;
    io.stderr.write(`runlane-agent: ${error.message}\n`);
    return CTL_EXIT_CODES.failed;
  }

  if (options.json) io.stdout.write(`${JSON.stringify(response)}\n`);
  if (isErrorResponse(response)) {
    const field = response.field_path === undefined ? '' : ` (field_path="${response.field_path}")`;
    io.stderr.write(`runlane-agent: the supervisor refused the request: ${response.error}${field}\n`);
    return response.field_path === undefined ? CTL_EXIT_CODES.failed : CTL_EXIT_CODES.usage;
  }
  if ('result' in response) {
    if (!options.json) io.stdout.write(`${formatCommandResult(response)}\n`);
    return response.result === 'Accepted' ? CTL_EXIT_CODES.ok : CTL_EXIT_CODES.failed;
  }
  // The client checked the answer against the command's schema: health or current_state now.
  if (!options.json)
    io.stdout.write(
      'health' in response
        ? formatHealth((response as HealthResponse).health)
        : formatCurrentState((response as CurrentStateResponse).current_state),
    );
  return CTL_EXIT_CODES.ok;
}

function isErrorResponse(response: ControlResponse): response is ControlErrorResponse {
  return 'ok' in response && response.ok === false;
}

/** `--spec '{"name":…}'` or `--spec @child.json`: one JSON object. */
async function readSpec(spec: string, cwd: string): Promise<Record<string, unknown>> {
  let text = spec;
  let source = '--spec';
  if (spec.startsWith('@')) {
    const file = resolve(cwd, spec.slice(1));
    source = file;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      throw new AgentUsageError(`cannot read --spec file ${file}: ${(error as NodeJS.ErrnoException).code}`, {
        cause: error,
      });
    }
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new AgentUsageError(`${source} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new AgentUsageError(`${source} must be a JSON object (one child entry of the supervisor config)`);
  return value as Record<string, unknown>;
}

/** --socket, else the config's `dashboard.path` (only that field is read; the supervisor validates the rest). */
async function resolveSocket(
  socket: string | undefined,
  config: string | undefined,
  cwd: string,
): Promise<string> {
  if (socket !== undefined) return resolve(cwd, socket);
  if (config === undefined)
    throw new AgentUsageError('which supervisor? give --socket <path> or --config <supervisor config>');
  const file = resolve(cwd, config);
  let value: unknown;
  try {
    value = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new AgentUsageError(`cannot read supervisor config ${file}: ${reason}`, { cause: error });
  }
  const dashboard = (value as { dashboard?: unknown } | null)?.dashboard;
  const path = (dashboard as { path?: unknown } | null | undefined)?.path;
  if (typeof path !== 'string' || path.length === 0)
    throw new AgentUsageError(
      `supervisor config ${file} has no control socket path (field_path="${CONTROL_SOCKET_FIELD_PATH}")`,
    );
  return resolve(cwd, path);
}

/** `TaskExit::Failed (code 1: reason)`, `TaskExit::Killed (signal SIGKILL: idle timeout)`. */
export function formatTaskExit(exit: TaskExit | null): string {
  if (exit === null) return '-';
  const cause =
    exit.code !== undefined ? `code ${exit.code}` : exit.signal !== undefined ? `signal ${exit.signal}` : '';
  const detail = [cause, exit.reason ?? ''].filter((part) => part.length > 0).join(': ');
  return detail.length > 0 ? `TaskExit::${exit.kind} (${detail})` : `TaskExit::${exit.kind}`;
}

/** `CommandResult::Accepted` / `CommandResult::Rejected { reason: "…" }`. */
export function formatCommandResult(result: CommandResult): string {
  return result.result === 'Accepted'
    ? 'CommandResult::Accepted'
    : `CommandResult::Rejected { reason: ${JSON.stringify(result.reason)} }`;
}

/** One `key  value` line per field, keys as the seed names them, values aligned. */
export function formatHealth(health: SupervisorHealth): string {
  const rows: [string, string | number][] = [
    ['status', health.status],
    ['uptime_secs', health.uptime_secs],
    ['control_loop_iterations', health.control_loop_iterations],
    ['dashboard_link', health.dashboard_link],
    ['children.running', health.children.running],
    ['children.failed', health.children.failed],
    ['children.quarantined', health.children.quarantined],
    ['children.target_count', health.children.target_count],
  ];
  const width = Math.max(...rows.map(([key]) => key.length)) + 2;
  return rows.map(([key, value]) => `${key.padEnd(width)}${value}\n`).join('');
}

/** The counts on one line, then a table of `child_runtime_records`. */
export function formatCurrentState(state: SupervisorCurrentState): string {
  const { children } = state;
  const summary =
    `status ${state.status}  running ${children.running}  failed ${children.failed}  ` +
    `quarantined ${children.quarantined}  target_count ${children.target_count}\n`;
  if (state.child_runtime_records.length === 0) return `${summary}(no children)\n`;
  const header = ['name', 'pid', 'state', 'restart_count', 'last_exit', 'tokens'];
  const rows = state.child_runtime_records.map((record) => [
    record.name,
    record.pid === null ? '-' : String(record.pid),
    record.state,
    String(record.restart_count),
    formatTaskExit(record.last_exit),
    `${record.restart_budget.tokens}/${record.restart_budget.capacity}`,
  ]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]): string =>
    `${cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd((widths[column] ?? 0) + 2)))
      .join('')}\n`;
  return summary + line(header) + rows.map(line).join('');
}
