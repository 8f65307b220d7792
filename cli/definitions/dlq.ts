import { type Command, Option } from '@commander-js/extra-typings';
import { EXIT_NOT_FOUND } from '../exit-codes.js';
import { exitCodes } from '../help.js';
import { apiUrlOption, envOption, jsonOption, wholeNumber } from '../options.js';
import { commandGroup, type ProgramContext, runs } from './context.js';

const PEEKED =
  'Every dead letter with lane, message id, command id, correlation id, reason, rationale, ' +
  'receive count and age — peeked, not consumed (each message is made visible again at once).';

/** `runlane dlq list | show <messageId>`: dead letters with their reasons. */
export function addDlqCommands(program: Command, { exit }: ProgramContext): void {
  const dlq = commandGroup(program, 'dlq', `Dead letters with their reasons.\n${PEEKED}`).summary(
    'dead letters with their reasons, peeked without consuming them',
  );
  const list = dlq
    .command('list')
    .summary('every dead letter of the lanes')
    .description(PEEKED)
    .addOption(apiUrlOption())
    .addOption(envOption())
    .option('--lane <lane>', 'only this lane (default: every lane)')
    .addOption(
      new Option('--limit <n>', 'at most this many per lane; a lane holding more is named on stderr')
        .default(1000)
        .argParser(wholeNumber(1, 100_000)),
    )
    .addOption(jsonOption('as JSON'));
  exitCodes(list, { 0: 'listed', 1: 'failure' });
  list.action(runs(exit, async (options) => (await import('../commands/dlq.js')).runDlqList(options)));

  const show = dlq
    .command('show')
    .summary('one dead letter, with its body')
    .description(`One dead letter, with its body. ${PEEKED}`)
    .argument('<messageId>', 'the SQS message id (runlane dlq list shows it)')
    .addOption(apiUrlOption())
    .addOption(envOption())
    .option('--lane <lane>', 'look in this lane only (default: every lane)')
    .addOption(jsonOption('as JSON'));
  exitCodes(show, { 0: 'shown', 1: 'failure', [EXIT_NOT_FOUND]: 'no such message' });
  show.action(
    runs(exit, async (messageId, options) =>
      (await import('../commands/dlq.js')).runDlqShow(messageId, options),
    ),
  );
}
