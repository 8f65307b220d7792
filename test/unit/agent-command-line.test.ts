import { Writable } from 'node:stream';
import type { Option } from '@commander-js/extra-typings';
import { describe, expect, it, vi } from 'vitest';
import { agentCommandPaths, checkAgentCommandLine } from '#agent/cli/command-line-check.js';
import { runAgentCli } from '#agent/cli/main.js';
import { createAgentProgram } from '#agent/cli/program.js';
import { type CliOutput, commandAt, commandPaths, isRequired } from '#common/cli-program.js';
import packageJson from '../../package.json' with { type: 'json' };

/**
 * The runlane-agent command line and whether its program is the CLI: every command path answers
 * --help with exit 0, refuses an unknown flag with exit 2 naming it, and takes each option it
 * declares. Only --help and bad command lines reach the CLI here: nothing starts or spawns.
 */

function memoryStream(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return { stream, text: () => chunks.join('') };
}

async function agentCli(
  argv: readonly string[],
): Promise<{ status: number; stdout: string; stderr: string }> {
  const stdout = memoryStream();
  const stderr = memoryStream();
  const status = await runAgentCli(argv, { env: {}, stdout: stdout.stream, stderr: stderr.stream });
  return { status, stdout: stdout.text(), stderr: stderr.text() };
}

const silent: CliOutput = { stdout: { write: () => true }, stderr: { write: () => true } };
const program = createAgentProgram(
  { env: {}, stdout: memoryStream().stream, stderr: memoryStream().stream },
  undefined,
  silent,
);

/** The options a command declares (its own, not --help). */
const optionsAt = (path: readonly string[]): readonly Option[] =>
  commandAt(program, path).options as readonly Option[];

/** A valid value for an option that takes one: its first choice, else a number (every parser takes 1). */
const optionArgs = (option: Option): string[] =>
  option.required || option.optional
    ? [`${option.long}=${option.argChoices?.[0] ?? '1'}`]
    : [option.long ?? ''];

/** What a command needs besides the flag under test: its required options, its arguments, run's command line. */
function completeArgv(path: readonly string[], args: readonly string[]): string[] {
  const command = commandAt(program, path);
  const required = optionsAt(path).filter(isRequired).flatMap(optionArgs);
  const positionals = command.registeredArguments.filter((argument) => argument.required).map(() => 'x');
  const argv = [...path, ...required, ...args];
  // run's own flags end where its command begins (`--`).
  return path[0] === 'run' ? [...argv, '--', 'true'] : [...argv, ...positionals];
}

describe('the runlane-agent program', () => {
  it('lists every command that runs, and the runbook checks also know the groups and aliases', () => {
    expect(commandPaths(program).map((path) => path.join(' '))).toEqual([
      'run',
      'spool status',
      'spool flush',
      'supervise',
      'worker',
      'worker status',
      'ctl health',
      'ctl state',
      'ctl remove-child',
      'ctl add-child',
      'ctl quarantine-child',
      'ctl release-child',
      'ctl restart-child',
    ]);
    const paths = agentCommandPaths().map((path) => path.join(' '));
    expect(paths).toEqual(expect.arrayContaining(['spool', 'ctl', 'ctl current-state', 'worker status']));
  });

  describe.each(commandPaths(program).map((path) => [path.join(' '), path] as const))(
    'runlane-agent %s',
    (_, path) => {
      it('--help and -h: exit 0, the help on stdout', async () => {
        for (const help of ['--help', '-h']) {
          const run = await agentCli([...path, help]);
          expect(run).toMatchObject({ status: 0, stderr: '' });
          expect(run.stdout).toMatch(new RegExp(`^Usage: runlane-agent ${path.join(' ')}[ |]`));
          expect(() => checkAgentCommandLine([...path, help])).not.toThrow();
        }
      });

      it('--no-such-flag: exit 2, the flag named on stderr', async () => {
        const argv = completeArgv(path, ['--no-such-flag']);
        const run = await agentCli(argv);
        expect(run).toMatchObject({ status: 2, stdout: '' });
        expect(run.stderr).toContain("unknown option '--no-such-flag'");
        expect(() => checkAgentCommandLine(argv)).toThrow(/'--no-such-flag'/);
      });

      it('takes every option it declares', async () => {
        expect(optionsAt(path).length).toBeGreaterThan(0);
        for (const option of optionsAt(path)) {
          const argv = completeArgv(path, optionArgs(option));
          expect(() => checkAgentCommandLine(argv), argv.join(' ')).not.toThrow();
          expect((await agentCli([...path, ...optionArgs(option), '--help'])).status, argv.join(' ')).toBe(0);
        }
      });
    },
  );

  it('refuses a command line that leaves out a required option, naming it', async () => {
    const run = await agentCli(['spool', 'flush']);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("required option '--environment <env>' not specified");
    expect(() => checkAgentCommandLine(['run', '--environment', 'dev', '--', 'true'])).toThrow(
      /'--command-type <type>'/,
    );
    expect(() => checkAgentCommandLine(['run', '--command-type', 'build', '--environment', 'dev'])).toThrow(
      /missing required argument 'command'/,
    );
  });

  it('hands everything after run’s command to the command, its flags included', () => {
    expect(() =>
      checkAgentCommandLine([
        'run',
        '--command-type',
        'b',
        '--environment',
        'dev',
        '--',
        'make',
        '--no-such-flag',
        '-h',
      ]),
    ).not.toThrow();
  });

  it('--version: the package version on stdout, exit 0', async () => {
    const run = await agentCli(['--version']);
    expect(run).toMatchObject({ status: 0, stderr: '' });
    expect(run.stdout.trim()).toBe(packageJson.version);
  });

  it('a group with nothing after it: its help on stderr, exit 2', async () => {
    for (const group of ['spool', 'ctl']) {
      const run = await agentCli([group]);
      expect(run).toMatchObject({ status: 2, stdout: '' });
      expect(run.stderr).toMatch(new RegExp(`^Usage: runlane-agent ${group} `));
      expect(() => checkAgentCommandLine([group])).toThrow();
    }
    const bare = await agentCli([]);
    expect(bare.status).toBe(2);
    expect(bare.stderr).toMatch(/^Usage: runlane-agent /);
  });

  it('help, and help <command>: exit 0, the help on stdout', async () => {
    expect(await agentCli(['help'])).toMatchObject({
      status: 0,
      stdout: expect.stringMatching(/^Usage: runlane-agent /),
    });
    expect(await agentCli(['help', 'run'])).toMatchObject({
      status: 0,
      stdout: expect.stringMatching(/^Usage: runlane-agent run /),
    });
    expect(await agentCli(['ctl', 'help'])).toMatchObject({
      status: 0,
      stdout: expect.stringMatching(/^Usage: runlane-agent ctl /),
    });
  });

  it('an unknown command: exit 2, named', async () => {
    const run = await agentCli(['no-such-command']);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("unknown command 'no-such-command'");
    expect(() => checkAgentCommandLine(['no-such-command'])).toThrow(/unknown command 'no-such-command'/);
  });

  it('reads an option from its environment variable; an empty one is unset, an empty flag refused', () => {
    const run = (...flags: string[]) => [
      'run',
      '--command-type',
      'b',
      '--environment',
      'dev',
      ...flags,
      '--',
      'true',
    ];
    try {
      vi.stubEnv('RUNNER_IDLE_MS', '');
      expect(() => checkAgentCommandLine(run())).not.toThrow();
      expect(() => checkAgentCommandLine(run('--idle-ms='))).toThrow(
        /'--idle-ms <ms>' argument '' is invalid/,
      );
      vi.stubEnv('RUNNER_IDLE_MS', '12s');
      expect(() => checkAgentCommandLine(run())).toThrow(/value '12s' from env 'RUNNER_IDLE_MS' is invalid/);
      expect(() => checkAgentCommandLine(run('--idle-ms', '5000'))).not.toThrow();
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('names the environment variable behind an option in its help', async () => {
    const { stdout } = await agentCli(['run', '--help']);
    const fallbacks = optionsAt(['run']).flatMap((option) =>
      option.envVar === undefined ? [] : [option.envVar],
    );
    expect(fallbacks).toEqual([
      'RUNNER_IDLE_MS',
      'RUNNER_HARD_MS',
      'RUNLANE_RUNNER_CONFIG',
      'RUNLANE_EVENT_BUS',
    ]);
    for (const name of fallbacks) expect(stdout.replace(/\s+/g, ' ')).toContain(`(env: ${name})`);
  });
});
