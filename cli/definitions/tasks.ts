import { type Command, InvalidArgumentError, Option } from '@commander-js/extra-typings';
import { DEFAULT_STUCK_TASK_MINUTES } from '#core/workers/settings.js';
import { exitCodes } from '../help.js';
import { apiUrlOption, envOption, jsonOption } from '../options.js';
import { commandGroup, type ProgramContext, runs } from './context.js';

const STUCK = [
  'Seed 004\'s "Tasks stuck in executing": delegated tasks a worker claimed longer ago than the threshold ' +
    'and whose execution_result never finished them, oldest first, each with the matching result ' +
    'idempotency key (<task_id>#<attempt>#execution_result) if the control plane stored one, the worker ' +
    'that claimed it, and the command to trace. Reads the task store in the lifecycle table, as runlane trace reads it.',
  '',
  'What next, per the runbook: RESULT KEY present → the result arrived but could not finish the task ' +
    "(another worker or attempt sent it; see the task's command with runlane trace). None → the result " +
    "never arrived: check that the worker's result submission succeeds and look in its offline spool " +
    '(npm run agent -- worker status --config <its config>).',
].join('\n');

/** `runlane tasks stuck`: delegated tasks executing past a threshold. */
export function addTasksCommands(program: Command, { exit }: ProgramContext): void {
  const tasks = commandGroup(program, 'tasks', "The workers' delegated tasks.").summary(
    'delegated tasks executing past a threshold, with their result key if one arrived',
  );
  const stuck = tasks
    .command('stuck')
    .summary('delegated tasks executing past a threshold, with their result key if one arrived')
    .description(STUCK)
    .addOption(apiUrlOption('the local stack (npm start)'))
    .addOption(envOption())
    .addOption(
      new Option(
        '--minutes <n>',
        "executing for longer than n minutes is stuck (default: the local stack's " +
          "WORKER_STUCK_TASK_MINUTES, or the environment's workers.stuckTaskMinutes in cdk.json, else " +
          `${DEFAULT_STUCK_TASK_MINUTES}); fractions allowed`,
      ).argParser(minutes),
    )
    .addOption(jsonOption('JSON instead of a table'));
  exitCodes(stuck, { 0: 'no task is stuck', 1: 'at least one is (or the store could not be read)' });
  stuck.action(runs(exit, async (options) => (await import('../commands/tasks.js')).runTasksStuck(options)));
}

/** Minutes above 0, at most a week. */
function minutes(value: string): number {
  const n = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || !(n > 0) || n > 7 * 24 * 60) {
    throw new InvalidArgumentError('Expected a number of minutes above 0, at most a week.');
  }
  return n;
}
