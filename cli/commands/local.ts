import { loadRunlaneConfig } from '#lib/config/cdk-json.js';
import type { EnvironmentConfig } from '#lib/config/environment-config.js';
import type { LocalStack, LocalStackInfo } from '#local/stack/start-local-stack.js';

/** The options of `runlane local` (cli/definitions/local.ts). */
export interface LocalOptions {
  readonly port: number;
  readonly dynamoPort: number;
  readonly sqsPort: number;
  readonly eventsPort: number;
  readonly dataDir: string;
  readonly ephemeral?: boolean | undefined;
  readonly reset?: boolean | undefined;
  readonly visibilityTimeout: number;
  readonly sweepInterval: number;
  readonly supervisorCheckInterval: number;
  readonly workerSites?: readonly string[] | undefined;
  readonly workerSweepInterval: number;
  readonly workerDelegation?: boolean | undefined;
  readonly pretty?: boolean | undefined;
  readonly json?: boolean | undefined;
}

/** The dev environment of cdk.json: what the local stack emulates. */
export function devConfig(): EnvironmentConfig {
  return loadRunlaneConfig().environments.dev;
}

/**
 * `runlane local`: starts the local stack, prints where everything is, and runs until SIGINT or
 * SIGTERM; a second signal exits at once.
 */
export async function runLocal(options: LocalOptions): Promise<number> {
  const { startLocalStack, LOCAL_SDK_ENVIRONMENT } = await import('#local/stack/start-local-stack.js');
  const stack = await startLocalStack({
    config: devConfig(),
    apiPort: options.port,
    dynamoPort: options.dynamoPort,
    sqsPort: options.sqsPort,
    eventsPort: options.eventsPort,
    dataDir: options.ephemeral ? undefined : options.dataDir,
    reset: options.reset === true,
    visibilityTimeoutSeconds: options.visibilityTimeout,
    sweepIntervalMinutes: options.sweepInterval,
    silentHostsCheckIntervalMinutes: options.supervisorCheckInterval,
    workerSweepIntervalMinutes: options.workerSweepInterval,
    workers: {
      ...(options.workerSites === undefined ? {} : { sites: [...options.workerSites] }),
      ...(options.workerDelegation ? { delegationEnabled: true } : {}),
    },
    pretty: options.pretty === true,
  });
  console.error(banner(stack, LOCAL_SDK_ENVIRONMENT(stack.info)));
  if (options.json) console.log(JSON.stringify({ ready: true, ...stack.info, startupMs: stack.startupMs }));
  return await stopOnSignal(stack);
}

/** Where everything is, on stderr once the stack is up. */
function banner(stack: LocalStack, sdk: Readonly<Record<string, string>>): string {
  const { info } = stack;
  return [
    `Runlane local stack is up (${(stack.startupMs / 1000).toFixed(1)} s)`,
    `  API          ${info.apiUrl}/api/v1/...   household routes take a token (npx runlane token --household <id>),`,
    '               operator and worker routes SigV4 with local credentials (npx runlane api GET /api/v1/runs/<runId>)',
    `  Auth         ${info.authDir}   (JWT signing key and local credentials, yours only)`,
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
    `                 <SDK / agent variables above> && eval "$(npx runlane workers credentials --site ${firstSite} --worker-id ${firstSite}-1)" &&`,
    `                 WORKER_DEFAULT_ID=${firstSite}-1 WORKER_SITE_NAME=${firstSite} RUNLANE_WORKER_QUEUE_URL=${firstLane?.queueUrl ?? '<site queue url>'} ` +
      `RUNLANE_API_URL=${info.apiUrl} npm run agent -- worker --config worker.json`,
    '               then: npx runlane workers health | metrics,  npx runlane tasks stuck',
  ];
}

/** Runs until SIGINT or SIGTERM, then stops the stack: 0 when it stopped, 1 when stopping failed. */
function stopOnSignal(stack: LocalStack): Promise<number> {
  return new Promise<number>((resolve) => {
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
