/**
 * How `runlane`'s help reads, generated from the program definition (STYLE principle 16): each
 * command's synopsis from its options and arguments, a group listing its subcommands by their
 * synopses, each command's exit codes from what it declares with {@link exitCodes}, and the
 * table of every code in `runlane --help`.
 */
import { type CommandUnknownOpts, Help } from '@commander-js/extra-typings';
import { EXIT_CODE_MEANINGS, EXIT_USAGE } from './exit-codes.js';

type HelpOption = CommandUnknownOpts['options'][number];
type HelpArgument = CommandUnknownOpts['registeredArguments'][number];

/** What a command's exit codes mean, by code; 2 (bad usage) is every command's and added for it. */
export type ExitCodeMeanings = Readonly<Record<number, string>>;

const declared = new WeakMap<object, ExitCodeMeanings>();

/**
 * Declares what the command's exit codes mean; its help shows them, `runlane --help` counts them.
 *
 * @example
 * exitCodes(program.command('trace'), { 0: 'traced', 1: 'failure', 4: 'nothing found' });
 */
export function exitCodes<C extends object>(command: C, meanings: ExitCodeMeanings): C {
  declared.set(command, meanings);
  return command;
}

/** A command with more options than this shows `[options]` in its synopsis instead of each one. */
const SYNOPSIS_MAX_OPTIONS = 6;

/** In a group's help, a subcommand's synopsis longer than this goes on a line of its own. */
const TERM_COLUMN_MAX = 40;

/** The help layout of every `runlane` command (pass to the root's `configureHelp`). */
export const RUNLANE_HELP: Partial<Help> = {
  commandUsage: (command) => synopsis(command),
  subcommandTerm: (command) => subcommandTerm(command),
  subcommandDescription: (command) => command.summary() || (command.description().split('\n')[0] ?? ''),
  longestSubcommandTermLength(command, helper) {
    const lengths = helper
      .visibleCommands(command)
      .map((sub) => helper.displayWidth(helper.subcommandTerm(sub)));
    const column = command.parent === null ? lengths : lengths.filter((length) => length <= TERM_COLUMN_MAX);
    return Math.max(0, ...column);
  },
  formatItem(term, termWidth, description, helper) {
    if (helper.displayWidth(term) <= termWidth || description === '') {
      return Help.prototype.formatItem.call(this, term, termWidth, description, helper);
    }
    // A synopsis too long for the column: the description goes under it.
    const indent = ' '.repeat(6);
    const wrapped = helper.boxWrap(description, (helper.helpWidth ?? 80) - indent.length);
    return `  ${term}\n${indent}${wrapped.replace(/\n/g, `\n${indent}`)}`;
  },
  formatHelp(command, helper) {
    const sections = [Help.prototype.formatHelp.call(this, command, helper)];
    if (command.parent === null) sections.push(commandsHint(), exitCodeTable(command));
    const own = declared.get(command);
    if (own !== undefined) sections.push(exitCodeLine(own));
    return `${sections.map((section) => section.trimEnd()).join('\n\n')}\n`;
  },
};

/** `runlane stalls by <rootCause|…> [--tail <n>] …`: the command, its arguments, then its options. */
function synopsis(command: CommandUnknownOpts): string {
  const path = commandPath(command);
  const options = ownOptions(command);
  if (command.commands.length > 0) {
    return [path, ...(options.length > 0 ? ['[options]'] : []), '<command>'].join(' ');
  }
  const words =
    options.length > SYNOPSIS_MAX_OPTIONS
      ? [...options.filter((option) => option.mandatory).map(optionWord), '[options]']
      : options.map(optionWord);
  return [path, ...command.registeredArguments.map(argumentWord), ...words].join(' ');
}

/**
 * A subcommand as its parent's help lists it: a group by its subcommands (`runlane dlq list|show`);
 * a command of the root briefly (`runlane trace <id> [options]`); a group's command by its synopsis.
 */
function subcommandTerm(command: CommandUnknownOpts): string {
  const path = commandPath(command);
  if (command.commands.length > 0) return `${path} ${command.commands.map((sub) => sub.name()).join('|')}`;
  if (command.parent?.parent !== null) return synopsis(command);
  const options = ownOptions(command);
  const required = options.filter((option) => option.mandatory).map(optionWord);
  const optional = options.some((option) => !option.mandatory) ? ['[options]'] : [];
  return [path, ...required, ...command.registeredArguments.map(argumentWord), ...optional].join(' ');
}

function commandPath(command: CommandUnknownOpts): string {
  const names: string[] = [];
  for (let at: CommandUnknownOpts | null = command; at !== null; at = at.parent) names.unshift(at.name());
  return names.join(' ');
}

/** The options a user gives (not --help, not hidden ones). */
function ownOptions(command: CommandUnknownOpts): HelpOption[] {
  return command.options.filter((option) => !option.hidden && option.long !== '--help');
}

/** `--env <env>` when mandatory, `[--json]`, `[-n 10]` (a number default shows as the value). */
function optionWord(option: HelpOption): string {
  const flag = option.short ?? option.long ?? option.flags;
  const placeholder = /[<[][^>\]]*[>\]]/.exec(option.flags)?.[0];
  const value = typeof option.defaultValue === 'number' ? String(option.defaultValue) : placeholder;
  const word = value === undefined ? flag : `${flag} ${value}`;
  return option.mandatory ? word : `[${word}]`;
}

/** `<messageId>`, `[on|off]`, `<rootCause|environment|host|commandType>`. */
function argumentWord(argument: HelpArgument): string {
  const name = argument.argChoices ? argument.argChoices.join('|') : argument.name();
  const text = `${name}${argument.variadic ? '...' : ''}`;
  return argument.required ? `<${text}>` : `[${text}]`;
}

function commandsHint(): string {
  return "Run `runlane <command> --help` for a command's options, what it prints and its exit codes.\n";
}

/** `Exit codes: 0 traced, 1 failure, 2 bad usage, 4 nothing found.` */
function exitCodeLine(meanings: ExitCodeMeanings): string {
  const all: Record<number, string> = { ...meanings, [EXIT_USAGE]: 'bad usage' };
  const codes = Object.keys(all)
    .map(Number)
    .sort((a, b) => a - b);
  return `Exit codes: ${codes.map((code) => `${code} ${all[code]}`).join(', ')}.`;
}

/** Every code the commands declare, with the commands that use one not all of them use. */
function exitCodeTable(root: CommandUnknownOpts): string {
  const leaves = runnableCommands(root).filter((leaf) => declared.has(leaf));
  const users = new Map<number, string[]>([[EXIT_USAGE, leaves.map(commandPath)]]);
  for (const leaf of leaves) {
    for (const code of Object.keys(declared.get(leaf) ?? {}).map(Number)) {
      users.set(code, [...(users.get(code) ?? []), commandPath(leaf)]);
    }
  }
  const rows = [...users.entries()]
    .sort(([a], [b]) => a - b)
    .map(([code, paths]) => {
      const meaning = EXIT_CODE_MEANINGS[code] ?? 'see the command';
      const some = paths.length < leaves.length ? ` (${paths.map(withoutProgram).join(', ')})` : '';
      return `  ${String(code).padEnd(3)}${meaning}${some}`;
    });
  return ['Exit codes:', ...rows, ''].join('\n');
}

function withoutProgram(path: string): string {
  return path.split(' ').slice(1).join(' ');
}

function runnableCommands(command: CommandUnknownOpts): CommandUnknownOpts[] {
  if (command.commands.length === 0) return [command];
  return command.commands.flatMap(runnableCommands);
}
