import { Command, Option } from '@commander-js/extra-typings';
import { describe, expect, it } from 'vitest';
import {
  acceptPlaceholders,
  type CliOutput,
  CommandLineError,
  canRedrawProgress,
  checkCommandLine,
  commandAt,
  commandPaths,
  configureProgram,
  EXIT_USAGE,
  ExitCode,
  group,
  namedCommandPaths,
  runProgram,
} from '#common/cli-program.js';

/** A small program in the shape both CLIs use: a leaf with options, a group, a passthrough. */
function sample(output: CliOutput, exit = new ExitCode()) {
  const program = configureProgram(new Command('tool'), output).version('1.2.3');
  program
    .command('echo')
    .argument('<words...>')
    .addOption(new Option('--lane <lane>').choices(['a', 'b']))
    .option('--json', 'as JSON', false)
    .action(exit.of((words, options) => (options.json ? words.length : 7)));
  const dlq = group(program, 'dlq', 'dead letters');
  dlq.command('list').action(exit.of(() => 3));
  return program;
}

function capture() {
  const out = { stdout: '', stderr: '' };
  const output: CliOutput = {
    stdout: { write: (text: string) => (out.stdout += text) },
    stderr: { write: (text: string) => (out.stderr += text) },
  };
  return { out, output };
}

describe('runProgram', () => {
  it("returns the action's result as the exit code", async () => {
    const { output } = capture();
    const exit = new ExitCode();
    expect(await runProgram(sample(output, exit), exit, ['echo', 'x', 'y', '--json'])).toBe(2);
    const again = new ExitCode();
    expect(await runProgram(sample(output, again), again, ['dlq', 'list'])).toBe(3);
  });

  it('prints help on stdout with exit 0 for --help and -h after any command, and --version', async () => {
    for (const argv of [['--help'], ['echo', '-h'], ['dlq', 'list', '--help']]) {
      const { out, output } = capture();
      const exit = new ExitCode();
      expect(await runProgram(sample(output, exit), exit, argv)).toBe(0);
      expect(out.stdout).toMatch(/^Usage: tool/);
      expect(out.stderr).toBe('');
    }
    const { out, output } = capture();
    const exit = new ExitCode();
    expect(await runProgram(sample(output, exit), exit, ['--version'])).toBe(0);
    expect(out.stdout.trim()).toBe('1.2.3');
  });

  it('refuses a usage error on stderr with exit 2, naming the flag', async () => {
    const { out, output } = capture();
    const exit = new ExitCode();
    expect(await runProgram(sample(output, exit), exit, ['echo', 'x', '--nope'])).toBe(EXIT_USAGE);
    expect(out.stderr).toMatch(/unknown option '--nope'/);
    expect(out.stdout).toBe('');
  });

  it('prints a group’s help on stderr with exit 2 when it is called with no subcommand', async () => {
    const { out, output } = capture();
    const exit = new ExitCode();
    expect(await runProgram(sample(output, exit), exit, ['dlq'])).toBe(EXIT_USAGE);
    expect(out.stderr).toMatch(/Usage: tool dlq/);
    expect(out.stdout).toBe('');
  });
});

describe('commandPaths, commandAt and checkCommandLine', () => {
  it('lists every runnable path and finds a command by path', () => {
    const program = sample(capture().output);
    expect(commandPaths(program)).toEqual([['echo'], ['dlq', 'list']]);
    expect(commandAt(program, ['dlq', 'list']).name()).toBe('list');
    expect(() => commandAt(program, ['dlq', 'show'])).toThrow(/no such command/);
  });

  it('checks a line without running its action, and refuses what the program refuses', () => {
    let ran = false;
    const create = (output: CliOutput) => {
      const program = sample(output);
      program.command('boom').action(() => {
        ran = true;
      });
      return program;
    };
    expect(checkCommandLine(create, ['boom'])).toEqual(['boom']);
    expect(ran).toBe(false);
    expect(checkCommandLine(create, ['echo', 'a', '--lane', 'b'])).toEqual(['echo']);
    expect(checkCommandLine(create, ['dlq', 'list', '--help'])).toEqual([]);
    expect(() => checkCommandLine(create, ['echo', 'a', '--lane', 'c'])).toThrow(CommandLineError);
    expect(() => checkCommandLine(create, ['echo'])).toThrow(/missing required argument 'words'/);
    expect(() => checkCommandLine(create, ['dlq'])).toThrow(CommandLineError);
  });
});

describe('namedCommandPaths and acceptPlaceholders', () => {
  it('names the groups and aliases a runbook may write, beside the runnable paths', () => {
    const program = sample(capture().output);
    program.commands.find((command) => command.name() === 'dlq')?.commands[0]?.alias('ls');
    expect(namedCommandPaths(program)).toEqual([['echo'], ['dlq'], ['dlq', 'list'], ['dlq', 'ls']]);
  });

  it('takes a <placeholder> for a value with choices only where placeholders are accepted', () => {
    expect(() => checkCommandLine(sample, ['echo', 'a', '--lane', '<lane>'])).toThrow(CommandLineError);
    expect(
      checkCommandLine((output) => acceptPlaceholders(sample(output)), ['echo', 'a', '--lane', '<lane>']),
    ).toEqual(['echo']);
    expect(() =>
      checkCommandLine((output) => acceptPlaceholders(sample(output)), ['echo', 'a', '--lane', 'c']),
    ).toThrow(CommandLineError);
  });
});

describe('canRedrawProgress', () => {
  it('redraws only on a terminal without NO_COLOR or TERM=dumb', () => {
    expect(canRedrawProgress({ isTTY: true }, {})).toBe(true);
    expect(canRedrawProgress({ isTTY: false }, {})).toBe(false);
    expect(canRedrawProgress({}, {})).toBe(false);
    expect(canRedrawProgress({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(canRedrawProgress({ isTTY: true }, { TERM: 'dumb' })).toBe(false);
  });
});
