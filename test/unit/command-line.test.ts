import type { Option } from '@commander-js/extra-typings';
import { describe, expect, it } from 'vitest';
import { checkRunlaneCommandLine, createRunlaneProgram, runCli, runlaneCommandPaths } from '#cli/program.js';
import { type CliOutput, commandAt, commandPaths, ExitCode } from '#common/cli-program.js';

/**
 * The `runlane` program (cli/program.ts) is the CLI's one definition: every command path answers
 * --help with exit 0, refuses an unknown flag with exit 2 and accepts each option it declares,
 * read from the program itself. Only --help, bad flags and parse-only checks reach the CLI here:
 * nothing starts a server, touches AWS or spawns a child.
 */

const silent: CliOutput = { stdout: { write: () => true }, stderr: { write: () => true } };
const program = createRunlaneProgram(silent, new ExitCode());

/** `runlane <argv>` in this process, what it wrote captured. */
async function runlane(argv: readonly string[]) {
  const out = { stdout: '', stderr: '' };
  const output: CliOutput = {
    stdout: { write: (text: string) => (out.stdout += text) },
    stderr: { write: (text: string) => (out.stderr += text) },
  };
  const status = await runCli(argv, output);
  return { status, ...out };
}

/** Values to try for an option or argument, the first its own parser accepts is used. */
const SAMPLE_VALUES = ['1', 'lab', '2026-05-14T12:00:00Z', '30m'];

function sampleValue(item: Pick<Option, 'argChoices' | 'parseArg'>): string {
  if (item.argChoices) return item.argChoices[0] as string;
  const parse = item.parseArg;
  const value = SAMPLE_VALUES.find((candidate) => {
    try {
      parse?.(candidate, undefined);
      return true;
    } catch {
      return false;
    }
  });
  if (value === undefined) throw new Error(`no sample value for ${JSON.stringify(item)}`);
  return value;
}

/** The option on a command line: `--json`, `--port=1`, `-n 1` for its short flag. */
function optionArgs(option: Option): string[][] {
  const name = option.long ?? option.short ?? option.flags;
  if (option.isBoolean()) return [[name], ...(option.short && option.long ? [[option.short]] : [])];
  const value = sampleValue(option);
  return [[`${name}=${value}`], ...(option.short && option.long ? [[option.short, value]] : [])];
}

/** What a command needs to run at all: its required arguments and mandatory options. */
function required(path: readonly string[]): string[] {
  const command = commandAt(program, path);
  const args = command.registeredArguments.filter((a) => a.required).map(sampleValue);
  const options = command.options
    .filter((o) => o.mandatory)
    .flatMap((o) => [o.long ?? o.flags, sampleValue(o)]);
  return [...args, ...options];
}

describe('runlaneCommandPaths', () => {
  it('lists every command that runs, and each group', () => {
    expect(commandPaths(program).map((path) => path.join(' '))).toEqual([
      'local',
      'demo',
      'sweep',
      'trace',
      'token',
      'api',
      'dlq list',
      'dlq show',
      'replay',
      'gate',
      'report daily',
      'stalls tail',
      'stalls by',
      'supervisors health',
      'workers health',
      'workers metrics',
      'workers delegation',
      'workers config',
      'workers credentials',
      'tasks stuck',
      'help',
    ]);
    const all = runlaneCommandPaths().map((path) => path.join(' '));
    for (const group of ['dlq', 'report', 'stalls', 'supervisors', 'workers', 'tasks'])
      expect(all).toContain(group);
    expect(all).toContain('workers delegation');
  });
});

describe.each(commandPaths(program).map((path) => [path.join(' '), path] as const))(
  'runlane %s',
  (_, path) => {
    it('--help and -h: exit 0, the help on stdout', async () => {
      for (const flag of ['--help', '-h']) {
        const run = await runlane([...path, flag]);
        expect(run).toMatchObject({ status: 0, stderr: '' });
        expect(run.stdout).toMatch(new RegExp(`^Usage: runlane ${path.join(' ')}\\b`));
      }
      expect(checkRunlaneCommandLine([...path, '--help'])).toEqual([]);
    });

    it('--no-such-flag: exit 2, the flag named on stderr', async () => {
      const run = await runlane([...path, ...required(path), '--no-such-flag']);
      expect(run.status).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toContain("unknown option '--no-such-flag'");
      expect(() => checkRunlaneCommandLine([...path, ...required(path), '--no-such-flag'])).toThrow(
        /'--no-such-flag'/,
      );
    });

    it('takes every option it declares', async () => {
      const options = commandAt(program, path).options.filter((option) => option.long !== '--help');
      for (const option of options) {
        for (const args of optionArgs(option)) {
          const line = [...path, ...required(path), ...args];
          expect(checkRunlaneCommandLine(line), line.join(' ')).toEqual(path);
          expect((await runlane([...line, '--help'])).status, line.join(' ')).toBe(0);
        }
      }
    });
  },
);

describe('runlane', () => {
  it('an unknown command: exit 2, named', async () => {
    const run = await runlane(['no-such-command']);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("unknown command 'no-such-command'");
  });

  it('--help, -h, help and --version at the top: exit 0', async () => {
    for (const argv of [['--help'], ['-h'], ['help']]) {
      const run = await runlane(argv);
      expect(run).toMatchObject({ status: 0, stderr: '' });
      expect(run.stdout).toMatch(/^Usage: runlane /);
    }
    expect((await runlane(['help', 'dlq', 'show'])).stdout).toMatch(/^Usage: runlane dlq show <messageId>/);
    expect((await runlane(['--version'])).stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });

  it('without a command: the help on stderr, exit 2', async () => {
    const run = await runlane([]);
    expect(run).toMatchObject({ status: 2, stdout: '' });
    expect(run.stderr).toMatch(/^Usage: runlane /);
  });

  it('takes a <placeholder> for any value in a runbook check, not on the real command line', async () => {
    expect(
      checkRunlaneCommandLine([
        'workers',
        'config',
        '--env',
        '<env>',
        '--site',
        '<site>',
        '--worker-id',
        '<id>',
      ]),
    ).toEqual(['workers', 'config']);
    expect(() => checkRunlaneCommandLine(['workers', 'health', '--env', 'qa'])).toThrow(/'qa' is invalid/);
    expect((await runlane(['workers', 'health', '--env', '<env>'])).status).toBe(2);
  });
});
