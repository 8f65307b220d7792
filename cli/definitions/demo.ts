import { type Command, Option } from '@commander-js/extra-typings';
import { exitCodes } from '../help.js';
import { apiUrlOption, jsonOption, numberAtLeast } from '../options.js';
import { namedErrors, type ProgramContext, runs } from './context.js';

/** `runlane demo`: a scripted mix of commands and how each ended (`npm run demo`). */
export function addDemoCommand(program: Command, { exit }: ProgramContext): void {
  const command = namedErrors(program.command('demo'))
    .summary('send a scripted mix of commands and print how each ended (npm run demo)')
    .description(
      'Sends good commands, a duplicate commandId, invalid JSON, an invalid envelope, an unsupported ' +
        'type, a handler that fails twice then succeeds, and a high-impact proposal with its approval; ' +
        "then prints each command's final state (read back from the API), the dead-letter queues and " +
        'the review queue.',
    )
    .addOption(apiUrlOption())
    .addOption(new Option('--start', 'start an ephemeral local stack for the demo if none answers'))
    .addOption(
      new Option('--timeout <s>', 'how long to wait for commands to finish, seconds')
        .default(120)
        .argParser(numberAtLeast(1)),
    )
    .addOption(jsonOption('print the results as JSON'));
  exitCodes(command, {
    0: 'every command ended as expected',
    1: 'some did not (or no local stack answers, without --start)',
  });
  command.action(
    runs(exit, async (options) => (await import('../commands/demo.js')).runDemoCommand(options)),
  );
}
