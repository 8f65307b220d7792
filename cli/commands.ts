import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { isSubcommand } from '#common/command-line.js';
import { SILENT_HOSTS_CHECK_INTERVAL_MINUTES } from '#core/supervisor/silent-hosts.js';
import { loadRunlaneConfig } from '#lib/config/cdk-json.js';
import type { EnvironmentConfig } from '#lib/config/environment-config.js';
import type { LocalStackInfo } from '#local/stack/start-local-stack.js';
import { DEMO_SPEC, LOCAL_SPEC, RUNLANE_CLI, SWEEP_SPEC } from './cli-spec.js';

const HELP = `runlane — Runlane's command line

Usage:
  runlane local [options]   run the whole system on this machine (npm start)
  runlane demo [options]    send a scripted mix of commands and print how each ended (npm run demo)
  runlane sweep [options]   enqueue an anomaly sweep on the local stack now
  runlane trace <id>        one command's timeline (local stack or --env <name>)
  runlane dlq list|show     dead letters with their reasons, peeked without consuming them
  runlane replay --lane L   replay a lane's dead letters after a fix, verified, with evidence
  runlane gate              run seed 003's four release-gate scenarios and write evidence/<timestamp>/
  runlane report daily      seed 002's success criteria over the last 24 h, breakdowns and an HTML report
  runlane stalls tail|by    the runner's latest stalls, or counts by root cause, environment, host, command type
  runlane supervisors health  each supervisor host's latest health report; exit 1 when a host is silent
  runlane workers health|metrics|delegation|config
                            worker registry, queue depth and task figures; switch worker delegation;
                            a worker host's config file from a deployed stack's outputs
  runlane tasks stuck       delegated tasks executing past a threshold, with their result key if one arrived
  runlane --help | --version

Run \`runlane <command> --help\` for a command's options.
Exit codes: 0 success, 1 failure, 2 bad usage.`;

const LOCAL_HELP = `runlane local — DynamoDB Local, the SQS emulator, a PutEvents endpoint, one poller per
lane and the API on 127.0.0.1, with the same handler code as Lambda.

Options (environment variable in brackets):
  --port <n>                 API port [RUNLANE_API_PORT] (default 3000)
  --dynamo-port <n>          DynamoDB Local port [RUNLANE_DYNAMODB_PORT] (default 8000)
  --sqs-port <n>             SQS emulator port [RUNLANE_SQS_PORT] (default 4566)
  --events-port <n>          EventBridge PutEvents port [RUNLANE_EVENTS_PORT] (default 4010)
  --data-dir <dir>           where data persists [RUNLANE_DATA_DIR] (default .runlane)
  --ephemeral                keep everything in memory
  --reset                    delete the data folder first
  --visibility-timeout <s>   lane visibility timeout, seconds (default 5; AWS uses 6 × timeout + window)
  --sweep-interval <min>     enqueue anomaly.sweep every N minutes, 0 = only on demand (default 1440)
  --supervisor-check-interval <min>
                             run the supervisor silent-host check (dev, staging, prod) every N minutes,
                             0 = off (default 5, as deployed)
  --worker-sites <a,b>       sites with a worker task lane (default: cdk.json's workers.sites of dev, else lab)
  --worker-sweep-interval <min>
                             run the worker sweep (offline workers, stuck tasks, backlog) every N
                             minutes, 0 = off (default 5, as deployed; on demand: POST /_local/worker-sweep)
  --worker-delegation        start with worker delegation on (WORKER_DELEGATION_ENABLED=true; default:
                             cdk.json's workers.delegationEnabled, else off); at runtime:
                             npx runlane workers delegation on|off
  --pretty                   render logs for people instead of JSON lines
  --json                     print one JSON line with the endpoints when ready
  --help`;

const DEMO_HELP = `runlane demo — sends good commands, a duplicate commandId, invalid JSON, an invalid
envelope, an unsupported type, a handler that fails twice then succeeds, and a high-impact
proposal with its approval; then prints each command's final state (read back from the API),
the dead-letter queues and the review queue.

Options:
  --api-url <url>   a running local stack (default http://127.0.0.1:3000)
  --start           start an ephemeral local stack for the demo if none answers
  --timeout <s>     how long to wait for commands to finish (default 120)
  --json            print the results as JSON
  --help`;

const SWEEP_HELP = `runlane sweep — enqueue an anomaly.sweep on a running local stack now.

Options:
  --api-url <url>   (default http://127.0.0.1:3000)
  --help`;

/**
 * What runs each command of {@link RUNLANE_CLI}, one entry per subcommand of the spec (checked
 * by the compiler). The command modules load only when their command runs.
 */
const COMMANDS = {
  local: (argv) => runLocal(argv),
  demo: (argv) => runDemoCommand(argv),
  sweep: (argv) => runSweep(argv),
  dlq: async (argv) => (await import('./commands/replay.js')).runDlq(argv),
  replay: async (argv) => (await import('./commands/replay.js')).runReplay(argv),
  gate: async (argv) => (await import('./commands/gate.js')).runGate(argv),
  trace: async (argv) => (await import('./commands/trace.js')).runTrace(argv),
  report: async (argv) => (await import('./commands/report.js')).runReport(argv),
  stalls: async (argv) => (await import('./commands/stalls.js')).runStalls(argv),
  supervisors: async (argv) => (await import('./commands/supervisors.js')).runSupervisors(argv),
  workers: async (argv) => (await import('./commands/workers.js')).runWorkers(argv),
  tasks: async (argv) => (await import('./commands/tasks.js')).runTasks(argv),
} satisfies Record<keyof typeof RUNLANE_CLI.subcommands, (argv: readonly string[]) => Promise<number>>;

/** Thrown for a command line the CLI cannot run; exit code 2. */
export class UsageError extends Error {
  public constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export async function runCli(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        console.log(HELP);
        return command === undefined ? 2 : 0;
      case '--version':
        console.log(JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version);
        return 0;
    }
    if (!isSubcommand(RUNLANE_CLI, command)) throw new UsageError(`unknown command "${command}"`);
    return await COMMANDS[command](rest);
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`runlane: ${(error as Error).message}\n\n${HELP}`);
      return 2;
    }
    console.error(`runlane: ${(error as Error).message}`);
    return 1;
  }
}

function devConfig(): EnvironmentConfig {
  return loadRunlaneConfig().environments.dev;
}

function portOption(value: string | undefined, envName: string, fallback: number, flag: string): number {
  const raw = value ?? process.env[envName];
  if (raw === undefined) return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new UsageError(`${flag} (or ${envName}) must be a port number 0-65535, got "${raw}"`);
  }
  return port;
}

function numberOption(value: string | undefined, flag: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min)
    throw new UsageError(`${flag} must be a number ≥ ${min}, got "${value}"`);
  return n;
}

async function runLocal(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: LOCAL_SPEC.options,
    strict: true,
  });
  if (values.help) {
    console.log(LOCAL_HELP);
    return 0;
  }
  if (values.ephemeral && (values['data-dir'] || values.reset)) {
    throw new UsageError('--ephemeral keeps no data folder; drop --data-dir/--reset');
  }
  const { startLocalStack, LOCAL_SDK_ENVIRONMENT } = await import('#local/stack/start-local-stack.js');
  const stack = await startLocalStack({
    config: devConfig(),
    apiPort: portOption(values.port, 'RUNLANE_API_PORT', 3000, '--port'),
    dynamoPort: portOption(values['dynamo-port'], 'RUNLANE_DYNAMODB_PORT', 8000, '--dynamo-port'),
    sqsPort: portOption(values['sqs-port'], 'RUNLANE_SQS_PORT', 4566, '--sqs-port'),
    eventsPort: portOption(values['events-port'], 'RUNLANE_EVENTS_PORT', 4010, '--events-port'),
    dataDir: values.ephemeral
      ? undefined
      : (values['data-dir'] ?? process.env.RUNLANE_DATA_DIR ?? '.runlane'),
    reset: values.reset,
    visibilityTimeoutSeconds: numberOption(values['visibility-timeout'], '--visibility-timeout', 5, 0),
    sweepIntervalMinutes: numberOption(values['sweep-interval'], '--sweep-interval', 1440, 0),
    silentHostsCheckIntervalMinutes: numberOption(
      values['supervisor-check-interval'],
      '--supervisor-check-interval',
      SILENT_HOSTS_CHECK_INTERVAL_MINUTES,
      0,
    ),
    workerSweepIntervalMinutes: numberOption(
      values['worker-sweep-interval'],
      '--worker-sweep-interval',
      5,
      0,
    ),
    workers: {
      ...(values['worker-sites'] === undefined ? {} : { sites: siteList(values['worker-sites']) }),
      ...(values['worker-delegation'] ? { delegationEnabled: true } : {}),
    },
    pretty: values.pretty,
  });
  const { info } = stack;
  const sdk = LOCAL_SDK_ENVIRONMENT(info);
  const banner = [
    `Runlane local stack is up (${(stack.startupMs / 1000).toFixed(1)} s)`,
    `  API          ${info.apiUrl}/api/v1/...   (IAM auth is not emulated)`,
    `  DynamoDB     ${info.dynamoEndpoint}   table ${info.tableName}`,
    `  SQS          ${info.sqsEndpoint}   queues ${Object.values(info.lanes)
      .map((q) => q.queueName)
      .join(', ')} (+ -dlq)`,
    `  EventBridge  ${info.eventsEndpoint}   bus ${info.busName}`,
    '  SDK / agent  export ' +
      Object.entries(sdk)
        .map(([k, v]) => `${k}=${v}`)
        .join(' '),
    `  Data         ${info.dataDir ?? 'in memory (--ephemeral)'}${info.dataDir ? '   (persists; --reset clears it)' : ''}`,
    `  Sweep        POST ${info.apiUrl}/_local/sweep  or  npx runlane sweep`,
    '  Supervisors  npx runlane supervisors health --env dev --local',
    ...workerBanner(info),
    '  Try          npm run demo',
    '  Stop         Ctrl-C',
  ].join('\n');
  console.error(banner);
  if (values.json) console.log(JSON.stringify({ ready: true, ...info, startupMs: stack.startupMs }));

  return await new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals += 1;
      if (signals > 1) {
        console.error(`runlane: ${signal} again, exiting without waiting`);
        process.exit(1);
      }
      console.error(`runlane: ${signal} received, finishing in-flight batches and stopping…`);
      stack.stop().then(
        () => {
          console.error('runlane: stopped');
          resolve(0);
        },
        (error: unknown) => {
          console.error(`runlane: stop failed: ${String(error)}`);
          resolve(1);
        },
      );
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

function siteList(value: string): string[] {
  const sites = value
    .split(',')
    .map((site) => site.trim())
    .filter((site) => site !== '');
  if (sites.length === 0)
    throw new UsageError('--worker-sites needs at least one site, e.g. --worker-sites lab,edge');
  return sites;
}

/** The banner's worker lines: each site's task lane, the delegation default and how to start a worker. */
function workerBanner(info: LocalStackInfo): string[] {
  const { workers } = info;
  const sites = Object.entries(workers.sites);
  const [firstSite, firstLane] = sites[0] ?? ['lab', undefined];
  return [
    `  Workers      environment ${workers.environment}, delegation ${workers.delegationEnabledDefault ? 'on' : 'off'} ` +
      `(WORKER_DELEGATION_ENABLED=${workers.delegationEnabledDefault}; switch: npx runlane workers delegation on|off)`,
    ...sites.map(([site, lane]) => `               site ${site}   ${lane.queueUrl} (+ -dlq)`),
    `               start one: echo '{"environment":"${workers.environment}","plugins":["echo"]}' > worker.json &&`,
    `                 WORKER_SITE_NAME=${firstSite} RUNLANE_WORKER_QUEUE_URL=${firstLane?.queueUrl ?? '<site queue url>'} ` +
      `RUNLANE_API_URL=${info.apiUrl} <SDK / agent variables above> npm run agent -- worker --config worker.json`,
    '               then: npx runlane workers health | metrics,  npx runlane tasks stuck',
  ];
}

async function runDemoCommand(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: DEMO_SPEC.options,
    strict: true,
  });
  if (values.help) {
    console.log(DEMO_HELP);
    return 0;
  }
  const { runDemo, printDemoReport } = await import('#local/demo/demo.js');
  const timeoutMs = numberOption(values.timeout, '--timeout', 120, 1) * 1000;
  let apiUrl = values['api-url'];
  let stop: (() => Promise<void>) | undefined;
  if (!(await answers(apiUrl))) {
    if (!values.start) {
      console.error(
        `runlane demo: no local stack answers at ${apiUrl}. Start one with \`npm start\` in another terminal, or pass --start.`,
      );
      return 1;
    }
    const { startLocalStack } = await import('#local/stack/start-local-stack.js');
    console.error('runlane demo: starting an ephemeral local stack…');
    const stack = await startLocalStack({
      config: devConfig(),
      apiPort: 0,
      dynamoPort: 0,
      sqsPort: 0,
      eventsPort: 0,
      dataDir: undefined,
      visibilityTimeoutSeconds: 2,
      sweepIntervalMinutes: 0,
      pretty: false,
    });
    apiUrl = stack.info.apiUrl;
    stop = () => stack.stop();
  }
  try {
    const report = await runDemo({
      apiUrl,
      timeoutMs,
      progress: values.json ? () => undefined : (line) => console.error(line),
    });
    if (values.json) console.log(JSON.stringify(report, null, 2));
    else printDemoReport(report, (line) => console.log(line));
    return report.allAsExpected ? 0 : 1;
  } finally {
    await stop?.();
  }
}

async function runSweep(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: SWEEP_SPEC.options,
    strict: true,
  });
  if (values.help) {
    console.log(SWEEP_HELP);
    return 0;
  }
  const response = await fetch(`${values['api-url']}/_local/sweep`, { method: 'POST' }).catch(
    () => undefined,
  );
  if (!response?.ok) {
    console.error(`runlane sweep: no local stack answers at ${values['api-url']} (start one with npm start)`);
    return 1;
  }
  console.log(JSON.stringify(await response.json()));
  return 0;
}

async function answers(apiUrl: string): Promise<boolean> {
  try {
    const response = await fetch(`${apiUrl}/_local/info`, { signal: AbortSignal.timeout(2000) });
    return response.ok;
  } catch {
    return false;
  }
}
