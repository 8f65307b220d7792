import type { Command } from '@commander-js/extra-typings';
import { exitCodes } from '../help.js';
import { apiUrlOption } from '../options.js';
import { namedErrors, type ProgramContext, runs } from './context.js';

/** `runlane sweep`: an anomaly sweep on the local stack now. */
export function addSweepCommand(program: Command, { exit }: ProgramContext): void {
  const command = namedErrors(program.command('sweep'))
    .summary('enqueue an anomaly sweep on the local stack now')
    .description('Enqueues an anomaly.sweep on a running local stack now (POST /_local/sweep).')
    .addOption(apiUrlOption());
  exitCodes(command, { 0: 'the sweep was enqueued', 1: 'no local stack answers' });
  command.action(runs(exit, async (options) => (await import('../commands/sweep.js')).runSweep(options)));
}
