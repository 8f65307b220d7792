import { type Command, Option } from '@commander-js/extra-typings';
import { exitCodes } from '../help.js';
import { apiUrlOption, jsonOption, positiveNumber } from '../options.js';
import { namedErrors, type ProgramContext, runs } from './context.js';

/** `runlane gate`: seed 003's release-gate scenarios, with evidence. */
export function addGateCommand(program: Command, { exit }: ProgramContext): void {
  const command = namedErrors(program.command('gate'))
    .summary("run seed 003's four release-gate scenarios and write evidence/<timestamp>/")
    .description(
      'The release-gate evidence of seed 003, produced by running four scenarios:\n' +
        '  1. queue retry with recovery proof\n' +
        '  2. dead letter with fail-closed status and signal proof\n' +
        '  3. replay with idempotent duplicate handling\n' +
        '  4. correlated trace across API enqueue, worker handling and lifecycle persistence\n' +
        'Writes <out>/<timestamp>/ with a JSON file and a Markdown summary per scenario, and index.md. ' +
        'Scenarios 1-3 use the drill command type drill.flaky, which only the local stack registers.',
    )
    .addOption(apiUrlOption())
    .addOption(new Option('--out <dir>', 'evidence folder').default('evidence'))
    .addOption(new Option('--timeout <s>', 'per scenario, seconds').default(180).argParser(positiveNumber))
    .addOption(jsonOption('print the results as JSON'));
  exitCodes(command, { 0: 'every scenario passed', 1: 'some did not (or failure)' });
  command.action(runs(exit, async (options) => (await import('../commands/gate.js')).runGate(options)));
}
