import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { isSubcommand } from '#common/command-line.js';
import { sendControlCommand } from '../control/control-client.js';
import { CONTROL_SOCKET_FIELD_PATH, ControlClientError } from '../control/errors.js';
import type {
  ControlErrorResponse,
  ControlResponse,
  CurrentStateResponse,
  HealthResponse,
} from '../control/protocol.js';
import { AgentUsageError } from '../errors.js';
import { parsePositiveInt } from '../runner/config.js';
import { EXIT_CODES } from '../runner/exit-codes.js';
import type {
  CommandResult,
  ControlCommand,
  SupervisorCurrentState,
  SupervisorHealth,
  TaskExit,
} from '../supervisor/handle.js';
import { CTL_SPEC } from './cli-spec.js';

const DEFAULT_TIMEOUT_MS = 5_000;

/** Exit codes of `runlane-agent ctl`. */
export const CTL_EXIT_CODES = {
  ok: 0,
  /** `CommandResult::Rejected`, or no answer from the supervisor. */
  failed: 1,
  usage: EXIT_CODES.usage,
} as const;

const OPTIONS_HELP = `options:
  --socket <path>     the supervisor's control socket (beats --config)
  --config <file>     the supervisor config; its ${CONTROL_SOCKET_FIELD_PATH} is the socket
  --json              print the supervisor's JSON answer as it is
  --timeout-ms <n>    give up after n ms (default ${DEFAULT_TIMEOUT_MS})
  -h, --help          this help`;

const EXIT_HELP = `exit: 0 answered / CommandResult::Accepted (health: also when the status is degraded);
      1 CommandResult::Rejected (the reason is printed) or the supervisor cannot be reached;
      2 bad usage (also when the supervisor refuses the request's shape).`;

interface Subcommand {
  readonly usage: string;
  readonly summary: string;
  /** Positional child name required. */
  readonly takesName: boolean;
  readonly wire: ControlCommand['command'];
}

type CtlCommandName = keyof typeof CTL_SPEC.subcommands;
/** Names of {@link CTL_SPEC} that are another command's alias. */
const ALIASES = { 'current-state': 'state' } as const satisfies Partial<
  Record<CtlCommandName, CtlCommandName>
>;
type CtlCanonicalName = Exclude<CtlCommandName, keyof typeof ALIASES>;

/** CLI name → wire command; `state` is the wire's `current-state` (accepted too). */
const SUBCOMMANDS: Readonly<Record<CtlCanonicalName, Subcommand>> = {
  health: {
    usage: 'health',
    summary:
      'status, uptime_secs, control_loop_iterations, dashboard_link and the children counts\n(running, failed, quarantined, target_count).',
    takesName: false,
    wire: 'health',
  },
  state: {
    usage: 'state',
    summary:
      'current_state: the counts, then one row per child: name, pid, state, restart_count,\nlast exit (TaskExit::<kind>) and restart budget tokens left / capacity.',
    takesName: false,
    wire: 'current-state',
  },
  'remove-child': {
    usage: 'remove-child <name>',
    summary: 'stop the child and drop its slot (target_count goes down by one).',
    takesName: true,
    wire: 'remove-child',
  },
  'add-child': {
    usage: 'add-child --spec <json|@file>',
    summary: 'start a new child from one child entry of the supervisor config (inline JSON, or @file).',
    takesName: false,
    wire: 'add-child',
  },
  'quarantine-child': {
    usage: 'quarantine-child <name>',
    summary: 'stop the child and mark it Quarantined: it is not restarted until released.',
    takesName: true,
    wire: 'quarantine-child',
  },
  'release-child': {
    usage: 'release-child <name>',
    summary: 'lift the quarantine of a child so the supervisor starts it again.',
    takesName: true,
    wire: 'release-child',
  },
  'restart-child': {
    usage: 'restart-child <name>',
    summary: 'stop the child and start it again.',
    takesName: true,
    wire: 'restart-child',
  },
};

export const CTL_USAGE = `usage: runlane-agent ctl <command> [options]

Talks to a running runlane-agent supervise over its control socket (owner-only Unix socket,
newline-delimited JSON).

commands:
${Object.values(SUBCOMMANDS)
  .map((sub) => `  ${sub.usage.padEnd(32)}${sub.summary.split('\n')[0]}`)
  .join('\n')}

${OPTIONS_HELP}

${EXIT_HELP}
'runlane-agent ctl <command> --help' describes one command.`;

function subcommandUsage(sub: Subcommand): string {
  return `usage: runlane-agent ctl ${sub.usage} [options]\n\n${sub.summary}\n\n${OPTIONS_HELP}\n\n${EXIT_HELP}`;
}

/** What `runCtlCli` writes to and reads; the bin passes the process's, tests their own. */
export interface CtlIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  /** Resolves relative --socket, --config, @file and dashboard.path. @default process.cwd() */
  readonly cwd?: string;
}

interface CtlRequest {
  readonly socket: string;
  readonly command: ControlCommand;
  readonly json: boolean;
  readonly timeoutMs: number;
}

/**
 * `runlane-agent ctl <command> …`; resolves to the exit code (see `CTL_EXIT_CODES`).
 *
 * @example
 * process.exitCode = await runCtlCli(['health', '--socket', '/run/runlane/supervisor.sock'], {
 *   env: process.env, stdout: process.stdout, stderr: process.stderr,
 * });
 */
export async function runCtlCli(argv: readonly string[], io: CtlIo): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    (first === undefined ? io.stderr : io.stdout).write(`${CTL_USAGE}\n`);
    return first === undefined ? CTL_EXIT_CODES.usage : CTL_EXIT_CODES.ok;
  }
  if (!isSubcommand(CTL_SPEC, first)) {
    io.stderr.write(
      `runlane-agent: unknown ctl command ${first}; expected ${Object.keys(SUBCOMMANDS).join(', ')}\n${CTL_USAGE}\n`,
    );
    return CTL_EXIT_CODES.usage;
  }
  const sub = SUBCOMMANDS[first === 'current-state' ? ALIASES[first] : first];
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(`${subcommandUsage(sub)}\n`);
    return CTL_EXIT_CODES.ok;
  }

  let request: CtlRequest;
  try {
    request = await parseRequest(sub, rest, io);
  } catch (error) {
    if (!(error instanceof AgentUsageError)) throw error;
    io.stderr.write(`runlane-agent: ${error.message}\n${subcommandUsage(sub)}\n`);
    return CTL_EXIT_CODES.usage;
  }

  let response: ControlResponse;
  try {
    response = await sendControlCommand(request.socket, request.command, { timeoutMs: request.timeoutMs });
  } catch (error) {
    if (!(error instanceof ControlClientError)) throw error;
    io.stderr.write(`runlane-agent: ${error.message}\n`);
    return CTL_EXIT_CODES.failed;
  }

  if (request.json) io.stdout.write(`${JSON.stringify(response)}\n`);
  if (isErrorResponse(response)) {
    const field = response.field_path === undefined ? '' : ` (field_path="${response.field_path}")`;
    io.stderr.write(`runlane-agent: the supervisor refused the request: ${response.error}${field}\n`);
    return response.field_path === undefined ? CTL_EXIT_CODES.failed : CTL_EXIT_CODES.usage;
  }
  if ('result' in response) {
    if (!request.json) io.stdout.write(`${formatCommandResult(response)}\n`);
    return response.result === 'Accepted' ? CTL_EXIT_CODES.ok : CTL_EXIT_CODES.failed;
  }
  // The client checked the answer against the command's schema: health or current_state now.
  if (!request.json)
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

async function parseRequest(sub: Subcommand, args: readonly string[], io: CtlIo): Promise<CtlRequest> {
  let parsed: ReturnType<typeof parseCtlArgs>;
  try {
    parsed = parseCtlArgs(args);
  } catch (error) {
    throw new AgentUsageError((error as Error).message, { cause: error });
  }
  const { values, positionals } = parsed;
  const cwd = io.cwd ?? process.cwd();

  const wantsPositionals = sub.takesName ? 1 : 0;
  if (positionals.length !== wantsPositionals)
    throw new AgentUsageError(
      sub.takesName
        ? `${sub.wire} takes exactly one child name`
        : `unexpected argument ${positionals[0] ?? ''} for ${sub.usage.split(' ')[0]}`,
    );
  if (values.spec !== undefined && sub.wire !== 'add-child')
    throw new AgentUsageError('--spec is only for add-child');

  let timeoutMs = DEFAULT_TIMEOUT_MS;
  if (values['timeout-ms'] !== undefined) {
    const parsedTimeout = parsePositiveInt(values['timeout-ms']);
    if (parsedTimeout === undefined)
      throw new AgentUsageError(`--timeout-ms must be a positive integer, got ${values['timeout-ms']}`);
    timeoutMs = parsedTimeout;
  }

  const socket = await resolveSocket(values.socket, values.config, cwd);
  const command = await buildCommand(sub, positionals[0], values.spec, cwd);
  return { socket, command, json: values.json === true, timeoutMs };
}

function parseCtlArgs(args: readonly string[]) {
  return parseArgs({
    args: [...args],
    strict: true,
    allowPositionals: true,
    // Every command parses add-child's flags (all of them): the others refuse --spec after parsing.
    options: CTL_SPEC.subcommands['add-child'].options,
  });
}

async function buildCommand(
  sub: Subcommand,
  name: string | undefined,
  spec: string | undefined,
  cwd: string,
): Promise<ControlCommand> {
  switch (sub.wire) {
    case 'health':
    case 'current-state':
      return { command: sub.wire };
    case 'add-child': {
      if (spec === undefined) throw new AgentUsageError('add-child needs --spec <json|@file>');
      return { command: 'add-child', spec: await readSpec(spec, cwd) };
    }
    default:
      if (name === undefined || name.length === 0)
        throw new AgentUsageError(`${sub.wire} needs a child name`);
      return { command: sub.wire, name };
  }
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
  if (socket !== undefined) {
    if (socket.length === 0) throw new AgentUsageError('--socket must not be empty');
    return resolve(cwd, socket);
  }
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
