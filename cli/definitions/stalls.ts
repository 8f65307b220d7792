import { Argument, type Command, Option } from '@commander-js/extra-typings';
import { RUNNER_EVIDENCE_FILES } from '#contracts/agent-events.js';
import { STALL_BREAKDOWN_FIELDS } from '#core/runner/report.js';
import { exitCodes } from '../help.js';
import { count, duration, isoTime, jsonOption } from '../options.js';
import { commandGroup, type ProgramContext, runs } from './context.js';

const SKIPPED = 'Invalid lines and an unfinished last line (a write in progress) are skipped and counted.';
const EXIT_CODES = { 0: 'success', 1: 'failure (e.g. no evidence file)' };

function evidenceOption() {
  return new Option('--evidence <file>', 'stall events').default(RUNNER_EVIDENCE_FILES.stalls);
}

/** `runlane stalls tail | by <field>`: the runner's stall evidence, as incident one-liners. */
export function addStallsCommands(program: Command, { exit }: ProgramContext): void {
  const stalls = commandGroup(
    program,
    'stalls',
    `The runner's stall evidence, as seed 002's incident one-liners.\n${SKIPPED}`,
  ).summary("the runner's latest stalls, or counts by root cause, environment, host, command type");
  exitCodes(stalls, EXIT_CODES);

  const tail = stalls
    .command('tail')
    .summary('the last N stalls of the evidence file, oldest first (Get-Content … -Tail 10)')
    .description(`The last N stalls of the evidence file, oldest first. ${SKIPPED}`)
    .addOption(new Option('-n, --lines <n>', 'how many stalls, 0 = all').default(10).argParser(count))
    .addOption(evidenceOption())
    .addOption(jsonOption());
  exitCodes(tail, EXIT_CODES);
  tail.action(runs(exit, async (options) => (await import('../commands/stalls.js')).runStallsTail(options)));

  const by = stalls
    .command('by')
    .summary('how many stalls have each value, most first, with its share (… | Group-Object)')
    .description(
      'How many stalls have each value of the field, most first, with each value’s share: of the ' +
        'last --tail stalls (default 50); with --since of the stalls newer than now minus it, all of ' +
        `them unless --tail is given too. ${SKIPPED}`,
    )
    .addArgument(new Argument('<field>', 'what to count by').choices(STALL_BREAKDOWN_FIELDS))
    .addOption(
      new Option(
        '--tail <n>',
        'how many of the latest stalls to count, 0 = all (default 50, all with --since)',
      ).argParser(count),
    )
    .addOption(
      new Option(
        '--since <duration>',
        'only stalls with now − duration < ts ≤ now (90s, 30m, 2h, 1d)',
      ).argParser(duration),
    )
    .addOption(new Option('--now <iso>', 'the "now" of --since (default: now)').argParser(isoTime))
    .addOption(evidenceOption())
    .addOption(jsonOption());
  exitCodes(by, EXIT_CODES);
  by.action(
    runs(exit, async (field, options) => (await import('../commands/stalls.js')).runStallsBy(field, options)),
  );
}
