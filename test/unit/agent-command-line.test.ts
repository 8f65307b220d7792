import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { RUNLANE_AGENT_CLI } from '#agent/cli/cli-spec.js';
import { runAgentCli } from '#agent/cli/main.js';
import { type CommandSpec, commandPaths, parseCommandLine } from '#common/command-line.js';

/**
 * The runlane-agent command line and whether its definition is the CLI's own: every command path
 * answers --help with exit 0, refuses an unknown flag with exit 2 and accepts each flag it
 * declares. Only --help and bad flags reach the CLI here: nothing starts or spawns.
 */

const agent = (...argv: string[]) => parseCommandLine(RUNLANE_AGENT_CLI, argv);

/** The spec node a path names. */
function nodeAt(spec: CommandSpec, path: readonly string[]): CommandSpec {
  return path.reduce<CommandSpec>((node, name) => node.subcommands?.[name] ?? node, spec);
}

/** Each option of a spec node on the command line: `--name` or `--name=value`. */
function optionArgs(spec: CommandSpec): string[][] {
  return Object.entries(spec.options ?? {}).map(([name, option]) =>
    option.type === 'boolean' ? [`--${name}`] : [`--${name}=x`],
  );
}

describe('commandPaths', () => {
  it('lists every command that runs, a node that runs by itself too', () => {
    expect(commandPaths(RUNLANE_AGENT_CLI)).toEqual([
      ['run'],
      ['spool', 'status'],
      ['spool', 'flush'],
      ['supervise'],
      ['worker'],
      ['worker', 'status'],
      ['ctl', 'health'],
      ['ctl', 'state'],
      ['ctl', 'current-state'],
      ['ctl', 'remove-child'],
      ['ctl', 'add-child'],
      ['ctl', 'quarantine-child'],
      ['ctl', 'release-child'],
      ['ctl', 'restart-child'],
    ]);
  });
});

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

/** `run`'s flags go before its `--`. */
const agentArgv = (path: readonly string[], args: readonly string[]): string[] =>
  nodeAt(RUNLANE_AGENT_CLI, path).passthrough ? [...path, ...args, '--', 'true'] : [...path, ...args];

describe('RUNLANE_AGENT_CLI is the runlane-agent CLI', () => {
  describe.each(commandPaths(RUNLANE_AGENT_CLI).map((path) => [path.join(' '), path] as const))(
    'runlane-agent %s',
    (_, path) => {
      it('--help: exit 0, the usage on stdout', async () => {
        const run = await agentCli(agentArgv(path, ['--help']));
        expect(run).toMatchObject({ status: 0, stderr: '' });
        expect(run.stdout).toMatch(/^usage: runlane-agent /);
        expect(() => parseCommandLine(RUNLANE_AGENT_CLI, agentArgv(path, ['--help']))).not.toThrow();
      });

      it('--no-such-flag: exit 2, the flag named', async () => {
        const run = await agentCli(agentArgv(path, ['--no-such-flag']));
        expect(run.status).toBe(2);
        expect(run.stderr).toContain("'--no-such-flag'");
        expect(() => parseCommandLine(RUNLANE_AGENT_CLI, agentArgv(path, ['--no-such-flag']))).toThrow(
          /'--no-such-flag'/,
        );
      });

      it('takes every flag of its spec', async () => {
        for (const flag of optionArgs(nodeAt(RUNLANE_AGENT_CLI, path))) {
          expect((await agentCli(agentArgv(path, [...flag, '--help']))).status, flag.join(' ')).toBe(0);
        }
      });
    },
  );

  it('an unknown command: exit 2, named', async () => {
    const run = await agentCli(['no-such-command']);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('unknown command no-such-command');
    expect(() => agent('no-such-command')).toThrow(/unknown subcommand "no-such-command"/);
  });
});
