import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRunlaneProgram, runCli } from '#cli/program.js';
import { type CliOutput, commandPaths, ExitCode } from '#common/cli-program.js';

/**
 * What `runlane`'s help says comes from the program definition: each command's exit codes, the
 * table of them in `runlane --help`, a group's help when it is called without a command. And
 * `--help` stays light: the program loads no command module and no AWS SDK until a command runs.
 */

const ROOT = resolve(import.meta.dirname, '../..');
const silent: CliOutput = { stdout: { write: () => true }, stderr: { write: () => true } };
const program = createRunlaneProgram(silent, new ExitCode());
const leaves = commandPaths(program).filter((path) => path[0] !== 'help');
const GROUPS = ['dlq', 'report', 'stalls', 'supervisors', 'workers', 'tasks'];

async function runlane(argv: readonly string[]) {
  const out = { stdout: '', stderr: '' };
  const output: CliOutput = {
    stdout: { write: (text: string) => (out.stdout += text) },
    stderr: { write: (text: string) => (out.stderr += text) },
  };
  return { status: await runCli(argv, output), ...out };
}

/** The codes of a command's `Exit codes: 0 …, 1 …, 2 bad usage.` line. */
function exitCodesOf(help: string): number[] {
  const line = help.split('\n').find((l) => l.startsWith('Exit codes: '));
  if (line === undefined) throw new Error(`no exit codes in\n${help}`);
  return [...line.matchAll(/(?:: |, )(\d+) /g)].map((match) => Number(match[1]));
}

describe('exit codes in the help', () => {
  it('each command lists its own, 2 (bad usage) included', async () => {
    for (const path of leaves) {
      const { stdout } = await runlane([...path, '--help']);
      expect(exitCodesOf(stdout), path.join(' ')).toEqual(expect.arrayContaining([0, 1, 2]));
      expect(stdout).toMatch(/\b2 bad usage[,.]/);
    }
  });

  it('runlane --help has the table of every code a command uses, naming the commands of one few use', async () => {
    const used = new Map<number, string[]>();
    for (const path of leaves) {
      for (const code of exitCodesOf((await runlane([...path, '--help'])).stdout)) {
        used.set(code, [...(used.get(code) ?? []), path.join(' ')]);
      }
    }
    const { stdout } = await runlane(['--help']);
    const table = stdout.slice(stdout.indexOf('\nExit codes:\n'));
    const rows = table.split('\n').filter((line) => /^ {2}\d/.test(line));
    expect(rows.map((row) => Number(row.trim().split(' ')[0]))).toEqual(
      [...used.keys()].sort((a, b) => a - b),
    );
    expect(rows.find((row) => row.startsWith('  4 '))).toBe('  4  nothing found (trace, dlq show)');
    expect(used.get(4)).toEqual(['trace', 'dlq show']);
    expect(rows.find((row) => row.startsWith('  2 '))).toMatch(/bad usage/);
  });
});

describe('a group called without a command', () => {
  it.each(GROUPS)('runlane %s: its help on stderr, exit 2', async (group) => {
    const run = await runlane([group]);
    expect(run).toMatchObject({ status: 2, stdout: '' });
    expect(run.stderr).toMatch(new RegExp(`^Usage: runlane ${group} <command>`));
    expect(run.stderr).toContain(`runlane ${group} `);
  });

  it('lists its commands by their synopsis, without a help subcommand', async () => {
    const { stdout } = await runlane(['workers', '--help']);
    expect(stdout).toContain('runlane workers delegation [on|off] [--changed-by <name>]');
    expect(stdout).toContain('--site <site> --worker-id <id>');
    expect(stdout).not.toMatch(/^ {2}help /m);
  });
});

/** The modules `file` imports statically (type-only imports and `import()` left out), as paths. */
function staticImports(file: string): string[] {
  const source = readFileSync(file, 'utf8');
  const specifiers = [...source.matchAll(/^import (?!type )[^;]*? from '([^']+)';/gms)].map(
    (m) => m[1] as string,
  );
  const aliases: Record<string, string> = JSON.parse(
    readFileSync(join(ROOT, 'package.json'), 'utf8'),
  ).imports;
  return specifiers.map((specifier) => {
    if (specifier.startsWith('.')) return resolve(dirname(file), specifier).replace(/\.js$/, '.ts');
    const alias = Object.keys(aliases).find((key) => specifier.startsWith(key.replace('*', '')));
    if (alias === undefined) return specifier;
    const target = (aliases[alias] as string).replace('*', specifier.slice(alias.length - 1));
    return resolve(ROOT, target).replace(/\.js$/, '.ts');
  });
}

function moduleGraph(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    if (file.startsWith(ROOT)) for (const next of staticImports(file)) visit(next);
  };
  visit(entry);
  return seen;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? tsFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

describe('the program definition', () => {
  it('loads no command module, adapter or AWS SDK before a command runs', () => {
    const loaded = [...moduleGraph(join(ROOT, 'cli/program.ts'))].map((file) =>
      file.startsWith(ROOT) ? relative(ROOT, file) : file,
    );
    expect(loaded).toContain('cli/definitions/workers.ts');
    expect(loaded.filter((file) => /^cli\/commands\//.test(file))).toEqual([]);
    expect(
      loaded.filter((file) => /^@aws-sdk\/|^@smithy\/|^functions\/(adapters|wiring)\//.test(file)),
    ).toEqual([]);
  });

  it('cli/ imports nothing of agent/', () => {
    for (const file of tsFiles(join(ROOT, 'cli'))) {
      expect(readFileSync(file, 'utf8'), relative(ROOT, file)).not.toMatch(/#agent\/|\.\.\/agent\//);
    }
  });
});
