import { type Command, InvalidArgumentError, Option } from '@commander-js/extra-typings';
import { SILENT_HOSTS_CHECK_INTERVAL_MINUTES } from '#core/supervisor/silent-hosts.js';
import { exitCodes } from '../help.js';
import { jsonOption, numberAtLeast, portNumber } from '../options.js';
import { namedErrors, type ProgramContext, runs } from './context.js';

/** `runlane local`: the whole system on this machine (`npm start`). */
export function addLocalCommand(program: Command, { exit }: ProgramContext): void {
  const command = namedErrors(program.command('local'))
    .summary('run the whole system on this machine (npm start)')
    .description(
      'DynamoDB Local, the SQS emulator, a PutEvents endpoint, one poller per lane and the API on ' +
        '127.0.0.1, with the same handler code as Lambda. Ctrl-C finishes the batches in flight and stops.',
    )
    .addOption(
      new Option('--port <n>', 'API port').env('RUNLANE_API_PORT').default(3000).argParser(portNumber),
    )
    .addOption(
      new Option('--dynamo-port <n>', 'DynamoDB Local port')
        .env('RUNLANE_DYNAMODB_PORT')
        .default(8000)
        .argParser(portNumber),
    )
    .addOption(
      new Option('--sqs-port <n>', 'SQS emulator port')
        .env('RUNLANE_SQS_PORT')
        .default(4566)
        .argParser(portNumber),
    )
    .addOption(
      new Option('--events-port <n>', 'EventBridge PutEvents port')
        .env('RUNLANE_EVENTS_PORT')
        .default(4010)
        .argParser(portNumber),
    )
    .addOption(
      new Option('--data-dir <dir>', 'where data persists').env('RUNLANE_DATA_DIR').default('.runlane'),
    )
    .addOption(new Option('--ephemeral', 'keep everything in memory').conflicts(['dataDir', 'reset']))
    .addOption(new Option('--reset', 'delete the data folder first'))
    .addOption(
      new Option(
        '--visibility-timeout <s>',
        'lane visibility timeout, seconds (AWS uses 6 × timeout + window)',
      )
        .default(5)
        .argParser(numberAtLeast(0)),
    )
    .addOption(
      new Option('--sweep-interval <min>', 'enqueue anomaly.sweep every N minutes, 0 = only on demand')
        .default(1440)
        .argParser(numberAtLeast(0)),
    )
    .addOption(
      new Option(
        '--supervisor-check-interval <min>',
        'run the supervisor silent-host check (dev, staging, prod) every N minutes, 0 = off (as deployed)',
      )
        .default(SILENT_HOSTS_CHECK_INTERVAL_MINUTES)
        .argParser(numberAtLeast(0)),
    )
    .addOption(
      new Option(
        '--worker-sites <a,b>',
        "sites with a worker task lane (default: cdk.json's workers.sites of dev, else lab)",
      ).argParser(siteList),
    )
    .addOption(
      new Option(
        '--worker-sweep-interval <min>',
        'run the worker sweep (offline workers, stuck tasks, backlog) every N minutes, 0 = off ' +
          '(as deployed; on demand: POST /_local/worker-sweep)',
      )
        .default(5)
        .argParser(numberAtLeast(0)),
    )
    .addOption(
      new Option(
        '--worker-delegation',
        "start with worker delegation on (WORKER_DELEGATION_ENABLED=true; default: cdk.json's " +
          'workers.delegationEnabled, else off); at runtime: npx runlane workers delegation on|off',
      ),
    )
    .addOption(new Option('--pretty', 'render logs for people instead of JSON lines'))
    .addOption(jsonOption('print one JSON line with the endpoints when ready'));
  exitCodes(command, { 0: 'stopped on Ctrl-C', 1: 'the stack could not start (or stop)' });
  command.action(runs(exit, async (options) => (await import('../commands/local.js')).runLocal(options)));
}

/** `--worker-sites lab,edge`: at least one site. */
function siteList(value: string): string[] {
  const sites = value
    .split(',')
    .map((site) => site.trim())
    .filter((site) => site !== '');
  if (sites.length === 0)
    throw new InvalidArgumentError('Expected at least one site, e.g. --worker-sites lab,edge.');
  return sites;
}
