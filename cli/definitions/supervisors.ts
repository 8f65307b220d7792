import { type Command, Option } from '@commander-js/extra-typings';
import { MAX_STALE_MINUTES } from '#core/supervisor/silent-hosts.js';
import { exitCodes } from '../help.js';
import { apiUrlOption, jsonOption, WHERE, wholeNumber } from '../options.js';
import { commandGroup, type ProgramContext, runs } from './context.js';

const HEALTH = [
  "Each supervisor host's latest SupervisorHealth report as the control plane keeps it (one per host), " +
    'and which hosts went silent: the same rule as the scheduled check behind the SupervisorSilentHosts alarm.',
  '',
  'Columns: HOST, STATUS, DASHBOARD_LINK, children RUNNING / FAILED / QUARANTINED / TARGET, LAST SEEN ' +
    '(the report\'s ts), AGE, and SILENT — no report for more than --stale-minutes — or "stopped": the last ' +
    'report said stopping (a planned shutdown), which is not counted as silent.',
].join('\n');

/** `runlane supervisors health`: the supervisors' latest health reports and the silent hosts. */
export function addSupervisorsCommands(program: Command, { exit }: ProgramContext): void {
  const supervisors = commandGroup(program, 'supervisors', "The supervisor hosts' health.").summary(
    "each supervisor host's latest health report; exit 1 when a host is silent",
  );
  const health = supervisors
    .command('health')
    .summary("each supervisor host's latest health report; exit 1 when a host is silent")
    .description(HEALTH)
    .addOption(
      new Option(
        '--env <env>',
        'the environment: dev, staging or prod, read from the lifecycle table of stack Runlane-<env> ' +
          '(found through its outputs; AWS credentials, region from cdk.json)',
      )
        .makeOptionMandatory()
        .helpGroup(WHERE),
    )
    .addOption(
      new Option(
        '--local',
        "the local stack's store instead (npm start); --env is then the environment the agents report under (any name)",
      ).helpGroup(WHERE),
    )
    .addOption(
      new Option(
        '--stale-minutes <n>',
        `a host whose latest report is older than n minutes is SILENT (1-${MAX_STALE_MINUTES}; default: the ` +
          "environment's alarms.supervisor.silentHosts.staleMinutes in cdk.json — dev's with --local — 15 " +
          'unless configured)',
      ).argParser(wholeNumber(1, MAX_STALE_MINUTES)),
    )
    .addOption(jsonOption('JSON instead of a table'))
    .addOption(apiUrlOption('the local stack, with --local'));
  exitCodes(health, {
    0: 'no host is silent (no host at all included)',
    1: 'at least one host is silent (or the store could not be read)',
  });
  health.action(
    runs(exit, async (options) => (await import('../commands/supervisors.js')).runSupervisorsHealth(options)),
  );
}
