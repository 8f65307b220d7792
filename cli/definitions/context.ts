/**
 * What every command definition of cli/definitions/ uses: the program's context, the wrapper of
 * an action, and how a command of the root names itself in its errors.
 */
import type { Command, CommandUnknownOpts } from '@commander-js/extra-typings';
import { type ExitCode, group, usageError } from '#common/cli-program.js';
import type { WorkersDependencies } from '../commands/workers/config.js';
import { UsageError } from '../errors.js';

/** What the world outside gives the commands; tests replace parts of it. */
export type RunlaneDependencies = WorkersDependencies;

/** What each command definition needs from the program it is added to. */
export interface ProgramContext {
  readonly exit: ExitCode;
  readonly dependencies: RunlaneDependencies;
}

/**
 * A command's action: its result is the exit code, and a {@link UsageError} it throws is a usage
 * error of that command (`runlane <command>: …` on stderr, exit 2) like one commander finds.
 * Load the command's module inside `run`, so `--help` never loads it (nor the AWS SDK).
 *
 * @example
 * command.action(runs(exit, async (options) => (await import('../commands/sweep.js')).runSweep(options)));
 */
// biome-ignore lint/suspicious/noExplicitAny: the action's parameters are commander's inferred tuple
export function runs<A extends any[]>(
  exit: ExitCode,
  run: (...args: A) => Promise<number>,
): (...args: A) => Promise<void> {
  return exit.of(async (...args: A) => {
    try {
      return await run(...args);
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      // commander passes the command itself last.
      const command = args.at(-1) as CommandUnknownOpts;
      return usageError(command, error.message);
    }
  });
}

/**
 * Makes the command (and the subcommands added to it afterwards) print its errors after its
 * name, `runlane report: …`, instead of commander's `error: …`. Call it on each command of the
 * root before adding its subcommands.
 */
export function namedErrors<C extends CommandUnknownOpts>(command: C): C {
  const names: string[] = [];
  for (let at: CommandUnknownOpts | null = command; at !== null; at = at.parent) names.unshift(at.name());
  const prefix = names.join(' ');
  command.configureOutput({
    outputError: (text, write) => write(`${prefix}: ${text.replace(/^error: /, '')}`),
  });
  return command;
}

/**
 * A group of the root (`runlane dlq`): called without a subcommand it prints its help on stderr,
 * exit 2; its errors are named after it; it has no `help` subcommand (`--help` is the way).
 */
export function commandGroup(program: Command, name: string, description: string): Command {
  return namedErrors(group(program, name, description).helpCommand(false));
}
