import { type Command, InvalidArgumentError, Option } from '@commander-js/extra-typings';
import { exitCodes } from '../help.js';
import { apiUrlOption, envOption, jsonOption, positiveNumber, wholeNumber } from '../options.js';
import { namedErrors, type ProgramContext, runs } from './context.js';

/** Default of --bulk-limit: replaying more than this needs --confirm. */
const BULK_REPLAY_LIMIT = 10;

/** `runlane replay --lane <lane>`: a lane's dead letters replayed after a fix, verified. */
export function addReplayCommand(program: Command, { exit }: ProgramContext): void {
  const command = namedErrors(program.command('replay'))
    .summary("replay a lane's dead letters after a fix, verified, with evidence")
    .description(
      "Replays a lane's dead letters after a fix: each replayable message is re-sent with a NEW " +
        'commandId fixed by the dead letter (UUIDv5 of the old one; replayOf = the old one, same semantics ' +
        'and correlation chain), linked on the old run before the send and deleted from the DLQ only ' +
        'after it, so a drill run again re-sends the same command; a dead letter whose command already ' +
        'completed is deleted without a re-send (already_completed); invalid_json / invalid_envelope ' +
        'are reported and left. Then it waits ' +
        'until every replay is terminal, re-sends one replay as a duplicate probe, and records evidence.',
    )
    .addOption(apiUrlOption())
    .addOption(envOption())
    .addOption(new Option('--lane <lane>', 'the lane whose dead letters to replay').makeOptionMandatory())
    .addOption(new Option('--max <n>', 'at most n messages').default(10).argParser(wholeNumber(1, 100)))
    .addOption(new Option('--dry-run', 'report what would be replayed; send and delete nothing'))
    .addOption(
      new Option(
        '--confirm',
        'needed to replay more than the bulk limit (seed 003: no bulk replay before the fix)',
      ),
    )
    .addOption(
      new Option('--bulk-limit <n>', 'the bulk limit')
        .env('RUNLANE_REPLAY_BULK_LIMIT')
        .default(BULK_REPLAY_LIMIT)
        .argParser(wholeNumber(0)),
    )
    .addOption(
      new Option('--verify-timeout <s>', 'wait this long for replays to finish, seconds')
        .default(120)
        .argParser(positiveNumber),
    )
    .addOption(
      new Option(
        '--via-step-functions',
        'run the ReplayDrill state machine instead (deployed: StartExecution named after the drill id, ' +
          'then follow it; local: the synthesized definition under aws-local-stepfunctions)',
      ),
    )
    .addOption(
      new Option('--drill-id <id>', 'name the drill (default: generated); a drill id runs once').argParser(
        drillId,
      ),
    )
    .addOption(jsonOption('the evidence as JSON'));
  exitCodes(command, { 0: 'every replayed command completed', 1: 'some did not (or failure)' });
  command.action(runs(exit, async (options) => (await import('../commands/replay.js')).runReplay(options)));
}

/** A drill id names the execution: 1-80 of A-Z a-z 0-9 _ -. */
function drillId(value: string): string {
  if (!/^[A-Za-z0-9_-]{1,80}$/.test(value)) {
    throw new InvalidArgumentError('Expected 1-80 of A-Z a-z 0-9 _ - (it names the execution).');
  }
  return value;
}
