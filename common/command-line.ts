/**
 * Command lines as data: a tree of {@link CommandSpec}s that both the CLIs parse with (their
 * `parseArgs` options come from it) and the runbook checks read, so a command written in a
 * runbook is checked against the real flags without running anything. Only `node:util` here:
 * importing a spec must stay cheap and free of side effects.
 */
import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';

/** One command of a CLI, or a group of them. */
export interface CommandSpec {
  /** Options exactly as node:util parseArgs takes them (strict). */
  readonly options?: ParseArgsOptionsConfig;
  /**
   * Subcommands: the first positional names one and its spec parses the rest (its own options;
   * share option objects by spread where the runtime shares them). Flags before the name are
   * read with this node's options (to find the name) and then handed to the subcommand, which
   * must accept them: a CLI that parses a group's flags in one go puts the union of its
   * subcommands' options here, one that dispatches on its first argument only `--help`.
   */
  readonly subcommands?: Readonly<Record<string, CommandSpec>>;
  /**
   * With `subcommands`: when the first argument names none, the node runs itself with its own
   * options and positionals (`runlane-agent worker` beside `runlane-agent worker status`). The
   * subcommand's name must then come first.
   * @default false
   */
  readonly runsWithoutSubcommand?: boolean;
  /**
   * Positionals a leaf takes (default none): min/max count, optional allowed values for the
   * first. Given without `max`, any number from `min` on.
   */
  readonly positionals?: {
    readonly min?: number;
    readonly max?: number;
    readonly choices?: readonly string[];
  };
  /**
   * `--` ends the options and what follows is a child command line (runlane-agent run); it is
   * required, with at least the command, unless `--help` is given.
   * @default false
   */
  readonly passthrough?: boolean;
}

/** A command line the spec does not accept; the message names the flag, subcommand or argument. */
export class CommandLineError extends Error {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'CommandLineError';
  }
}

/** What {@link parseCommandLine} found. */
export interface ParsedCommandLine {
  /** Subcommand names from the root, e.g. `['dlq', 'show']`; empty for the root itself. */
  path: string[];
  /** The options of the command the path names, with their defaults (`parseArgs`'s `values`). */
  values: Record<string, unknown>;
  positionals: string[];
  /** After `--` of a passthrough command: the child command line. */
  passthrough: string[];
}

/**
 * Parses argv against the spec tree; throws {@link CommandLineError} naming the bad flag /
 * subcommand / argument. `--help` alone (or with other valid flags) after a command path is
 * valid when that spec has a help option — also where a subcommand, positionals or a
 * passthrough command would be required; so is `--version` where the spec has that option.
 *
 * @example
 * parseCommandLine(RUNLANE_CLI, ['dlq', 'show', 'abc', '--lane', 'ingest']);
 * // → { path: ['dlq', 'show'], values: { lane: 'ingest', json: false, … }, positionals: ['abc'], passthrough: [] }
 */
export function parseCommandLine(spec: CommandSpec, argv: readonly string[]): ParsedCommandLine {
  return parseNode(spec, [...argv], []);
}

/**
 * Every command path of the tree that runs something: each leaf, and each node that
 * {@link CommandSpec.runsWithoutSubcommand}; in declaration order.
 *
 * @example
 * commandPaths(RUNLANE_AGENT_CLI); // [['run'], ['spool', 'status'], …, ['worker'], ['worker', 'status'], …]
 */
export function commandPaths(spec: CommandSpec, path: readonly string[] = []): string[][] {
  if (spec.subcommands === undefined) return [[...path]];
  const own = spec.runsWithoutSubcommand ? [[...path]] : [];
  return [
    ...own,
    ...Object.entries(spec.subcommands).flatMap(([name, child]) => commandPaths(child, [...path, name])),
  ];
}

/** Whether `name` is one of the spec's subcommands (own keys only: not `constructor` & co.). */
export function isSubcommand<S extends CommandSpec>(
  spec: S,
  name: string | undefined,
): name is keyof NonNullable<S['subcommands']> & string {
  return name !== undefined && spec.subcommands !== undefined && Object.hasOwn(spec.subcommands, name);
}

function parseNode(spec: CommandSpec, args: string[], path: string[]): ParsedCommandLine {
  const { subcommands } = spec;
  if (subcommands === undefined) return parseLeaf(spec, args, path);
  if (spec.runsWithoutSubcommand) {
    const [first, ...rest] = args;
    const child = first === undefined ? undefined : ownChild(subcommands, first);
    return child === undefined
      ? parseLeaf(spec, args, path)
      : parseNode(child, rest, [...path, first as string]);
  }
  // Find the subcommand's name: the first positional once this node's flags (and their values) are skipped.
  const options = spec.options ?? {};
  const { tokens } = parseArgs({ args, options, strict: false, allowPositionals: true, tokens: true });
  const stop = tokens.find((token) => token.kind !== 'option');
  const prefix = args.slice(0, stop?.index ?? args.length);
  const { values } = strictParse(options, prefix, path, false);
  const expected = `expected ${Object.keys(subcommands).join(', ')}`;
  if (stop?.kind === 'option-terminator')
    throw new CommandLineError(`${where(path)}: a subcommand must come before "--"; ${expected}`);
  if (stop === undefined) {
    if (values.help === true || values.version === true)
      return { path, values, positionals: [], passthrough: [] };
    throw new CommandLineError(`${where(path)}: missing a subcommand; ${expected}`);
  }
  const name = stop.value;
  const child = ownChild(subcommands, name);
  if (child === undefined)
    throw new CommandLineError(`${where(path)}: unknown subcommand "${name}"; ${expected}`);
  return parseNode(child, [...prefix, ...args.slice(stop.index + 1)], [...path, name]);
}

function parseLeaf(spec: CommandSpec, args: string[], path: string[]): ParsedCommandLine {
  const separator = spec.passthrough ? args.indexOf('--') : -1;
  const head = separator < 0 ? args : args.slice(0, separator);
  const passthrough = separator < 0 ? [] : args.slice(separator + 1);
  const { values, positionals } = strictParse(spec.options ?? {}, head, path, true);
  if (values.help === true) return { path, values, positionals, passthrough };

  const min = spec.positionals?.min ?? 0;
  const max = spec.positionals?.max ?? (spec.positionals === undefined ? 0 : Number.POSITIVE_INFINITY);
  if (positionals.length > max) {
    const takes = max === 0 ? 'takes no arguments' : `takes at most ${max}`;
    throw new CommandLineError(`${where(path)}: unexpected argument "${positionals[max]}" (${takes})`);
  }
  if (positionals.length < min)
    throw new CommandLineError(
      `${where(path)}: missing an argument (takes ${min === max ? min : `at least ${min}`}, got ${positionals.length})`,
    );
  const choices = spec.positionals?.choices;
  const [first] = positionals;
  if (choices !== undefined && first !== undefined && !choices.includes(first))
    throw new CommandLineError(`${where(path)}: "${first}" is not one of ${choices.join(', ')}`);
  if (spec.passthrough && passthrough.length === 0)
    throw new CommandLineError(`${where(path)}: missing the command line after "--"`);
  return { path, values, positionals, passthrough };
}

function strictParse(
  options: ParseArgsOptionsConfig,
  args: string[],
  path: string[],
  allowPositionals: boolean,
): { values: Record<string, unknown>; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args, options, strict: true, allowPositionals });
    return { values: { ...values }, positionals };
  } catch (error) {
    throw new CommandLineError(`${where(path)}: ${(error as Error).message}`, { cause: error });
  }
}

function ownChild(subcommands: Readonly<Record<string, CommandSpec>>, name: string): CommandSpec | undefined {
  return Object.hasOwn(subcommands, name) ? subcommands[name] : undefined;
}

function where(path: readonly string[]): string {
  return path.length === 0 ? 'command line' : path.join(' ');
}
