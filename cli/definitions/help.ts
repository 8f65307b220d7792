import type { Command } from '@commander-js/extra-typings';
import { commandAt } from '#common/cli-program.js';
import { UsageError } from '../errors.js';
import { type ProgramContext, runs } from './context.js';

/** `runlane help [command...]`: the help of `runlane` or of the command named, as `--help` prints it. */
export function addHelpCommand(program: Command, { exit }: ProgramContext): void {
  const help = program
    .command('help')
    .summary("runlane's help, or a command's (same as --help)")
    .description('Prints the help of runlane, or of the command named (runlane help workers config).')
    .argument('[command...]', 'a command, e.g. dlq show');
  help.action(
    runs(exit, async (words) => {
      let command: ReturnType<typeof commandAt>;
      try {
        command = commandAt(program, words);
      } catch {
        throw new UsageError(`no command "${words.join(' ')}"`);
      }
      command.outputHelp();
      return 0;
    }),
  );
}
