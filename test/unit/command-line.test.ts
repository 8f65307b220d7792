import { describe, expect, it } from 'vitest';
import { RUNLANE_AGENT_CLI } from '#agent/cli/cli-spec.js';
import { RUNLANE_CLI } from '#cli/cli-spec.js';
import { runCli } from '#cli/commands.js';
import { CommandLineError, type CommandSpec, commandPaths, parseCommandLine } from '#common/command-line.js';
import { captureConsole } from '../support/console-capture.js';

/**
 * The command-line specs as data (common/command-line.ts) and whether they are the CLIs' own:
 * every command path of RUNLANE_CLI and RUNLANE_AGENT_CLI answers --help with exit 0, refuses
 * an unknown flag with exit 2 and accepts each flag its spec declares. Only --help and bad
 * flags reach the CLIs here: nothing starts a server, touches AWS or spawns a child.
 */

const runlane = (...argv: string[]) => parseCommandLine(RUNLANE_CLI, argv);
const agent = (...argv: string[]) => parseCommandLine(RUNLANE_AGENT_CLI, argv);

describe('parseCommandLine', () => {
  it('accepts a leaf with its flags, values and positionals, defaults filled in', () => {
    expect(runlane('dlq', 'show', 'msg-1', '--lane', 'ingest')).toEqual({
      path: ['dlq', 'show'],
      values: { lane: 'ingest', 'api-url': 'http://127.0.0.1:3000', json: false, help: false },
      positionals: ['msg-1'],
      passthrough: [],
    });
    expect(runlane('stalls', 'by', 'rootCause', '--since', '30m', '--json').values).toMatchObject({
      since: '30m',
      json: true,
    });
    expect(runlane('stalls', 'tail', '-n', '5').values).toMatchObject({ lines: '5' });
    expect(runlane('workers', 'delegation').positionals).toEqual([]);
    expect(runlane('workers', 'delegation', 'on', '--changed-by', 'ops').positionals).toEqual(['on']);
    expect(runlane('local', '--ephemeral', '--port=0').values).toMatchObject({ ephemeral: true, port: '0' });
  });

  it('takes flags before the subcommand where the CLI parses a group in one go, and hands them down', () => {
    expect(runlane('dlq', '--json', 'list').path).toEqual(['dlq', 'list']);
    expect(runlane('stalls', '--since', '30m', 'by', 'host').values).toMatchObject({ since: '30m' });
    // …to a subcommand that must accept them
    expect(() => runlane('stalls', '--since', '30m', 'tail')).toThrow(/stalls tail: .*'--since'/);
  });

  it('takes --help after any command path, without the subcommand or arguments it would need', () => {
    expect(runlane('--help').path).toEqual([]);
    expect(runlane('-h').values).toMatchObject({ help: true });
    expect(runlane('--version').values).toMatchObject({ version: true });
    expect(runlane('dlq', '--help').path).toEqual(['dlq']);
    expect(runlane('trace', '--help').path).toEqual(['trace']);
    expect(runlane('stalls', 'by', '--json', '--help').path).toEqual(['stalls', 'by']);
    expect(agent('run', '--help').path).toEqual(['run']);
    expect(agent('ctl', '-h').path).toEqual(['ctl']);
  });

  it('splits a passthrough command at --', () => {
    const parsed = agent('run', '--command-type', 'build', '--environment', 'dev', '--', 'make', '-j', '4');
    expect(parsed).toMatchObject({
      path: ['run'],
      values: { 'command-type': 'build', environment: 'dev' },
      passthrough: ['make', '-j', '4'],
    });
    expect(() => agent('run', '--command-type', 'build', '--environment', 'dev')).toThrow(
      /run: missing the command line after "--"/,
    );
    expect(() => agent('run', '--environment', 'dev', '--')).toThrow(/missing the command line/);
  });

  it('runs a node that runs without a subcommand by itself unless its first argument names one', () => {
    expect(agent('worker', '--config', 'w.json', '--once').path).toEqual(['worker']);
    expect(agent('worker', 'status', '--config', 'w.json').path).toEqual(['worker', 'status']);
    expect(() => agent('worker', '--json', 'status')).toThrow(/worker: unexpected argument "status"/);
    expect(() => agent('worker', 'status', '--once')).toThrow(/worker status: .*'--once'/);
  });

  it('rejects an unknown subcommand, naming it and the ones there are', () => {
    expect(() => runlane('nope')).toThrow(CommandLineError);
    expect(() => runlane('nope')).toThrow(/command line: unknown subcommand "nope"; expected local, demo, /);
    expect(() => runlane('dlq', 'purge')).toThrow(/dlq: unknown subcommand "purge"; expected list, show/);
    expect(() => runlane('constructor')).toThrow(/unknown subcommand "constructor"/);
    expect(() => agent('ctl', 'reboot')).toThrow(/ctl: unknown subcommand "reboot"/);
    expect(() => runlane('dlq')).toThrow(/dlq: missing a subcommand; expected list, show/);
  });

  it('rejects an unknown flag, naming it, also before a subcommand that is dispatched on', () => {
    expect(() => runlane('dlq', 'list', '--no-such-flag')).toThrow(/dlq list: .*'--no-such-flag'/);
    expect(() => runlane('--json', 'local')).toThrow(/command line: .*'--json'/);
    expect(() => agent('spool', '--json', 'status')).toThrow(/spool: .*'--json'/);
    expect(() => agent('ctl', 'health', '--spec', '{}')).toThrow(/ctl health: .*'--spec'/);
    expect(() => agent('spool', 'status', '-h')).toThrow(/spool status: .*'-h'/);
  });

  it('rejects a flag without its value, naming it', () => {
    expect(() => runlane('dlq', 'list', '--lane')).toThrow(/dlq list: .*'--lane <value>' argument missing/);
    expect(() => runlane('dlq', '--lane')).toThrow(/dlq: .*'--lane <value>' argument missing/);
    expect(() => agent('ctl', 'health', '--socket', '--json')).toThrow(/'--socket'/);
  });

  it('rejects too many or too few positionals, and a value not among the choices', () => {
    expect(() => runlane('trace', 'a', 'b')).toThrow(/trace: unexpected argument "b" \(takes at most 1\)/);
    expect(() => runlane('dlq', 'list', 'extra')).toThrow(/dlq list: unexpected argument "extra" \(takes no/);
    expect(() => runlane('trace')).toThrow(/trace: missing an argument \(takes 1, got 0\)/);
    expect(() => agent('ctl', 'remove-child')).toThrow(/ctl remove-child: missing an argument/);
    expect(() => runlane('stalls', 'by', 'colour')).toThrow(
      /stalls by: "colour" is not one of rootCause, environment, host, commandType/,
    );
    expect(() => runlane('workers', 'delegation', 'maybe')).toThrow(/"maybe" is not one of on, off/);
  });

  it('takes any number of positionals from min when max is not given', () => {
    const spec: CommandSpec = { subcommands: { echo: { positionals: { min: 1 } } } };
    expect(parseCommandLine(spec, ['echo', 'a', 'b', 'c']).positionals).toEqual(['a', 'b', 'c']);
    expect(() => parseCommandLine(spec, ['echo'])).toThrow(/echo: missing an argument \(takes at least 1/);
  });
});

describe('commandPaths', () => {
  it('lists every command that runs, a node that runs by itself too', () => {
    expect(commandPaths(RUNLANE_CLI).map((path) => path.join(' '))).toEqual([
      'local',
      'demo',
      'sweep',
      'trace',
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
      'tasks stuck',
    ]);
  });
});

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

function runlaneCli(argv: readonly string[]) {
  return captureConsole(() => runCli(argv));
}

describe('RUNLANE_CLI is the runlane CLI', () => {
  describe.each(commandPaths(RUNLANE_CLI).map((path) => [path.join(' '), path] as const))(
    'runlane %s',
    (_, path) => {
      it('--help: exit 0, the help on stdout', async () => {
        const run = await runlaneCli([...path, '--help']);
        expect(run).toMatchObject({ status: 0, stderr: '' });
        expect(run.stdout).toContain(`runlane ${path[0]}`);
        expect(() => parseCommandLine(RUNLANE_CLI, [...path, '--help'])).not.toThrow();
      });

      it('--no-such-flag: exit 2, the flag named', async () => {
        const run = await runlaneCli([...path, '--no-such-flag']);
        expect(run.status).toBe(2);
        expect(run.stderr).toContain("'--no-such-flag'");
        expect(() => parseCommandLine(RUNLANE_CLI, [...path, '--no-such-flag'])).toThrow(/'--no-such-flag'/);
      });

      it('takes every flag of its spec', async () => {
        for (const flag of optionArgs(nodeAt(RUNLANE_CLI, path))) {
          expect((await runlaneCli([...path, ...flag, '--help'])).status, flag.join(' ')).toBe(0);
        }
      });
    },
  );

  it('an unknown command: exit 2, named', async () => {
    const run = await runlaneCli(['no-such-command']);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('unknown command "no-such-command"');
  });

  it('--help and --version at the top: exit 0', async () => {
    expect((await runlaneCli(['--help'])).status).toBe(0);
    expect((await runlaneCli(['-h'])).status).toBe(0);
    expect((await runlaneCli(['--version'])).stdout).toMatch(/^\d+\.\d+\.\d+/);
  });
});
