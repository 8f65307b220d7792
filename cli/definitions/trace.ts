import { type Command, Option } from '@commander-js/extra-typings';
import { EXIT_NOT_FOUND } from '../exit-codes.js';
import { exitCodes } from '../help.js';
import { apiUrlOption, envOption, jsonOption, WHERE } from '../options.js';
import { namedErrors, type ProgramContext, runs } from './context.js';

/** `runlane trace <id>`: one command's story. */
export function addTraceCommand(program: Command, { exit }: ProgramContext): void {
  const command = namedErrors(program.command('trace'))
    .summary("one command's timeline (local stack or --env <name>)")
    .description(
      "One command's story: acceptance, each attempt with its stages' outcome codes, signals, dead " +
        'letters and replay links (old → new commandId), read from the lifecycle table (by id and the ' +
        'correlation index, no scan), plus a CloudWatch Logs Insights query for the correlation id. A ' +
        'bare SQS message id is found by scanning the table, only when it is neither a commandId nor a ' +
        'correlation id. Reads the local stack unless told otherwise.',
    )
    .argument('<id>', 'a commandId, an SQS message id or a correlation id')
    .addOption(apiUrlOption())
    .addOption(envOption('a deployed environment: its table from the outputs of stack Runlane-<env>'))
    .addOption(
      new Option('--table-name <name>', 'a lifecycle table directly, with --region').helpGroup(WHERE),
    )
    .addOption(
      new Option('--region <region>', "with --table-name; --env uses the environment's")
        .env('AWS_REGION')
        .helpGroup(WHERE),
    )
    .addOption(jsonOption('the trace as JSON'));
  exitCodes(command, { 0: 'traced', 1: 'failure', [EXIT_NOT_FOUND]: 'nothing found' });
  command.action(
    runs(exit, async (id, options) => (await import('../commands/trace.js')).runTrace(id, options)),
  );
}
