/**
 * The `runlane` program: every command, option, help text, environment fallback, choice and exit
 * code is defined once, here and in cli/definitions/ (STYLE principle 16). The commands' modules
 * (cli/commands/) load only when their command runs, so `--help` stays fast and never loads the
 * AWS SDK. The runbook checks parse runbooks' command lines with the same program.
 */
import { readFileSync } from 'node:fs';
import { Command } from '@commander-js/extra-typings';
import {
  acceptPlaceholders,
  type CliOutput,
  checkCommandLine,
  configureProgram,
  ExitCode,
  namedCommandPaths,
  runProgram,
} from '#common/cli-program.js';
import { addApiCommand } from './definitions/api.js';
import { namedErrors, type RunlaneDependencies } from './definitions/context.js';
import { addDemoCommand } from './definitions/demo.js';
import { addDlqCommands } from './definitions/dlq.js';
import { addGateCommand } from './definitions/gate.js';
import { addHelpCommand } from './definitions/help.js';
import { addLocalCommand } from './definitions/local.js';
import { addReplayCommand } from './definitions/replay.js';
import { addReportCommands } from './definitions/report.js';
import { addStallsCommands } from './definitions/stalls.js';
import { addSupervisorsCommands } from './definitions/supervisors.js';
import { addSweepCommand } from './definitions/sweep.js';
import { addTasksCommands } from './definitions/tasks.js';
import { addTokenCommand } from './definitions/token.js';
import { addTraceCommand } from './definitions/trace.js';
import { addWorkersCommands } from './definitions/workers.js';
import { EXIT_FAILURE } from './exit-codes.js';
import { RUNLANE_HELP } from './help.js';

export type { RunlaneDependencies } from './definitions/context.js';

const VERSION: string = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;

/** The commands in the order `runlane --help` lists them. */
const COMMANDS = [
  addLocalCommand,
  addDemoCommand,
  addSweepCommand,
  addTraceCommand,
  addTokenCommand,
  addApiCommand,
  addDlqCommands,
  addReplayCommand,
  addGateCommand,
  addReportCommands,
  addStallsCommands,
  addSupervisorsCommands,
  addWorkersCommands,
  addTasksCommands,
  addHelpCommand,
];

/**
 * The `runlane` program, writing to `output`; each action's result goes to `exit`.
 *
 * @example
 * const exit = new ExitCode();
 * process.exitCode = await runProgram(createRunlaneProgram(output, exit), exit, ['trace', id]);
 */
export function createRunlaneProgram(
  output: CliOutput,
  exit: ExitCode,
  dependencies: RunlaneDependencies = {},
): Command {
  const program = configureProgram(new Command('runlane'), output)
    .description(
      "Runlane's command line: the local stack, traces, dead letters and replays, the release gate, " +
        'and the reports of the runner, the supervisors and the workers.',
    )
    .version(VERSION, '--version', 'print the version')
    .configureHelp(RUNLANE_HELP);
  namedErrors(program);
  const context = { exit, dependencies };
  for (const add of COMMANDS) add(program, context);
  return program;
}

/** Everything `runlane` prints, through the console (so a test's console capture sees it). */
const CONSOLE_OUTPUT: CliOutput = {
  stdout: { write: (text) => console.log(text.replace(/\n$/, '')) },
  stderr: { write: (text) => console.error(text.replace(/\n$/, '')) },
};

/**
 * Runs `runlane` with `argv` (without node and the script) and returns the exit code. A failure a
 * command does not handle is printed as `runlane: <message>`, exit 1.
 *
 * @example
 * process.exitCode = await runCli(process.argv.slice(2));
 */
export async function runCli(
  argv: readonly string[],
  output: CliOutput = CONSOLE_OUTPUT,
  dependencies: RunlaneDependencies = {},
): Promise<number> {
  const exit = new ExitCode();
  try {
    return await runProgram(createRunlaneProgram(output, exit, dependencies), exit, argv);
  } catch (error) {
    output.stderr.write(`runlane: ${(error as Error).message}\n`);
    return EXIT_FAILURE;
  }
}

/**
 * Checks a `runlane` command line without running anything (what the runbook checks call): throws,
 * naming the bad command, option or argument, when `runlane` would refuse it; returns the command
 * path that would run. A `<placeholder>` (`--env <env>`) stands for any value the option takes.
 *
 * @example
 * checkRunlaneCommandLine(['dlq', 'show', '<messageId>', '--env', '<env>']); // ['dlq', 'show']
 */
export function checkRunlaneCommandLine(argv: readonly string[]): string[] {
  return checkCommandLine((output) => acceptPlaceholders(createRunlaneProgram(output, new ExitCode())), argv);
}

/** Every command path of `runlane`, group paths included (`['dlq']`, `['dlq', 'show']`). */
export function runlaneCommandPaths(): string[][] {
  const silent: CliOutput = { stdout: { write: () => true }, stderr: { write: () => true } };
  return namedCommandPaths(createRunlaneProgram(silent, new ExitCode()));
}
