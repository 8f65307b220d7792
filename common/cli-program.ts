/**
 * How `runlane` and `runlane-agent` run their commander programs (STYLE principle 16: the program
 * definition is the only place an option exists). Both CLIs build their program with
 * {@link configureProgram}, run it with {@link runProgram}, and the runbook checks walk the same
 * program with {@link commandPaths} and {@link checkCommandLine}.
 *
 * Conventions, the same in both CLIs:
 * - `--help` / `-h` after any command prints its help on stdout, exit 0;
 * - a usage error (unknown flag, missing argument, bad choice) prints the error and a hint on
 *   stderr, exit 2 ({@link EXIT_USAGE});
 * - a group called with no subcommand prints its help on stderr, exit 2;
 * - an action's result is the process exit code.
 */
import { type Command, CommanderError, type Option } from '@commander-js/extra-typings';

/** Exit code of a command line the program does not accept. */
export const EXIT_USAGE = 2;

/** Where a program writes. Tests pass their own sinks; the bins pass process.stdout / stderr. */
export interface CliOutput {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
}

// The structural type every commander Command (typed or not) satisfies, for helpers that only walk.
// biome-ignore lint/suspicious/noExplicitAny: commander's typed Command carries its option and argument types as parameters
type AnyCommand = Command<any, any, any>;

/**
 * Makes a program (and every subcommand added after this call) throw instead of exiting and
 * write to `output`. Call it on the root before adding subcommands: commander copies these
 * settings into each `.command()` it creates.
 *
 * @example
 * const program = configureProgram(new Command('runlane'), { stdout: process.stdout, stderr: process.stderr });
 */
export function configureProgram<C extends AnyCommand>(program: C, output: CliOutput): C {
  program
    .exitOverride()
    .configureOutput({
      writeOut: (text) => output.stdout.write(text),
      writeErr: (text) => output.stderr.write(text),
    })
    .showHelpAfterError('(add --help for usage)')
    .helpCommand(false);
  return program;
}

/**
 * Adds a command group: called without one of its subcommands it prints its help on stderr and
 * exits {@link EXIT_USAGE} (commander's own behaviour, mapped to our code by {@link runProgram}).
 */
export function group<C extends AnyCommand>(parent: C, name: string, description: string): AnyCommand {
  return parent.command(name).description(description);
}

/** Holds the exit code an action returned, for {@link runProgram}. One per program run. */
export class ExitCode {
  public value = 0;

  /**
   * Wraps an action so its numeric result becomes the exit code.
   *
   * @example
   * program.command('sweep').action(exit.of(async (options) => sweep(options)));
   */
  // biome-ignore lint/suspicious/noExplicitAny: the action's parameters are commander's inferred tuple
  public of<A extends any[]>(
    action: (...args: A) => number | Promise<number>,
  ): (...args: A) => Promise<void> {
    return async (...args: A) => {
      this.value = await action(...args);
    };
  }
}

/**
 * Parses `argv` (without node and the script) and runs the action it names; returns the exit
 * code: the action's, 0 after `--help` / `--version`, {@link EXIT_USAGE} for a usage error or a
 * group called with no subcommand. Errors an action throws propagate.
 */
export async function runProgram(
  program: AnyCommand,
  exit: ExitCode,
  argv: readonly string[],
): Promise<number> {
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exit.value;
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return 0;
    // A `help [command]` subcommand asked for it (exit code 0); a group with nothing after it has 1.
    if (error.code === 'commander.help' && error.exitCode === 0) return 0;
    return EXIT_USAGE;
  }
}

/**
 * Every command path of the program that runs something (a leaf, or a command with an action of
 * its own), in declaration order; the root is `[]` when it has an action.
 *
 * @example
 * commandPaths(program).map((path) => path.join(' ')); // ['local', 'demo', 'dlq list', …]
 */
export function commandPaths(program: AnyCommand): string[][] {
  const paths: string[][] = [];
  const visit = (command: AnyCommand, path: string[]) => {
    const children = command.commands as readonly AnyCommand[];
    if (children.length === 0 || hasAction(command)) paths.push(path);
    for (const child of children) visit(child, [...path, child.name()]);
  };
  visit(program, []);
  return paths;
}

/** The command at `path` (names from the root). Throws when there is none. */
export function commandAt(program: AnyCommand, path: readonly string[]): AnyCommand {
  let command = program;
  for (const name of path) {
    const next = (command.commands as readonly AnyCommand[]).find(
      (child) => child.name() === name || child.aliases().includes(name),
    );
    if (!next) throw new Error(`${[command.name(), name].join(' ')}: no such command`);
    command = next;
  }
  return command;
}

/** A command line the program does not accept; the message is commander's (it names the flag). */
export class CommandLineError extends Error {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'CommandLineError';
  }
}

/**
 * Parses `argv` with a fresh program from `createProgram` whose actions are all replaced by
 * no-ops, so nothing runs: throws {@link CommandLineError} when the program refuses the line.
 * Returns the command path that would run. What the runbook checks use.
 */
export function checkCommandLine(
  createProgram: (output: CliOutput) => AnyCommand,
  argv: readonly string[],
): string[] {
  let errors = '';
  const output: CliOutput = { stdout: { write: () => true }, stderr: { write: (text) => (errors += text) } };
  const program = createProgram(output);
  let ran: string[] | undefined;
  const silence = (command: AnyCommand, path: string[]) => {
    if (hasAction(command) || command.commands.length === 0) {
      command.action(() => {
        ran = path;
      });
    }
    for (const child of command.commands as readonly AnyCommand[]) silence(child, [...path, child.name()]);
  };
  silence(program, []);
  try {
    program.parse([...argv], { from: 'user' });
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return ran ?? [];
    throw new CommandLineError(errors.trim() || error.message, { cause: error });
  }
  return ran ?? [];
}

/**
 * Every command path a runbook may name: those that run ({@link commandPaths}), the groups above
 * them (`['dlq']`) and each alias (`['ctl', 'current-state']`).
 */
export function namedCommandPaths(program: AnyCommand): string[][] {
  const paths = new Map<string, string[]>();
  for (const path of commandPaths(program)) {
    for (let length = 1; length <= path.length; length++) {
      const prefix = path.slice(0, length);
      paths.set(prefix.join(' '), prefix);
      for (const alias of commandAt(program, prefix).aliases()) {
        const aliased = [...prefix.slice(0, -1), alias];
        paths.set(aliased.join(' '), aliased);
      }
    }
  }
  return [...paths.values()];
}

const PLACEHOLDER = /^<[^<>]+>$/;

/**
 * Lets every option value and argument of the program be a `<placeholder>`, as a runbook writes
 * it (`--env <env>`): for {@link checkCommandLine} only, never on a real command line.
 */
export function acceptPlaceholders<C extends AnyCommand>(program: C): C {
  const visit = (command: AnyCommand) => {
    for (const item of [...command.options, ...command.registeredArguments]) {
      const parse = item.parseArg;
      if (parse === undefined) continue;
      item.parseArg = <T>(value: string, previous: T): T =>
        PLACEHOLDER.test(value) ? (value as T) : parse(value, previous);
    }
    for (const child of command.commands as readonly AnyCommand[]) visit(child);
  };
  visit(program);
  return program;
}

function hasAction(command: AnyCommand): boolean {
  // commander keeps the handler private; a command with one runs itself even when it has subcommands.
  return (command as unknown as { _actionHandler: unknown })._actionHandler != null;
}

/**
 * Whether progress may be redrawn in place with `\r`: only on a terminal, and not when the user
 * asked for plain output (`NO_COLOR`, `TERM=dumb`). Elsewhere progress is printed as lines.
 */
export function canRedrawProgress(
  stream: { readonly isTTY?: boolean },
  env: Readonly<Record<string, string | undefined>> = process.env,
): boolean {
  if (!stream.isTTY) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return env.TERM !== 'dumb';
}

/**
 * Lets a CLI's output go into a pipe that closes early (`runlane trace … | head`): EPIPE on
 * stdout ends the process quietly with the exit code set so far, instead of an unhandled error.
 */
export function exitQuietlyOnClosedPipe(stream: NodeJS.WriteStream = process.stdout): void {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(Number(process.exitCode ?? 0));
    throw error;
  });
}

/**
 * Refuses the command line from an action or a hook the way commander refuses what it checks
 * itself: `error: <message>` and the help hint on stderr, then {@link runProgram} returns
 * {@link EXIT_USAGE} (a hook's refusal makes {@link checkCommandLine} throw too). For what the
 * definition cannot say, e.g. "one of --socket or --config".
 *
 * @example
 * if (options.socket === undefined && options.config === undefined) usageError(command, 'give --socket or --config');
 */
export function usageError(command: AnyCommand, message: string): never {
  return command.error(`error: ${message}`, { exitCode: EXIT_USAGE, code: 'runlane.usage' });
}

/** Options marked by {@link required}. */
const requiredOptions = new WeakSet<object>();

/**
 * Marks an option the command cannot run without; its value is typed as always there, as with
 * commander's `makeOptionMandatory()`, and its help says "(required)". The check is
 * {@link checkRequiredOptions}'s and runs after commander's own: commander checks mandatory
 * options before unknown ones, so a mistyped `--conifg` would be reported as a missing `--config`
 * instead of as the typo it is.
 *
 * @example
 * command.addOption(required(new Option('--config <file>', 'the worker config')));
 */
export function required<Usage extends string, PresetT, DefaultT, CoerceT, ChoicesT>(
  option: Option<Usage, PresetT, DefaultT, CoerceT, false, ChoicesT>,
): Option<Usage, PresetT, DefaultT, CoerceT, true, ChoicesT> {
  requiredOptions.add(option);
  option.description = option.description === '' ? '(required)' : `${option.description} (required)`;
  return option as unknown as Option<Usage, PresetT, DefaultT, CoerceT, true, ChoicesT>;
}

/** Whether {@link required} marked `option` (for tests and doc checks that walk a program). */
export function isRequired(option: object): boolean {
  return requiredOptions.has(option);
}

/**
 * Makes `program` refuse a command line that leaves out a {@link required} option of the command
 * it runs (`error: required option '--config <file>' not specified`, exit {@link EXIT_USAGE}),
 * once the rest of the line is valid. Call it once, on the root.
 */
export function checkRequiredOptions<C extends AnyCommand>(program: C): C {
  program.hook('preAction', (_program: AnyCommand, command: AnyCommand) => {
    for (const option of command.options as readonly Option[]) {
      if (requiredOptions.has(option) && command.getOptionValue(option.attributeName()) === undefined)
        usageError(command, `required option '${option.flags}' not specified`);
    }
  });
  return program;
}
