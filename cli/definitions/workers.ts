import { Argument, type Command, InvalidArgumentError, Option } from '@commander-js/extra-typings';
import { workerIdSchema, workerSiteSchema } from '#contracts/worker-contract.js';
import { ENVIRONMENT_NAMES } from '#lib/config/environment-config.js';
import { exitCodes } from '../help.js';
import { apiUrlOption, checkedBy, envOption, jsonOption } from '../options.js';
import { commandGroup, type ProgramContext, runs } from './context.js';

const ENV_DESCRIPTION =
  'a deployed environment: the ApiUrl output of stack Runlane-<env>, requests SigV4-signed ' +
  "(execute-api) with the SDK's default credentials, region from cdk.json";
const API_FAILED = 'the API could not be reached or failed';

/** `runlane workers health | metrics | delegation [on|off] | config`: seed 004's worker triage. */
export function addWorkersCommands(program: Command, context: ProgramContext): void {
  const workers = commandGroup(
    program,
    'workers',
    "Seed 004's worker triage, through the control plane's API (/api/workers/*).",
  ).summary(
    "worker registry, queue depth and task figures; switch worker delegation; a worker host's config file",
  );
  addHealth(workers, context);
  addMetrics(workers, context);
  addDelegation(workers, context);
  addConfig(workers, context);
  addCredentials(workers, context);
}

function addHealth(workers: Command, { exit }: ProgramContext): void {
  const health = workers
    .command('health')
    .summary('every worker with its heartbeat, the queue depth, delegation; exit 1 when one is offline')
    .description(
      'Every worker with online/offline, last_seen and heartbeat age, tasks executing and the offline ' +
        "backlog it reports; the queue depth of each site's task lane; whether delegation is on " +
        '(GET /api/workers/health).',
    )
    .addOption(apiUrlOption())
    .addOption(envOption(ENV_DESCRIPTION))
    .addOption(jsonOption("the endpoint's JSON instead of a table"));
  exitCodes(health, { 0: 'no worker is offline', 1: `a worker is offline (or ${API_FAILED})` });
  health.action(
    runs(exit, async (options) => (await import('../commands/workers/health.js')).runWorkersHealth(options)),
  );
}

function addMetrics(workers: Command, { exit }: ProgramContext): void {
  const metrics = workers
    .command('metrics')
    .summary('queue depth, task failures and latency, heartbeat freshness, backlog, stuck tasks')
    .description(
      'Queue depth, task failure count, average task latency, heartbeat freshness and offline backlog ' +
        'per worker, and the tasks stuck in executing (GET /api/workers/metrics).',
    )
    .addOption(apiUrlOption())
    .addOption(envOption(ENV_DESCRIPTION))
    .addOption(jsonOption("the endpoint's JSON instead of a table"));
  exitCodes(metrics, { 0: 'success', 1: API_FAILED });
  metrics.action(
    runs(exit, async (options) =>
      (await import('../commands/workers/metrics.js')).runWorkersMetrics(options),
    ),
  );
}

function addDelegation(workers: Command, { exit }: ProgramContext): void {
  const delegation = workers
    .command('delegation')
    .summary(
      'on|off switches worker delegation, refused with 409 no_worker_online while no worker is online; ' +
        'without an argument, whether it is on',
    )
    .description(
      'Without an argument: whether worker delegation is on; on|off switches it ' +
        '(PUT /api/workers/delegation). The control plane refuses "on" while no worker is online ' +
        '(409 no_worker_online, seed 004: "set delegation only after at least one worker is ' +
        'online"): exit 1, the flag stays as it was.',
    )
    .addArgument(new Argument('[state]', 'switch delegation on or off').choices(['on', 'off'] as const))
    .addOption(
      new Option(
        '--changed-by <name>',
        "on|off: a note for the control plane's log (default cli:<user>); the flag records your IAM principal as who switched it",
      ),
    )
    .addOption(apiUrlOption())
    .addOption(envOption(ENV_DESCRIPTION))
    .addOption(jsonOption("the endpoint's JSON instead of a line"));
  exitCodes(delegation, { 0: 'success', 1: `the switch was refused, no_worker_online (or ${API_FAILED})` });
  delegation.action(
    runs(exit, async (state, options) =>
      (await import('../commands/workers/delegation.js')).runWorkersDelegation(state, options),
    ),
  );
}

function addConfig(workers: Command, { exit, dependencies }: ProgramContext): void {
  const config = workers
    .command('config')
    .summary("a worker host's config file from a deployed stack's outputs")
    .description(
      "The worker's config file (runlane-agent worker --config <file>) from the outputs of stack " +
        'Runlane-<env>: taskQueueUrl = WorkerTaskQueueUrl<Site>, apiUrl = ApiUrl, region from cdk.json, ' +
        'environment, site, workerId; every other field keeps its default (add scripts and plugins ' +
        'yourself, see config/worker.example.json). Validated as the agent validates it, then printed ' +
        'on stdout, or written to --out (mode 0600; an existing file only with --force). Needs --env: ' +
        'a worker of the local stack takes its settings from the environment variables the banner of ' +
        'npm start prints, no file.',
    )
    .addOption(
      envOption(`the deployed environment (${ENVIRONMENT_NAMES.join(', ')}) whose stack outputs to read`),
    )
    .addOption(
      new Option('--site <site>', "the worker's site, one of workers.sites of <env> in cdk.json")
        .makeOptionMandatory()
        .argParser(checkedBy(workerSiteSchema)),
    )
    .addOption(
      new Option('--worker-id <id>', 'the worker\'s id (1-64 of A-Z, a-z, 0-9, ".", "_", "-")')
        .makeOptionMandatory()
        .argParser(checkedBy(workerIdSchema)),
    )
    .addOption(new Option('--out <file>', 'write the file there instead of printing it').argParser(fileName))
    .addOption(new Option('--force', 'overwrite an existing --out file'))
    .addOption(jsonOption('{stackName, region, file, outputs, config} on stdout'));
  exitCodes(config, {
    0: 'the config was printed or written',
    1: 'the stack could not be read or lacks an output, the config does not validate or --out exists',
  });
  config.action(
    runs(exit, async (options) =>
      (await import('../commands/workers/config.js')).runWorkersConfig(options, dependencies),
    ),
  );
}

function addCredentials(workers: Command, { exit }: ProgramContext): void {
  const credentials = workers
    .command('credentials')
    .summary("a local worker host's AWS credentials, as shell exports")
    .description(
      "The AWS credentials a worker host of the local stack signs its API requests with: its site's " +
        'worker role with the worker id as session name (the local gateway sees the caller ' +
        'arn:aws:sts::000000000000:assumed-role/runlane-local-worker-<site>/<worker-id>), created in the ' +
        "stack's auth folder the first time they are asked for. Printed as export lines for eval " +
        '(eval "$(npx runlane workers credentials --site lab --worker-id lab-1)"). A deployed host gets ' +
        'its credentials by assuming runlane-<env>-worker-<site> with role session name = its worker id.',
    )
    .addOption(
      new Option('--site <site>', "the worker's site")
        .makeOptionMandatory()
        .argParser(checkedBy(workerSiteSchema)),
    )
    .addOption(
      new Option('--worker-id <id>', "the worker's id, its config's workerId")
        .makeOptionMandatory()
        .argParser(checkedBy(workerIdSchema)),
    )
    .addOption(apiUrlOption())
    .addOption(jsonOption('{ accessKeyId, secretAccessKey, arn } on stdout'));
  exitCodes(credentials, {
    0: 'the credentials were printed',
    1: 'no local stack answers, or its auth folder cannot be used',
  });
  credentials.action(
    runs(exit, async (options) =>
      (await import('../commands/workers/credentials.js')).runWorkersCredentials(options),
    ),
  );
}

function fileName(value: string): string {
  if (value.trim() === '') throw new InvalidArgumentError('Expected a file name.');
  return value;
}
